"""Differential fidelity: the same scenarios against Go's ``net/http`` and against our server.

Theory of operation
-------------------
Each scenario of :data:`~keepalive_lab.fidelity.matrix.MATRIX` runs
against a fresh server process per implementation (:class:`Target`), started
through the shared command line (:mod:`keepalive_lab.fidelity.process`). Its
clients record a normalised wire transcript (:mod:`keepalive_lab.fidelity.transcript`);
the runner appends the final access log and the exit status after SIGTERM.
Scenarios run concurrently, each server on its own port, so a matrix takes
about as long as its slowest scenarios. Every process is stopped and reaped,
whatever happens to its scenario.

:func:`fidelity_report` compares our server with Go
(:mod:`keepalive_lab.fidelity.compare`): live when the Go reference binary is
here, otherwise against the Go run recorded in ``data/go-fidelity.json``,
and it says which.

``python -m keepalive_lab.fidelity record`` writes that recording
(:mod:`keepalive_lab.fidelity.__main__`).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from keepalive_lab.fidelity.compare import Comparison, compare, comparison_table, known_differences_table
from keepalive_lab.fidelity.matrix import MATRIX, WireScenario, scenario_named
from keepalive_lab.fidelity.process import (
    PROJECT_ROOT,
    GoReference,
    ServerProcess,
    find_go_reference,
    go_server_command,
    python_server_command,
)
from keepalive_lab.fidelity.transcript import Session, WireTimes
from keepalive_lab.lab.results import Claim, ProbeResult

__all__ = [
    "Target",
    "Run",
    "FidelityReport",
    "python_target",
    "go_target",
    "run_scenario",
    "run_matrix",
    "fidelity_report",
    "record",
    "load_recording",
    "RECORDING",
]

RECORDING = PROJECT_ROOT / "data" / "go-fidelity.json"


@dataclass(frozen=True)
class Target:
    """An implementation to run: a name and how to build its command line from the flags."""

    name: str
    version: str
    command: Callable[[Sequence[str]], list[str]]


def python_target() -> Target:
    from keepalive_lab import __version__

    return Target("ours", f"keepalive_lab {__version__}", python_server_command)


def go_target(ref: GoReference) -> Target:
    return Target("go", ref.go_version, lambda flags: go_server_command(ref.binary, flags))


@dataclass
class Run:
    """One scenario against one implementation: its events, exit status and stderr."""

    scenario: str
    target: str
    events: list[dict] = field(default_factory=list)
    exit_code: int | None = None
    stderr: str = ""


def run_scenario(scenario: WireScenario, target: Target, timing: WireTimes) -> Run:
    """Start a server with the scenario's flags, run its script, stop the server, collect everything."""
    run = Run(scenario.name, target.name)
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        log = Path(tmp) / "access.jsonl"
        flags = [*scenario.flags(timing), "--access-log", str(log)]
        server = ServerProcess(target.command(flags))
        session, error = None, None
        try:
            with server:
                session = Session(server.port, timing, log)
                try:
                    scenario.script(session)
                finally:
                    session.close()
        except Exception as exc:  # a broken run is a result too: it shows up as a difference
            error = {"conn": "harness", "kind": "error", "error": f"{type(exc).__name__}: {exc}"}
        if session is not None:
            session.access_log(final=True)  # the server has exited: every record is written
            run.events += session.events
        if error is not None:
            run.events.append(error)
        run.exit_code = server.returncode
        run.events.append({"conn": "server", "kind": "exit", "code": server.returncode})
        run.stderr = server.stderr
    return run


def run_matrix(targets: Sequence[Target], scenarios: Sequence[WireScenario] = MATRIX, timing: WireTimes = WireTimes(),
               jobs: int = 8) -> dict[str, dict[str, Run]]:  # fmt: skip
    """Every scenario against every target, ``jobs`` at a time: ``{target: {scenario: Run}}``."""
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="fidelity")
    try:
        futures = [pool.submit(run_scenario, s, t, timing) for s in scenarios for t in targets]
        runs = [f.result() for f in futures]
    finally:
        # On an interrupt, scenarios not started are dropped; running ones stop their servers.
        pool.shutdown(wait=True, cancel_futures=True)
    out: dict[str, dict[str, Run]] = {t.name: {} for t in targets}
    for run in runs:
        out[run.target][run.scenario] = run
    return out


# -- the recording --------------------------------------------------------------------------


