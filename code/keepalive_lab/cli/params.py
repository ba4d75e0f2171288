"""An experiment's parameters from ``--name value`` pairs on the command line.

Parameters are the fields of the experiment's frozen parameter class, in
article seconds; their types come from its annotations. Tuples are written
comma-separated (``--gaps 5,15,35``), booleans as ``true``/``false``, enums by
value (``--routing round_robin``). The class checks its own values; any
refusal becomes a one-line :class:`~keepalive_lab.cli.args.UsageError`.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing

from keepalive_lab.cli.args import UsageError, finite_float, go_int

__all__ = ["parse_params", "parse_value"]


def parse_value(kind, text: str):
    """``text`` as a value of the annotated type ``kind``; ValueError when it is not one."""
    origin = typing.get_origin(kind)
    if origin is tuple:
        (inner, _) = typing.get_args(kind)
        return tuple(parse_value(inner, part.strip()) for part in text.split(",") if part.strip())
    if kind is bool:
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if kind is int:  # counts and seeds: never negative
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError(f"not an integer: {text!r}")
        value = go_int(text)
        if value is None:
            raise ValueError(f"value out of range: {text}")
        if value < 0:
            raise ValueError(f"must be >= 0: {text}")
        return value
    if kind is float:
        try:
            return finite_float(text)
        except argparse.ArgumentTypeError as exc:
            raise ValueError(str(exc)) from None
    return kind(text)


def parse_params(name: str, params: type, tokens: list[str]):
    """Build ``params`` (a dataclass) from ``--field value`` tokens."""
    hints = typing.get_type_hints(params)
    fields = {f.name.replace("_", "-"): f.name for f in dataclasses.fields(params)}
    changes = {}
    for flag, text in _pairs(name, tokens):
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


def _pairs(name: str, tokens: list[str]) -> list[tuple[str, str]]:
    """``--name value`` or ``--name=value``, one after the other."""
    pairs, i = [], 0
    while i < len(tokens):
        flag = tokens[i]
        if flag.startswith("--") and "=" in flag:
            pairs.append(tuple(flag.split("=", 1)))
            i += 1
        elif i + 1 < len(tokens):
            pairs.append((flag, tokens[i + 1]))
            i += 2
        else:
            raise UsageError(f"{name}: parameters come in --name value pairs, got {' '.join(tokens)!r}")
    return pairs
