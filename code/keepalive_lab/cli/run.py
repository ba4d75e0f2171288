"""``list`` and ``run``: everything the book runs, from the command line.

Three kinds of runnable share one interface (:class:`Runnable`): the
experiments (their parameters are ``--name value`` pairs, in article
seconds, with ``--scale``), the real-load-balancer scenarios (each alone,
against HAProxy or nginx; without them the run is skipped, says so, and
exits 0), and the fidelity matrix (our server against the Go reference, or
its recording). ``run`` shows a progress bar, then each claim with what was
measured. Exit status: 0 when every claim held, 1 when one did not, 2 on a
bad command line.

The experiments (and pandas, matplotlib...) load only for ``list`` and
``run``, so that ``serve`` starts quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

from keepalive_lab.cli.args import EXIT_FAILED, EXIT_OK, UsageError, finite_float
from keepalive_lab.cli.params import parse_params
from keepalive_lab.cli.progress import Progress

__all__ = ["add_commands", "list_command", "run_command", "runnables", "Runnable"]

DEFAULT_SCALE_FACTOR = 20.0


@dataclass(frozen=True)
class Runnable:
    """Something ``run NAME`` can run: its kind, its parameters, and how long it takes at least."""

    name: str
    kind: str  # "experiment", "real load balancer", "fidelity"
    title: str
    run: Callable[[Any, Any], Any]  # (params, scale) -> a result with claims and require()
    params: type | None = None
    floor: Callable[[Any, Any], float] = lambda params, scale: 1.0
    needs: tuple[str, ...] = ()  # programs it cannot run without (skipped, exit 0, when missing)
    scaled: bool = False  # whether --scale applies


@dataclass(frozen=True)
class FidelityParams:
    """Which scenarios of the matrix to run (all by default), and how many at a time."""

    scenarios: tuple[str, ...] = ()
    jobs: int = 8

    def __post_init__(self) -> None:
        from keepalive_lab.fidelity.matrix import MATRIX

        if not 1 <= self.jobs <= 32:
            raise ValueError("jobs must be between 1 and 32")
        unknown = sorted(set(self.scenarios) - {s.name for s in MATRIX})
        if unknown:
            raise ValueError(f"no scenario {', '.join(map(repr, unknown))} in the fidelity matrix (`list` names them)")


def _run_fidelity(params: FidelityParams, scale) -> Any:
    from keepalive_lab.fidelity.matrix import MATRIX, scenario_named
    from keepalive_lab.fidelity.report import fidelity_report

    chosen = [scenario_named(n) for n in params.scenarios] or MATRIX
    return fidelity_report(scenarios=chosen, jobs=params.jobs).result()


def _run_reallb(key: str):
    def run(params, scale):
        from keepalive_lab.reallb.runner import run as run_scenarios

        return run_scenarios([key], parallel=1)

    return run


def runnables() -> dict[str, Runnable]:
    """Every experiment, real-load-balancer scenario and the fidelity matrix, by name."""
    from keepalive_lab.experiments import EXPERIMENTS
    from keepalive_lab.reallb.catalogue import SCENARIOS

    found: dict[str, Runnable] = {}
    for exp in EXPERIMENTS.values():
        found[exp.name] = Runnable(exp.name, "experiment", exp.title, exp.run, exp.params, exp.floor, scaled=True)
    from keepalive_lab.reallb.times import RealLBTimes

    for sc in SCENARIOS:
        floor = max(10.0, sc.estimate(RealLBTimes()))
        found[sc.key] = Runnable(sc.key, "real load balancer", f"{sc.title}: {sc.expected}", _run_reallb(sc.key),
                                 floor=lambda p, s, floor=floor: floor, needs=tuple(sc.kinds))  # fmt: skip
    found["fidelity"] = Runnable("fidelity", "fidelity", "our server against Go, scenario by scenario",
                                 _run_fidelity, FidelityParams, lambda p, s: 30.0)  # fmt: skip
    return found


def add_commands(sub) -> None:
    sub.add_parser("list", help="list what `run` can run: experiments, real-load-balancer scenarios, fidelity")
    run = sub.add_parser(
        "run",
        help="run one thing from `list`: run NAME [--param value ...] [--json FILE]",
        epilog="Other --name value pairs set the experiment's parameters (see `list`).",
    )
    run.add_argument("name", help="a name from `list`")
    run.add_argument("--scale", type=finite_float, default=DEFAULT_SCALE_FACTOR,
                     help=f"article seconds per lab second, for experiments (default {DEFAULT_SCALE_FACTOR:g})")  # fmt: skip
    run.add_argument("--json", metavar="FILE", help="write the result (parameters, claims, tables) as JSON")


def list_command(args: argparse.Namespace) -> int:
    from keepalive_lab.fidelity.matrix import MATRIX

    table = runnables()
    width = max(len(name) for name in table)
    for kind, heading in (("experiment", "Experiments (run NAME [--param value ...] [--scale S])"),
                          ("real load balancer", "Real load balancers (HAProxy, nginx; skipped when not installed)"),
                          ("fidelity", f"Fidelity (run fidelity [--scenarios a,b]; {len(MATRIX)} scenarios)")):  # fmt: skip
        print(heading)
        for r in table.values():
            if r.kind == kind:
                print(f"  {r.name:<{width}}  {r.title}")
    print("Fidelity scenarios:", ", ".join(s.name for s in MATRIX))
    return EXIT_OK


def _scale(args: argparse.Namespace, runnable: Runnable):
    from keepalive_lab.lab.timescale import TimeScale

    if not runnable.scaled:
        if args.scale != DEFAULT_SCALE_FACTOR:
            raise UsageError(f"{runnable.name} runs on real time; --scale applies to experiments only")
        return TimeScale(1.0)
    try:
        return TimeScale(args.scale)
    except ValueError as exc:
        raise UsageError(f"--scale: {exc}") from None


def _missing(runnable: Runnable) -> list[str]:
    from keepalive_lab.reallb.process import find_binary

    return [program for program in runnable.needs if find_binary(program) is None]


def run_command(args: argparse.Namespace) -> int:
    table = runnables()
    runnable = table.get(args.name)
    if runnable is None:
        raise UsageError(f"nothing named {args.name!r}; `list` shows what there is")
    scale = _scale(args, runnable)
    if runnable.params is not None:
        params = parse_params(runnable.name, runnable.params, args.params)
    elif args.params:
        raise UsageError(f"{runnable.name} takes no parameters")
    else:
        params = None
    missing = _missing(runnable)
    if missing:
        print(f"{runnable.name}: skipped: {' and '.join(missing)} not installed here (`make lbs` installs them)")
        return EXIT_OK
    try:
        out = open(args.json, "w", encoding="utf-8") if args.json else None  # fail before a long run
    except OSError as exc:
        raise UsageError(f"--json: {exc.strerror}: {args.json}") from None
    try:
        with Progress(runnable.name, 1.2 * runnable.floor(params, scale) + 1):
            result = runnable.run(params, scale)
        _print_summary(result, scale if runnable.scaled else None)
        saved = out is None or _save_json(result, out, args.json)
    finally:
        if out is not None and not out.closed:  # the run failed: the file stays as it is
            with contextlib.suppress(OSError):
                out.close()
    return EXIT_OK if result.all_held and saved else EXIT_FAILED


def _save_json(result, out, path: str) -> bool:
    """Write the result; a file that cannot take it (a full disk) is one line on stderr, and False."""
    try:
        with out:
            json.dump(_as_json(result), out, indent=1, default=str)
    except OSError as exc:
        print(f"keepalive_lab: --json {path}: {exc.strerror or exc}; the result is not saved", file=sys.stderr)
        return False
    return True


def _as_json(result) -> dict:
    if hasattr(result, "to_json"):
        return result.to_json()
    return {"name": result.name, "values": result.values, "claims": [dataclasses.asdict(c) for c in result.claims],
            "table": [] if result.table is None else result.table.to_dict(orient="records")}  # fmt: skip


def _print_summary(result, scale) -> None:
    wall = getattr(result, "wall_seconds", None)
    timing = f": {wall:.1f} s wall" if wall is not None else ""
    print(f"{result.name}{timing}" + (f", {scale.describe()}" if scale is not None else ""))
    for c in result.claims:
        mark = "held" if c.held else "FAILED"
        print(f"  [{mark:>6}] {c.text}\n           measured: {c.evidence}")
    held = sum(c.held for c in result.claims)
    print(f"{held}/{len(result.claims)} claims held")