def record(ref: GoReference, path: Path = RECORDING, timing: WireTimes = WireTimes(), jobs: int = 8) -> dict:
    """Run the matrix against the Go reference and write its transcripts to ``path`` (JSON)."""
    runs = run_matrix([go_target(ref)], timing=timing, jobs=jobs)["go"]
    data = {
        "what": "The Go reference server (code/go-reference) under keepalive_lab.fidelity's scenario matrix",
        "go_version": ref.go_version,
        "x_net_version": ref.x_net_version,
        "recorded_utc": _now_utc(),
        "kernel": f"{platform.system()} {platform.release()}",
        "timing": timing.__dict__,
        "scenarios": {
            s.name: {"what": s.what, "flags": s.flags(timing), "events": runs[s.name].events} for s in MATRIX
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(_dumps(data), encoding="utf-8")
    os.replace(tmp, path)
    return data


def _dumps(data: dict) -> str:
    """JSON with one event per line, so that two recordings diff line by line."""
    def one(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"] + [f" {one(k)}: {one(v)}," for k, v in data.items() if k != "scenarios"] + [' "scenarios": {']
    for i, (name, s) in enumerate(data["scenarios"].items()):
        lines.append(f"  {one(name)}: {{\"what\": {one(s['what'])}, \"flags\": {one(s['flags'])}, \"events\": [")
        lines += [f"   {one(e)}," for e in s["events"]]
        lines[-1] = lines[-1].rstrip(",")
        lines.append("  ]}" + ("," if i < len(data["scenarios"]) - 1 else ""))
    return "\n".join(lines + [" }", "}", ""])


def load_recording(path: Path = RECORDING) -> tuple[dict, dict[str, list[dict]]]:
    """The recording's metadata and its transcripts, ``{scenario: events}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data, {name: s["events"] for name, s in data["scenarios"].items()}


@dataclass(frozen=True)
class FidelityReport:
    """Our server against Go, scenario by scenario, and where the Go side came from."""

    source: str  # "live" (the Go binary ran now) or "recorded" (data/go-fidelity.json)
    go_version: str
    x_net_version: str
    go_ran_utc: str
    comparisons: tuple[Comparison, ...]
    go: dict = field(repr=False, default_factory=dict)  # {scenario: events}
    ours: dict = field(repr=False, default_factory=dict)
    retried: tuple[str, ...] = ()  # scenarios run more than once before both sides agreed

    @property
    def unexplained(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.unexplained]

    @property
    def explained(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.explained and not c.unexplained]

    @property
    def same(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.verdict == "yes"]

    def table(self) -> pd.DataFrame:
        return comparison_table(self.comparisons)

    def known_differences(self, every: bool = False) -> pd.DataFrame:
        return known_differences_table(self.go_version, every)

    def result(self) -> ProbeResult:
        """One claim per scenario (our server answers as Go does, or as a listed version difference)."""
        claims = [
            Claim(c.scenario, f"{c.scenario}: as Go {self.go_version} ({self.source})", not c.unexplained,
                  "; ".join(f"{where}: go {g!r}, ours {o!r}" for where, g, o in c.unexplained) or c.verdict)
            for c in self.comparisons
        ]  # fmt: skip
        values = {"scenarios": len(self.comparisons), "same": len(self.same), "explained": len(self.explained),
                  "unexplained": len(self.unexplained), "source": self.source, "go_version": self.go_version}  # fmt: skip
        return ProbeResult("fidelity", values, claims, self.table())


def _now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fidelity_report(ref: GoReference | None | str = "auto", recording: Path = RECORDING, timing: WireTimes = WireTimes(),
                    jobs: int = 8, retries: int = 2, scenarios: Sequence[WireScenario] = MATRIX) -> FidelityReport:  # fmt: skip
    """Run the matrix against our server, and against Go when ``ref`` (by default: the built binary) exists.

    Without a Go binary the Go side comes from ``recording``. A scenario whose
    transcripts differ is run again, alone with its counterpart, up to
    ``retries`` times: on a machine busy enough to stall a process for half a
    second a timing class can slip once, but a real difference comes back
    every time. The report names the scenarios that needed another run.
    """
    ref = find_go_reference() if ref == "auto" else ref
    live = isinstance(ref, GoReference)
    targets = [python_target()] + ([go_target(ref)] if live else [])
    runs = run_matrix(targets, scenarios, timing=timing, jobs=jobs)
    ours = {name: run.events for name, run in runs["ours"].items()}
    if live:
        go = {name: run.events for name, run in runs["go"].items()}
        meta = {"go_version": ref.go_version, "x_net_version": ref.x_net_version, "recorded_utc": _now_utc()}
    else:
        meta, go = load_recording(recording)
    comparisons = compare(go, ours, meta["go_version"], scenarios)
    retried: list[str] = []
    for _ in range(retries):
        differing = [scenario_named(c.scenario) for c in comparisons if c.unexplained]
        if not differing:
            break
        retried += [s.name for s in differing if s.name not in retried]
        again = run_matrix(targets, differing, timing=timing, jobs=2)  # few at a time: less contention
        ours.update({name: run.events for name, run in again["ours"].items()})
        go.update({name: run.events for name, run in again.get("go", {}).items()})
        comparisons = compare(go, ours, meta["go_version"], scenarios)
    return FidelityReport("live" if live else "recorded", meta["go_version"], meta["x_net_version"],
                          meta["recorded_utc"], tuple(comparisons), go, ours, tuple(retried))  # fmt: skip
