"""``python -m keepalive_lab list`` and ``python -m keepalive_lab run NAME [--param value ...]``.

``run`` shows a progress bar while the experiment runs (on a terminal; a
start and an end line otherwise), then the claims it checked. Exit status: 0
when every claim held, 1 when one did not, 2 on a bad command line.
Parameters are the fields of the experiment's parameter class, in article
seconds; tuples are written comma-separated (``--gaps 5,15,35``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
import typing

# The experiments (and pandas, matplotlib...) load only for `list` and `run`, so that `serve`
# starts quickly.

__all__ = ["add_commands", "run_command", "list_command"]

EXIT_OK, EXIT_CLAIM_FAILED = 0, 1


def add_commands(sub, usage_error: type[Exception]) -> None:
    sub.add_parser("list", help="list the experiments")
    run = sub.add_parser(
        "run",
        help="run one experiment: run NAME [--param value ...] [--json FILE]",
        epilog="Other --name value pairs set the experiment's parameters (see the experiment's docs).",
    )
    run.add_argument("name", help="an experiment from `list`")
    run.add_argument("--scale", type=float, default=20.0, help="article seconds per lab second (default 20)")
    run.add_argument("--json", metavar="FILE", help="write the result (parameters, claims, tables) as JSON")
    run.set_defaults(usage_error=usage_error)


def list_command(args) -> int:
    from .experiments import EXPERIMENTS

    width = max(len(name) for name in EXPERIMENTS)
    for exp in EXPERIMENTS.values():
        print(f"{exp.name:<{width}}  {exp.title}")
    return EXIT_OK


def _parse_value(kind, text: str):
    origin = typing.get_origin(kind)
    if origin is tuple:
        (inner, _) = typing.get_args(kind)
        return tuple(_parse_value(inner, part) for part in text.split(",") if part.strip())
    if kind is bool:
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    return kind(text)


def parse_params(exp, tokens: list[str], usage_error: type[Exception]):
    """Build the experiment's parameter object from ``--field value`` tokens."""
    hints = typing.get_type_hints(exp.params)
    fields = {f.name.replace("_", "-"): f.name for f in dataclasses.fields(exp.params)}
    changes = {}
    if len(tokens) % 2:
        raise usage_error(f"{exp.name}: parameters come in --name value pairs, got {' '.join(tokens)!r}")
    for flag, text in zip(tokens[::2], tokens[1::2]):
        key = flag[2:] if flag.startswith("--") else ""
        if key not in fields:
            raise usage_error(f"{exp.name} has no parameter {flag!r}; it has {', '.join('--' + k for k in fields)}")
        try:
            changes[fields[key]] = _parse_value(hints[fields[key]], text)
        except (TypeError, ValueError) as exc:
            raise usage_error(f"{flag}: {exc}") from None
    try:
        return exp.params(**changes)
    except ValueError as exc:  # the parameter class checks its own values
        raise usage_error(f"{exp.name}: {exc}") from None


class _Progress:
    """A progress bar on stderr, against the wall time the experiment is expected to need."""

    def __init__(self, name: str, expected: float) -> None:
        self.name = name
        self.expected = max(expected, 0.1)
        self.tty = sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._draw, daemon=True)

    def __enter__(self) -> "_Progress":
        self.start = time.monotonic()
        if self.tty:
            self._thread.start()
        else:
            print(f"running {self.name} (about {self.expected:.0f} s)...", file=sys.stderr, flush=True)
        return self

    def _draw(self) -> None:
        while not self._stop.wait(0.2):
            elapsed = time.monotonic() - self.start
            done = min(1.0, elapsed / self.expected)
            bar = "#" * int(30 * done) + "." * (30 - int(30 * done))
            print(f"\r{self.name} [{bar}] {elapsed:5.1f} s", end="", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.tty:
            self._thread.join(1.0)
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


def run_command(args) -> int:
    from .experiments import EXPERIMENTS
    from .timescale import TimeScale

    usage_error = args.usage_error
    exp = EXPERIMENTS.get(args.name)
    if exp is None:
        raise usage_error(f"no experiment {args.name!r}; try one of: {', '.join(EXPERIMENTS)}")
    if args.scale <= 0:
        raise usage_error("--scale must be positive")
    params = parse_params(exp, args.params, usage_error)
    scale = TimeScale(args.scale)
    try:
        out = open(args.json, "w", encoding="utf-8") if args.json else None  # fail before a long run
    except OSError as exc:
        raise usage_error(f"--json: {exc.strerror}: {args.json}") from None
    try:
        with _Progress(exp.name, 1.2 * exp.floor(params, scale) + 1):
            result = exp.run(params, scale)
        _print_summary(result)
        if out is not None:
            json.dump(result.to_json(), out, indent=1, default=str)
    finally:
        if out is not None:
            out.close()
    return EXIT_OK if result.all_held else EXIT_CLAIM_FAILED


def _print_summary(result) -> None:
    print(f"{result.name}: {result.wall_seconds:.1f} s wall, {result.scale.describe()}")
    for c in result.claims:
        mark = "held" if c.held else "FAILED"
        print(f"  [{mark:>6}] {c.text}\n           measured: {c.evidence}")
    held = sum(c.held for c in result.claims)
    print(f"{held}/{len(result.claims)} claims held")


def parameters_table():
    """Every experiment's parameters and defaults, as the appendix shows them."""
    import pandas as pd

    from .experiments import EXPERIMENTS

    rows = []
    for exp in EXPERIMENTS.values():
        for f in dataclasses.fields(exp.params):
            default = f.default if f.default is not dataclasses.MISSING else ""
            if isinstance(default, tuple):
                default = ",".join(f"{v:g}" if isinstance(v, float) else str(v).lower() for v in default)
            rows.append({"experiment": exp.name, "parameter": "--" + f.name.replace("_", "-"), "default": str(default)})
    return pd.DataFrame(rows)
