"""The incident's experiments: the symptom, one node, self-starvation, ghost requests.

Each builds a :class:`~keepalive_lab.lab.testbed.Testbed`, drives traffic
through real load-balancer nodes to the real server, and checks the claims
the book makes about it. Parameters are frozen dataclasses in **article
seconds**; the :class:`~keepalive_lab.lab.timescale.TimeScale` turns them
into lab seconds.

==================  =====================================================
``symptom``         the incident: scale-out, random-looking timeouts
``one_lb``          one node, serial clients: why it "worked until now"
``self_starvation`` one node, two overlapping requests
``ghost``           a request handled after its client gave up
==================  =====================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from keepalive_lab.experiments.catalogue import fix_named
from keepalive_lab.lab.analysis import (
    connections_opened,
    first_access_at,
    latency_summary,
    max_open_connections,
    queue_max_during,
)
from keepalive_lab.lab.registry import check_durations, check_param, claim, register
from keepalive_lab.lab.results import ExperimentResult
from keepalive_lab.lab.testbed import INCIDENT_SERVER, Testbed
from keepalive_lab.lab.timescale import ARTICLE, DEFAULT_SCALE, TimeScale
from keepalive_lab.lab.traffic import jittered
from keepalive_lab.lbmodel.fleet import Routing

__all__ = [
    "SymptomParams",
    "OneLbParams",
    "SelfStarvationParams",
    "GhostParams",
    "symptom",
    "one_lb",
    "self_starvation",
    "ghost",
    "article_seconds",
    "ThinkTimeParams",
]


def article_seconds(scale: TimeScale, lab_seconds: float) -> str:
    """Lab seconds shown as article seconds, for evidence strings."""
    return f"{scale.article(lab_seconds):.1f} s"


class ThinkTimeParams:
    """For parameters with ``think_min`` and ``think_max`` fields: a serial user's pause between requests,
    uniform in that range (article seconds).

    A mixin, not a dataclass base: the fields stay each class's own, flat and in its order, so that
    the command line offers ``--think-min`` and ``--think-max`` where they always stood.
    """

    think_min: float
    think_max: float

    def check_think_time(self) -> None:
        check_durations(think_min=self.think_min, think_max=self.think_max)
        check_param(0 <= self.think_min <= self.think_max, "need 0 <= think-min <= think-max")

    def think_gaps(self, seed: int) -> Iterable[float]:
        """Endless pauses uniform in ``[think_min, think_max]``, reproducible from ``seed``."""
        return jittered((self.think_min + self.think_max) / 2, (self.think_max - self.think_min) / 2, seed)


# ---------------------------------------------------------------------------
# 1. The symptom


@dataclass(frozen=True)
class SymptomParams(ThinkTimeParams):
    """One serial client; the fleet scales out from one node to two at ``scale_out_at``."""

    duration: float = 240.0
    scale_out_at: float = 40.0
    think_min: float = 1.0
    think_max: float = 3.0
    client_timeout: float = ARTICLE.client_timeout
    seed: int = 3
    fix: str = "baseline"  # a name from experiments.catalogue.FIXES, applied to the server
    routing: Routing = Routing.WEIGHTED  # a model assumption: see keepalive_lab.lbmodel.fleet

    def __post_init__(self) -> None:
        check_durations(duration=self.duration, scale_out_at=self.scale_out_at, client_timeout=self.client_timeout)
        check_param(0 < self.scale_out_at < self.duration, "need 0 < scale-out-at < duration")
        check_param(self.client_timeout > 0, "client-timeout must be positive")
        self.check_think_time()
        fix_named(self.fix)  # raises ValueError naming the fixes


@register("symptom", "The incident: after a scale-out, some requests time out", SymptomParams,
          lambda p, s: s.lab(p.duration))  # fmt: skip
def symptom(params: SymptomParams = SymptomParams(), scale: TimeScale = DEFAULT_SCALE) -> ExperimentResult:
    started = time.monotonic()
    server = fix_named(params.fix).apply(INCIDENT_SERVER)
    with Testbed(scale, server, routing=params.routing, seed=params.seed) as bed:
        bed.fleet.scale_out("LB1")
        bed.serial_client(
            "users", gaps=params.think_gaps(params.seed), duration=params.duration, timeout=params.client_timeout
        )
        bed.schedule([(params.scale_out_at, "scale_out", "LB2")])
        bed.wait_clients(scale.lab(params.duration + params.client_timeout) + 2)
    t = bed.tables()
    req, access, queue = t["requests"], t["access"], t["queue"]
    scale_out = float(t["scale_events"].query("node == 'LB2'")["at"].iloc[0])
    before, after = req[req["start"] < scale_out], req[req["start"] >= scale_out]
    timeouts = req[req["outcome"] == "timeout"]
    ok = latency_summary(req)
    handler = scale.lab(ARTICLE.handler_latency)
    silent = [first_access_at(access, rid) for rid in timeouts["request_id"]]
    silent_ok = all(a is None or a > end for a, end in zip(silent, timeouts["end"]))
    queued = [queue_max_during(queue, s, e) for s, e in zip(timeouts["start"], timeouts["end"])]
    lb1 = req[req["node"] == "LB1"]
    values = {
        "requests": len(req),
        "timeouts": len(timeouts),
        "timeout_pct": round(100 * len(timeouts) / max(1, len(req)), 1),
        "requests_after_scale_out": len(after),
        "ok_p50_s": round(scale.article(ok["p50"]), 3),
        "ok_p99_s": round(scale.article(ok["p99"]), 3),
        "handler_s": ARTICLE.handler_latency,
        "scale_out_s": round(scale.article(scale_out), 1),
        "client_timeout_s": params.client_timeout,
        "lb2_requests": int((req["node"] == "LB2").sum()),
        "queue_max": int(queue["length"].max()) if not queue.empty else 0,
        "timeouts_ever_logged": sum(a is not None for a in silent),
    }
    claims = [
        claim("before_ok", "Before the scale-out every request succeeds.", (before["outcome"] == "ok").all(),
              f"{(before['outcome'] == 'ok').sum()}/{len(before)} ok"),
        claim("fast_when_ok", "A successful request takes about the handler's latency.",
              ok["p50"] < 2 * handler, f"median {article_seconds(scale, ok['p50'])} vs handler {ARTICLE.handler_latency} s"),
        claim("some_timeouts", "After the scale-out, some requests (not most) time out at the client.",
              1 <= len(timeouts) <= len(req) / 2, f"{len(timeouts)} of {len(req)} timed out"),
        claim("timeouts_via_lb2", "Every timed-out request went through the new node, LB2.",
              len(timeouts) > 0 and (timeouts["node"] == "LB2").all(),
              f"nodes of timeouts: {sorted(set(timeouts['node']))}"),
        claim("lb1_always_ok", "Every request through LB1 succeeds.", (lb1["outcome"] == "ok").all(),
              f"{(lb1['outcome'] == 'ok').sum()}/{len(lb1)} ok"),
        claim("silent_log", "No timed-out request is in the access log when it times out.", silent_ok,
              f"{values['timeouts_ever_logged']} of {len(timeouts)} appear in the log by the end of the run"),
        claim("queued_in_kernel", "While each timed-out request waited, the accept queue was not empty.",
              len(queued) > 0 and min(queued) >= 1, f"queue max per timeout: {queued}"),
    ]  # fmt: skip
    return ExperimentResult("symptom", params, scale, time.monotonic() - started, t, claims, values)


# ---------------------------------------------------------------------------
# 2. One node, serial clients


@dataclass(frozen=True)
class OneLbParams:
    """One node and one serial client whose pauses sometimes outlast the server's idle timeout."""

    gaps: tuple[float, ...] = (2.0, 5.0, 35.0, 1.0, 10.0, 40.0, 3.0, 3.0, 31.0, 2.0, 1.0)
    client_timeout: float = ARTICLE.client_timeout

    def __post_init__(self) -> None:
        check_param(0 < len(self.gaps) <= 1000, "gaps: one to a thousand pauses")
        check_durations(gaps=self.gaps, client_timeout=self.client_timeout)
        check_param(self.client_timeout > 0, "client-timeout must be positive")


