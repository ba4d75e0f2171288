"""One scenario against real load balancers: its traffic, and a verdict from what was recorded.

Theory of operation
-------------------
A :class:`Scenario` names the load-balancer instances (``"haproxy-1"``...),
the server's settings, a traffic *pattern*, and the verdict that was observed
earlier with the same packages in front of a real Go program. :func:`run_trial`
builds a :class:`~keepalive_lab.reallb.rig.RealRig`, plays the pattern, waits (on
the server's records, bounded) for a request the load balancer gave up on to
show up late at the server, and judges the run from its tables alone:

``starved``
    the request that needed a second server connection got ``504`` (or the
    client's timeout) while every other request was served;
``served``
    every request got ``200``;
``stays UP`` / ``DOWN, then UP``
    what an HAProxy health check made of the server while another instance
    held the only slot.

Patterns (durations from :class:`RealLBTimes`, lab seconds):

``two_lbs``
    client 1 through the first instance, then ``gap`` later client 2 through
    the second: the autoscaling case;
``two_conns``
    the same through one instance, on two client connections;
``overlap``
    client 2 sends while the server is running client 1's request;
``workers``
    one nginx with two workers: after client 1, fresh client connections
    until one is on the same worker and one on the other, each then sends;
``health``
    a holder client keeps the first instance's connection busy, a probe
    client sends through the second, health-checked, instance.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Callable

from keepalive_lab.lab.results import Claim
from keepalive_lab.lab.traffic import Direct, SerialClient
from keepalive_lab.reallb.process import find_binary
from keepalive_lab.reallb.rig import RealRig
from keepalive_lab.reallb.scenario import Plan, Scenario, Trial, TrialStatus
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.reallb.verdicts import judge_health, judge_requests
from keepalive_lab.records import ConnState

__all__ = ["run_trial", "PATTERNS"]


# -- patterns -----------------------------------------------------------------------------


def _two_clients(rig: RealRig, sc: Scenario, t: RealLBTimes, same_lb: bool) -> Plan:
    first = sc.nodes[0]
    second = first if same_lb else sc.nodes[1]
    c1, c2 = rig.new_client(), rig.new_client()
    sent = rig.now()
    rig.send(c1, "client-1", first, "client-1-0")
    rig.wait_until(sent + t.gap)  # the schedule: client 2 sends `gap` after client 1 did
    rig.send(c2, "client-2", second, "client-2-0")
    return Plan(["client-2-0"])


def _overlap(rig: RealRig, sc: Scenario, t: RealLBTimes) -> Plan:
    # The rig holds client 1's request in the handler (rig.hold) until client 2's request has reached
    # the load balancer and it has acted on it: a new connection in the server's accept queue, or,
    # failing that within the rig's bound, nothing. Both requests are then truly in flight at once.
    node = sc.nodes[0]
    c1, c2 = rig.new_client(), rig.new_client()
    first = threading.Thread(target=rig.send, args=(c1, "client-1", node, "client-1-0"), daemon=True)
    first.start()
    in_flight = rig.wait_state(ConnState.ACTIVE, 1, timeout=t.lb_timeout + 1.0)
    second = threading.Thread(target=rig.send, args=(c2, "client-2", node, "client-2-0"), daemon=True)
    sent = time.monotonic()
    second.start()
    queued = rig.queue.wait_for(lambda qs: any(q.at > sent and q.length > 0 for q in qs), rig.hold_max)
    rig.release()
    first.join(t.client_timeout + 1.0)
    second.join(t.client_timeout + 1.0)
    return Plan(["client-2-0"], {"first_in_flight": in_flight, "second_connection_queued": queued})


def _workers(rig: RealRig, sc: Scenario, t: RealLBTimes) -> Plan:
    node = sc.nodes[0]
    c1 = rig.new_client()
    holder_worker = rig.worker_of(c1, node)
    rig.send(c1, "client-1", node, "client-1-0")
    same = other = None
    workers: dict[str, str] = {"client-1": holder_worker}
    for _ in range(32):  # new client connections until one lands on each worker
        client = rig.new_client()
        worker = rig.worker_of(client, node)
        if worker == holder_worker and same is None:
            same = client
        elif worker != holder_worker and other is None:
            other, workers["client-other"] = client, worker
        else:
            client.close()
        if same is not None and other is not None:
            break
    victims = []
    if same is not None:
        workers["client-same"] = holder_worker
        rig.send(same, "client-same", node, "client-same-0")
    if other is not None:
        rig.send(other, "client-other", node, "client-other-0")
        victims.append("client-other-0")
    return Plan(victims, {"workers": workers})


def _health(rig: RealRig, sc: Scenario, t: RealLBTimes) -> Plan:
    holder_node, probe_node = sc.nodes
    holder = SerialClient(
        "holder", Direct(rig.url(holder_node), holder_node), rig.requests, timeout=t.client_timeout,
        gaps=itertools.repeat(t.hold_gap), duration=t.hold_for, stop=rig.stop,
    ).start()  # fmt: skip
    # The probe starts once the holder's first request has been served.
    rig.requests.wait_for(lambda rs: any(r.client == "holder" for r in rs), t.client_timeout + 1.0)
    probe = SerialClient(
        "probe", Direct(rig.url(probe_node), probe_node), rig.requests, timeout=t.client_timeout,
        gaps=itertools.repeat(t.probe_gap), duration=max(0.0, t.probe_until - rig.now()), stop=rig.stop,
    ).start()  # fmt: skip
    holder.join(t.hold_for + t.client_timeout + 2.0)
    probe.join(t.probe_until + t.client_timeout + 2.0)
    return Plan([], {})


PATTERNS: dict[str, Callable[[RealRig, Scenario, RealLBTimes], Plan]] = {
    "two_lbs": lambda rig, sc, t: _two_clients(rig, sc, t, same_lb=False),
    "two_conns": lambda rig, sc, t: _two_clients(rig, sc, t, same_lb=True),
    "overlap": _overlap,
    "workers": _workers,
    "health": _health,
}


# -- running --------------------------------------------------------------------------


def run_trial(sc: Scenario, times: RealLBTimes = RealLBTimes()) -> Trial:
    """Run one scenario live; a missing binary gives a skipped trial, a failure an error trial."""
    missing = [kind for kind in sc.kinds if find_binary(kind) is None]
    if missing:
        return Trial(sc, TrialStatus.SKIPPED, f"skipped: {' and '.join(missing)} not installed", "")
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
        else:
            judge_requests(sc, trial.tables, plan, times, trial)
    except Exception as exc:  # reported as this scenario's result; the rig has cleaned up
        trial.status, trial.observed, trial.evidence = TrialStatus.ERROR, f"error: {type(exc).__name__}", str(exc)[:2000]
    finally:
        if rig is not None:
            trial.pids, trial.folder = list(rig.started_pids), str(getattr(rig, "folder", ""))
    trial.wall_seconds = round(time.monotonic() - start, 2)
    held = trial.matched
    trial.claims.insert(
        0, Claim(f"{sc.key}:verdict", f"{sc.title}: {sc.expected}", held, f"{trial.observed}: {trial.evidence}")
    )
    return trial
