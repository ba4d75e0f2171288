"""One scenario against real load balancers: run its traffic, then judge it from what was recorded.

Theory of operation
-------------------
:func:`run_trial` builds a :class:`~keepalive_lab.reallb.rig.RealRig` at the
scenario's own durations (:meth:`Scenario.times <keepalive_lab.reallb.scenario.Scenario.times>`),
plays its pattern (:data:`~keepalive_lab.reallb.patterns.PATTERNS`), waits (on
the server's records, bounded) for a request the load balancer gave up on to
show up late at the server, and judges the run from its tables alone:

``starved`` / ``served`` (:func:`~keepalive_lab.reallb.verdicts.judge_requests`)
    the request that needed a second server connection got ``504`` (or the
    client's timeout) while every other request was served; every request
    got ``200``;
``stays UP`` / ``DOWN, then UP`` (:func:`~keepalive_lab.reallb.health.judge_health`)
    what an HAProxy health check made of the server while another instance
    held the only slot;
``closed by the ... after N s idle`` (:func:`~keepalive_lab.reallb.lifetimes.judge_idle`)
    how long the load balancer kept its idle server connection, and who
    closed it.
"""

from __future__ import annotations

import time

from keepalive_lab.lab.registry import note_floor
from keepalive_lab.lab.results import Claim
from keepalive_lab.reallb.health import judge_health
from keepalive_lab.reallb.lifetimes import judge_idle
from keepalive_lab.reallb.patterns import PATTERNS
from keepalive_lab.reallb.process import find_binary
from keepalive_lab.reallb.rig import RealRig
from keepalive_lab.reallb.scenario import Scenario, Trial, TrialStatus
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.reallb.verdicts import judge_requests

__all__ = ["run_trial"]


def run_trial(sc: Scenario, times: RealLBTimes = RealLBTimes()) -> Trial:
    """Run one scenario live; a missing binary gives a skipped trial, a failure an error trial."""
    missing = [kind for kind in sc.kinds if find_binary(kind) is None]
    if missing:
        return Trial(sc, TrialStatus.SKIPPED, f"skipped: {' and '.join(missing)} not installed", "")
    times = sc.times(times)
    start = time.monotonic()
    trial = Trial(sc, TrialStatus.RAN, "", "")
    rig: RealRig | None = None
    try:
        rig = RealRig(
            sc.lbs, server=sc.server(times), times=times,
            hold="client-1-0" if sc.pattern == "overlap" else "",
        )  # fmt: skip
        with rig:
            plan = PATTERNS[sc.pattern](rig, sc, times)
            for victim in plan.victims:  # a request the LB gave up on may still reach the server, late
                if any(r.request_id == victim and r.outcome != "ok" for r in rig.requests.records()):
                    rig.wait_access(victim, timeout=times.read_timeout + 1.0)
        trial.output = {name: inst.output_text for name, inst in rig.instances.items()}
        trial.tables = rig.tables()
        if sc.pattern == "health":
            judge_health(sc, trial.tables, times, trial)
        elif sc.pattern == "idle":
            judge_idle(sc, trial.tables, times, trial)
        else:
            judge_requests(sc, trial.tables, plan, times, trial)
    except Exception as exc:  # reported as this scenario's result; the rig has cleaned up
        trial.status, trial.observed, trial.evidence = TrialStatus.ERROR, f"error: {type(exc).__name__}", str(exc)[:2000]
    finally:
        if rig is not None:
            trial.pids, trial.folder = list(rig.started_pids), str(getattr(rig, "folder", ""))
    trial.wall_seconds = round(time.monotonic() - start, 2)
    note_floor(sc.key, start, sc.floor(times))
    held = trial.matched
    trial.claims.insert(
        0, Claim(f"{sc.key}:verdict", f"{sc.title}: {sc.expected}", held, f"{trial.observed}: {trial.evidence}")
    )
    return trial