@register("one_lb", "One node, serial clients: no timeouts", OneLbParams,
          lambda p, s: s.lab(sum(p.gaps)))  # fmt: skip
def one_lb(params: OneLbParams = OneLbParams(), scale: TimeScale = DEFAULT_SCALE) -> ExperimentResult:
    started = time.monotonic()
    with Testbed(scale) as bed:
        bed.fleet.scale_out("LB1")
        bed.serial_client("users", gaps=params.gaps, duration=sum(params.gaps) + 60, timeout=params.client_timeout)
        bed.wait_clients(scale.lab(sum(params.gaps) + params.client_timeout * len(params.gaps)) + 2)
    t = bed.tables()
    req, states, upstream = t["requests"], t["states"], t["upstream"]
    ok = latency_summary(req)
    long_gaps = sum(g > ARTICLE.read_timeout for g in params.gaps)
    server_closes = int((upstream["event"] == "server_closed").sum()) if not upstream.empty else 0
    open_at_once = max_open_connections(states)
    values = {
        "requests": len(req),
        "timeouts": int((req["outcome"] != "ok").sum()),
        "long_gaps": long_gaps,
        "connections": connections_opened(states),
        "server_closed_idle": server_closes,
        "max_open_connections": open_at_once,
        "ok_p50_s": round(scale.article(ok["p50"]), 3),
    }
    claims = [
        claim("all_ok", "Every request succeeds.", (req["outcome"] == "ok").all() and len(req) == len(params.gaps) + 1,
              f"{(req['outcome'] == 'ok').sum()}/{len(req)} ok"),
        claim("one_at_a_time", "The server never holds more than one connection.", open_at_once == 1,
              f"at most {open_at_once} open"),
        claim("idle_closes_harmless", "After each pause longer than the idle timeout, Go closed the idle "
              "connection and LB1 simply opened a new one.", server_closes == long_gaps and values["connections"]
              == long_gaps + 1, f"{server_closes} closes seen by LB1, {values['connections']} connections, "
              f"{long_gaps} long pauses"),
    ]  # fmt: skip
    return ExperimentResult("one_lb", params, scale, time.monotonic() - started, t, claims, values)


