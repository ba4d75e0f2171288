"""An experiment's parameters from ``--name value`` pairs on the command line.

Parameters are the fields of the experiment's frozen parameter class, in
article seconds; their types come from its annotations. Tuples are written
comma-separated (``--gaps 5,15,35``), booleans as ``true``/``false``, enums by
value (``--routing round_robin``). The class checks its own values; any
refusal becomes a one-line :class:`~keepalive_lab.cli.args.UsageError`.
"""

from __future__ import annotations

import dataclasses
import math
import typing

from keepalive_lab.cli.args import UsageError

__all__ = ["parse_params", "parse_value"]


def parse_value(kind, text: str):
    """``text`` as a value of the annotated type ``kind``; ValueError when it is not one."""
    origin = typing.get_origin(kind)
    if origin is tuple:
        (inner, _) = typing.get_args(kind)
        return tuple(parse_value(inner, part) for part in text.split(",") if part.strip())
    if kind is bool:
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if kind is int:
        if not (text.isascii() and text.lstrip("-").isdigit()):
            raise ValueError(f"not an integer: {text!r}")
        return int(text)
    if kind is float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {text!r}")
        return value
    return kind(text)


def parse_params(name: str, params: type, tokens: list[str]):
    """Build ``params`` (a dataclass) from ``--field value`` tokens."""
    hints = typing.get_type_hints(params)
    fields = {f.name.replace("_", "-"): f.name for f in dataclasses.fields(params)}
    changes = {}
    if len(tokens) % 2:
        raise UsageError(f"{name}: parameters come in --name value pairs, got {' '.join(tokens)!r}")
    for flag, text in zip(tokens[::2], tokens[1::2]):
        key = flag[2:] if flag.startswith("--") else ""
        if key not in fields:
            have = ", ".join("--" + k for k in fields) or "none"
            raise UsageError(f"{name} has no parameter {flag!r}; its parameters: {have}")
        try:
            changes[fields[key]] = parse_value(hints[fields[key]], text)
        except (TypeError, ValueError, OverflowError) as exc:
            raise UsageError(f"{flag}: {exc}") from None
    try:
        return params(**changes)
    except (ValueError, OverflowError) as exc:  # the parameter class checks its own values
        raise UsageError(f"{name}: {exc}") from None
