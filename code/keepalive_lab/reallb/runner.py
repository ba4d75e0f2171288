"""Run real-load-balancer scenarios live, a few at a time, into one result.

Theory of operation
-------------------
:func:`run` plays scenarios of the catalogue
(:data:`~keepalive_lab.reallb.catalogue.SCENARIOS`) live against the lab
server (:mod:`keepalive_lab.reallb.trials`), a few at a time in threads (each scenario has its own server, ports and processes), and returns
an :class:`~keepalive_lab.lab.results.ExperimentResult`:

* ``tables["verdicts"]``: one row per scenario, expected vs observed (both
  measured live: the expected verdict is what the scenario must show again);
* ``tables["requests"]``: every client request, with the columns of
  ``Testbed.tables()["requests"]`` plus ``scenario``; times in lab seconds
  since that scenario's start; ``node`` is the instance (``"haproxy-2"``);
* ``tables["lb"]`` (:class:`~keepalive_lab.records.BalancerRecord` from the
  real access logs), ``"lb_timing"``, ``"access"``, ``"states"``,
  ``"health"``, ``"queue"``, ``"sockets"``: the same, with ``scenario``;
* ``claims``: each scenario's verdict, and a few more (the connect took no
  time, the server ran the abandoned request later...), so a chapter can
  ``result.require(...)`` exactly the claims its text makes.

A scenario whose load balancer is not installed is *skipped*: its verdict row
says so and it contributes no claim. :func:`availability` says what is
installed. The longest scenarios (:meth:`Scenario.estimate
<keepalive_lab.reallb.scenario.Scenario.estimate>`, e.g. the ``timers`` group
at the article's 30 s idle timeout) start first, so that the short ones run
alongside them; the tables keep the order asked for.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Iterable, Sequence

import pandas as pd

from keepalive_lab.lab.results import ExperimentResult
from keepalive_lab.lab.timescale import TimeScale
from keepalive_lab.reallb.catalogue import SCENARIOS, scenario
from keepalive_lab.reallb.process import binary_version, find_binary
from keepalive_lab.reallb.scenario import Scenario, Trial, TrialStatus
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.reallb.trials import run_trial

__all__ = ["availability", "run", "confirm"]


def availability() -> pd.DataFrame:
    """Which load balancers are installed here, with their versions."""
    rows = []
    for kind in ("haproxy", "nginx"):
        path = find_binary(kind)
        rows.append({"load balancer": kind, "installed": path is not None, "path": path or "",
                     "version": binary_version(kind) if path else ""})  # fmt: skip
    return pd.DataFrame(rows)


def _with_scenario(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["scenario"] = key
    return frame


def _verdict_row(trial: Trial, times: RealLBTimes) -> dict:
    sc = trial.scenario
    match = {TrialStatus.RAN: "yes" if trial.matched else "NO", TrialStatus.SKIPPED: "skipped",
             TrialStatus.ERROR: "NO"}[trial.status]  # fmt: skip
    return {
        "scenario": sc.key, "setup": sc.title, "group": sc.group, "load balancers": sc.describe_lbs(),
        "server": sc.server(sc.times(times)).describe(), "expected": sc.expected, "observed": trial.observed,
        "match": match, "status": trial.status, "evidence": trial.evidence, "wall_s": trial.wall_seconds,
    }  # fmt: skip


def run(
    scenarios: Sequence[Scenario] | Iterable[str] = SCENARIOS, times: RealLBTimes = RealLBTimes(), *, parallel: int = 4
) -> ExperimentResult:
    """Run the scenarios live, ``parallel`` at a time; skipped ones are reported, not faked."""
    chosen = [s if isinstance(s, Scenario) else scenario(s) for s in scenarios]
    start = time.monotonic()
    pool = ThreadPoolExecutor(max(1, parallel), thread_name_prefix="real-lb")
    try:
        longest_first = sorted(range(len(chosen)), key=lambda i: -chosen[i].estimate(times))
        futures = {i: pool.submit(run_trial, chosen[i], times) for i in longest_first}
        trials = [futures[i].result() for i in range(len(chosen))]
    except BaseException:
        # Ctrl-C: scenarios not yet started never start; running ones end (bounded) and clean up.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    wall = time.monotonic() - start
    tables: dict[str, pd.DataFrame] = {"verdicts": pd.DataFrame([_verdict_row(t, times) for t in trials])}
    for name in ("requests", "lb", "lb_timing", "access", "states", "health", "queue", "sockets"):
        parts = [_with_scenario(t.tables[name], t.scenario.key) for t in trials if name in t.tables]
        parts = [p for p in parts if not p.empty]
        tables[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    claims = [c for t in trials if t.status != "skipped" for c in t.claims]
    values: dict = {
        "ran": [t.scenario.key for t in trials if t.status == "ran"],
        "skipped": [t.scenario.key for t in trials if t.status == "skipped"],
        "errors": {t.scenario.key: t.evidence for t in trials if t.status == "error"},
        "versions": {row["load balancer"]: row["version"] for row in availability().to_dict("records")},
        "scenario_wall_s": {t.scenario.key: t.wall_seconds for t in trials},
        "output": {t.scenario.key: t.output for t in trials},
        "pids": {t.scenario.key: t.pids for t in trials},
        "folders": {t.scenario.key: t.folder for t in trials},
    }
    for t in trials:
        for key, value in t.values.items():
            values[f"{t.scenario.key}.{key}"] = value
    return ExperimentResult(
        name="real-load-balancers",
        params={"times": asdict(times), "parallel": parallel, "scenarios": [s.key for s in chosen]},
        scale=TimeScale(1.0),
        wall_seconds=round(wall, 2),
        tables=tables,
        claims=claims,
        values=values,
    )


def confirm(result: ExperimentResult, *keys: str) -> list[str]:
    """Require every claim of the scenarios ``keys`` that ran; return the keys that were skipped."""
    ran = set(result.values.get("ran", []))
    errors = set(result.values.get("errors", {}))
    names = [c.name for c in result.claims if c.name.split(":")[0] in keys and c.name.split(":")[0] in ran | errors]
    result.require(*names)
    return [k for k in keys if k not in ran]