# ---------------------------------------------------------------------------
# 4. Self-starvation: one node, two overlapping requests


@dataclass(frozen=True)
class SelfStarvationParams:
    """Two clients send at the same moment through one node; the work outlasts the gap between them."""

    handler_latency: float = 2.0
    client_timeout: float = ARTICLE.client_timeout

    def __post_init__(self) -> None:
        check_durations(handler_latency=self.handler_latency, client_timeout=self.client_timeout)
        check_param(self.handler_latency > 0, "handler-latency must be positive, or the requests cannot overlap")
        check_param(self.client_timeout > 0, "client-timeout must be positive")


@register("self_starvation", "One node starves itself when two requests overlap", SelfStarvationParams,
          lambda p, s: s.lab(ARTICLE.read_timeout + p.handler_latency))  # fmt: skip
def self_starvation(
    params: SelfStarvationParams = SelfStarvationParams(), scale: TimeScale = DEFAULT_SCALE
) -> ExperimentResult:
    started = time.monotonic()
    with Testbed(scale, INCIDENT_SERVER.with_(latency=params.handler_latency)) as bed:
        bed.fleet.scale_out("LB1")
        for name in ("alice", "bob"):
            bed.serial_client(name, gaps=(), duration=60.0, timeout=params.client_timeout)
        horizon = scale.lab(ARTICLE.lb_idle_timeout + 10)
        bed.lb_log.wait_for(lambda rs: len(rs) >= 2, horizon)
    t = bed.tables()
    req, lb, queue, upstream = t["requests"], t["lb"], t["queue"], t["upstream"]
    first, second = lb.sort_values("end").iloc[0], lb.sort_values("end").iloc[-1]
    slow = req[req["request_id"] == second["request_id"]].iloc[0]
    fast = req[req["request_id"] == first["request_id"]].iloc[0]
    opened = int((upstream["event"] == "open").sum())
    idle_timeout = scale.lab(ARTICLE.read_timeout)
    waited = second["end"] - second["start"]
    values = {
        "first_s": round(scale.article(fast["latency"]), 2),
        "second_lb_wait_s": round(scale.article(waited), 1),
        "second_lb_status": int(second["status"]),
        "second_client_outcome": slow["outcome"],
        "connections_opened": opened,
        "queue_max": queue_max_during(queue, slow["start"], slow["end"]),
    }
    claims = [
        claim("first_fast", "The first request is served in about the handler's time.",
              fast["outcome"] == "ok" and fast["latency"] < 2 * scale.lab(params.handler_latency),
              f"{values['first_s']} s"),
        claim("second_connection", "The node opened a second connection for the second request.", opened == 2,
              f"{opened} connections opened"),
        claim("second_queued", "That connection waited in the accept queue.", values["queue_max"] >= 1,
              f"queue max {values['queue_max']}"),
        claim("client_gave_up", "The second client timed out.", slow["outcome"] == "timeout", slow["outcome"]),
        claim("served_after_idle", "The node got its answer only after Go closed the first, idle connection "
              "(the idle timeout after the first response).", second["status"] == 200 and waited >= 0.9 *
              idle_timeout, f"status {second['status']} after {values['second_lb_wait_s']} s"),
    ]  # fmt: skip
    return ExperimentResult("self_starvation", params, scale, time.monotonic() - started, t, claims, values)


# ---------------------------------------------------------------------------
# 5. Ghost requests


@dataclass(frozen=True)
class GhostParams:
    """LB1 sends every ``lb1_gap`` until ``lb1_until``; LB2 gets one request at ``lb2_at``."""

    lb1_gap: float = 5.0
    lb1_until: float = 45.0
    lb2_at: float = 5.0
    client_timeout: float = ARTICLE.client_timeout

    def __post_init__(self) -> None:
        check_durations(lb1_gap=self.lb1_gap, lb1_until=self.lb1_until, lb2_at=self.lb2_at,
                        client_timeout=self.client_timeout)  # fmt: skip
        check_param(self.lb1_gap > 0 and self.client_timeout > 0, "lb1-gap and client-timeout must be positive")
        check_param(self.lb1_until / self.lb1_gap <= 1000, "LB1 would send more than a thousand requests")
        check_param(0 <= self.lb2_at < self.lb1_until, "need 0 <= lb2-at < lb1-until: LB1 must hold the slot then")


@register("ghost", "A request is handled after its client gave up", GhostParams,
          lambda p, s: s.lab(p.lb1_until - p.lb1_gap + ARTICLE.read_timeout))  # fmt: skip
def ghost(params: GhostParams = GhostParams(), scale: TimeScale = DEFAULT_SCALE) -> ExperimentResult:
    started = time.monotonic()
    with Testbed(scale) as bed:
        bed.fleet.scale_out("LB1")
        bed.fleet.scale_out("LB2")
        gaps = [params.lb1_gap] * int(params.lb1_until / params.lb1_gap)
        bed.serial_client("lb1-user", gaps=gaps, duration=params.lb1_until, node="LB1", timeout=params.client_timeout)
        bed.sleep_until(params.lb2_at)
        bed.serial_client("lb2-user", gaps=(), duration=60.0, node="LB2", timeout=params.client_timeout)
        horizon = scale.lab(params.lb1_until + ARTICLE.read_timeout + ARTICLE.lb_idle_timeout)
        bed.access.wait_for(lambda rs: any(r.request_id == "lb2-user-0" for r in rs), horizon)
    t = bed.tables()
    req, access, lb = t["requests"], t["access"], t["lb"]
    mine = req[req["request_id"] == "lb2-user-0"].iloc[0]
    handled = first_access_at(access, "lb2-user-0")
    lb_row = lb[lb["request_id"] == "lb2-user-0"]
    values = {
        "client_outcome": mine["outcome"],
        "gave_up_s": round(scale.article(mine["end"]), 1),
        "handled_s": None if handled is None else round(scale.article(handled), 1),
        "late_by_s": None if handled is None else round(scale.article(handled - mine["end"]), 1),
        "lb2_status": int(lb_row["status"].iloc[0]) if not lb_row.empty else 0,
        "lb1_last_s": round(scale.article(req[req["node"] == "LB1"]["end"].max()), 1),
    }
    claims = [
        claim("client_gave_up", "LB2's client gave up (timed out).", mine["outcome"] == "timeout", mine["outcome"]),
        claim("handled_later", "The server still ran the handler for it, after the client had gone.",
              handled is not None and handled > mine["end"], f"handled at {values['handled_s']} s, client gave up "
              f"at {values['gave_up_s']} s"),
        claim("lb2_gave_up", "LB2 answered its client with a 504 when its own timeout ran out.",
              values["lb2_status"] == 504, f"LB2 answered {values['lb2_status']}"),
        claim("after_lb1_quiet", "It was handled only after LB1 went quiet for the idle timeout.",
              handled is not None and scale.article(handled) >= values["lb1_last_s"] + 0.9 * ARTICLE.read_timeout,
              f"LB1's last answer at {values['lb1_last_s']} s"),
    ]  # fmt: skip
    return ExperimentResult("ghost", params, scale, time.monotonic() - started, t, claims, values)

