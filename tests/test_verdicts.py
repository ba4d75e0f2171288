"""Verdicts from recorded runs (reallb/verdicts.py, reallb/health.py) and the load balancers' logs (reallb/logs.py).

No HAProxy or nginx here: each test builds the tables that ``RealRig.tables()`` would return for a
run (the same record classes, the same log lines the configs ask for) and judges them.
Times are lab seconds since the rig started; the log lines' wall clock is the lab's plus 1000 s.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from keepalive_lab.reallb.catalogue import scenario
from keepalive_lab.reallb.config import HAPROXY_FORMAT, NGINX_FORMAT
from keepalive_lab.reallb.health import EXTRAS as HEALTH_EXTRAS
from keepalive_lab.reallb.health import judge_health
from keepalive_lab.reallb.logs import (
    LBLogLine,
    balancer_records,
    haproxy_line,
    join_server_side,
    nginx_line,
    parse_fields,
)
from keepalive_lab.reallb.scenario import Plan, Trial, TrialStatus
from keepalive_lab.reallb.stats import HealthSample
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.reallb.verdicts import EXTRAS, judge_requests
from keepalive_lab.records import (
    AccessRecord,
    ConnState,
    ConnStateChange,
    Outcome,
    QueueSample,
    RequestRecord,
    to_frame,
)

T = RealLBTimes()  # read_timeout 2 s, lb_timeout 1 s
WALL_TO_MONO = -1000.0  # monotonic - wall: a line stamped at wall 1000.160 s happened 0.160 s into the run
A, B = "127.0.0.1:50424", "127.0.0.1:50428"  # the load balancers' server connections (the server's remote_addr)

_REQUEST_COLUMNS = ["request_id", "client", "node", "start", "end", "outcome", "status", "detail", "latency"]


def _req(rid: str, node: str, start: float, end: float, outcome: Outcome, status: int,
         client: str = "") -> RequestRecord:  # fmt: skip
    return RequestRecord(rid, client or rid.rsplit("-", 1)[0], node, start, end, outcome, status)


def _access(conn: int, addr: str, rid: str, start: float, end: float, write_error: str = "") -> AccessRecord:
    return AccessRecord(conn, addr, "GET", "/", "HTTP/1.1", 200, 3, rid, start, end, write_error)


def _conn(conn: int, addr: str, *marks: tuple[str, float]) -> list[ConnStateChange]:
    return [ConnStateChange(conn, addr, ConnState(state), at) for state, at in marks]


def rig_tables(requests=(), access=(), states=(), queue=(), lines=(), health=()) -> dict[str, pd.DataFrame]:
    """What ``RealRig.tables()`` returns for these records (t0 = 0: they are stamped in lab seconds)."""
    joined = join_server_side(list(lines), list(access))
    frames = {"requests": to_frame(requests), "access": to_frame(access), "states": to_frame(states),
              "queue": to_frame(queue), "health": to_frame(health), "lb": to_frame(balancer_records(joined)),
              "lb_timing": to_frame(joined).drop(columns="raw", errors="ignore")}  # fmt: skip
    if "start" in frames["requests"]:
        frames["requests"]["latency"] = frames["requests"]["end"] - frames["requests"]["start"]
    else:
        frames["requests"] = pd.DataFrame(columns=_REQUEST_COLUMNS)
    return frames


def _haproxy(node: str, text: str) -> LBLogLine:
    line = haproxy_line(node, text, WALL_TO_MONO)
    assert line is not None
    return line


def _nginx(node: str, text: str) -> LBLogLine:
    line = nginx_line(node, text, WALL_TO_MONO)
    assert line is not None
    return line


def judged(key: str, tables: dict, plan: Plan | None = None, output=None) -> Trial:
    """The trial of scenario ``key`` judged from ``tables``; the victim is client 2 unless ``plan`` says."""
    sc = scenario(key)
    trial = Trial(sc, TrialStatus.RAN, "", "", tables=tables, output=output or {})
    judge_requests(sc, tables, plan or Plan(["client-2-0"]), T, trial)
    return trial


def _claims(trial: Trial) -> dict[str, bool]:
    return {c.name.split(":", 1)[1]: c.held for c in trial.claims}


# -- a starved run: two HAProxy instances, one slot ----------------------------------------------


def _starved(holder: str, waiter: str, extra_states=()) -> dict:
    """What the clients and the server record of a starved run, as keywords of :func:`rig_tables`: ``holder``'s
    idle connection (A) holds the slot; ``waiter``'s request waits in the accept queue, gets 504 at 1.41 s, and
    the server runs it at 2.21 s (on B), once Go closed the idle connection (2.0 s idle)."""
    return dict(
        requests=[_req("client-1-0", holder, 0.100, 0.162, Outcome.OK, 200),
                  _req("client-2-0", waiter, 0.400, 1.412, Outcome.GATEWAY_TIMEOUT, 504)],
        access=[_access(1, A, "client-1-0", 0.104, 0.155),
                _access(2, B, "client-2-0", 2.210, 2.262, write_error="write tcp: broken pipe")],
        states=[*_conn(1, A, ("new", 0.102), ("active", 0.103), ("idle", 0.156), ("closed", 2.158)),
                *_conn(2, B, ("new", 2.159), ("active", 2.209), ("closed", 2.263)), *extra_states],
    )  # fmt: skip


def haproxy_starved(queue_lengths=(0, 1, 1, 0), extra_states=()) -> dict[str, pd.DataFrame]:
    """A starved run (:func:`_starved`) through haproxy-1 and haproxy-2, with HAProxy's log lines."""
    return rig_tables(
        **_starved("haproxy-1", "haproxy-2", extra_states),
        queue=[QueueSample(at, n) for at, n in zip((0.38, 0.42, 1.0, 2.2), queue_lengths)],
        lines=[_haproxy("haproxy-1", "lab id=client-1-0 st=200 tc=0 tr=52 ta=53 bi=127.0.0.1 bp=50424 term=---- "
                                     "at=1000160 thr=0"),
               _haproxy("haproxy-2", "lab id=client-2-0 st=504 tc=0 tr=-1 ta=1001 bi=127.0.0.1 bp=50428 term=sH-- "
                                     "at=1001410 thr=0")],
    )  # fmt: skip


def test_a_request_that_waited_for_a_held_slot_and_got_504_is_starved():
    trial = judged("haproxy-two", haproxy_starved())
    assert trial.observed == "starved"
    assert trial.evidence == (
        "client-1-0 via haproxy-1: ok after 0.06 s (LB connect 0 ms); "
        "client-2-0 via haproxy-2: 504 after 1.01 s (LB connect 0 ms); server ran it at 2.21 s"
    )


def test_a_starved_run_yields_the_numbers_the_page_quotes():
    v = judged("haproxy-two", haproxy_starved()).values
    assert (v["requests"], v["ok"], v["victim_outcome"], v["victim_status"]) == (2, 1, "504", 504)
    assert v["victim_latency"] == 1.012
    assert (v["victim_connect_ms"], v["victim_termination"], v["victim_response_ms"]) == (0.0, "sH--", None)
    assert v["victim_same_server_conn"] is False
    assert v["ghost_delay"] == pytest.approx(0.8) and v["ghost_write_error"] is True
    assert v["holder_idle_for"] == pytest.approx(2.002) and v["holder_closed_at"] == pytest.approx(2.158)
    assert v["queue_max_while_waiting"] == 1 and v["server_events_while_waiting"] == 0
    assert v["max_requests_per_conn"] == 1 and v["max_close_lag"] == pytest.approx(2.003)


def test_every_extra_claim_of_the_starved_haproxy_scenario_holds():
    trial = judged("haproxy-two", haproxy_starved())
    assert _claims(trial) == {name: True for name in scenario("haproxy-two").extras}
    assert all(c.name.startswith("haproxy-two:") for c in trial.claims)
    evidence = {c.name: c.evidence for c in trial.claims}
    assert evidence["haproxy-two:signature"] == "termination sH--, connect 0.0 ms, response None"
    assert evidence["haproxy-two:ghost"] == "ran 0.8 s after the 504"


def test_a_request_that_never_queued_and_a_server_that_saw_it_break_those_claims():
    busy = _conn(3, "127.0.0.1:50500", ("new", 0.9))  # a new connection while the victim waited
    trial = judged("haproxy-two", haproxy_starved(queue_lengths=(0, 0, 0, 0), extra_states=busy))
    claims = _claims(trial)
    assert claims["queued"] is False and claims["invisible"] is False
    assert claims["connect_instant"] and claims["ghost"]  # the others still hold
    evidence = {c.name: c.evidence for c in trial.claims}
    assert evidence["haproxy-two:queued"] == "accept queue up to 0 while it waited"
    assert evidence["haproxy-two:invisible"] == "1 server records in that time"


def test_a_holder_closed_long_before_the_idle_timeout_was_not_held_until_idle():
    tables = haproxy_starved()
    states = tables["states"]
    states.loc[(states["remote_addr"] == A) & (states["state"] == "closed"), "at"] = 0.5  # closed after 0.34 s idle
    assert _claims(judged("haproxy-two", tables))["held_until_idle"] is False


def test_the_starved_tables_do_not_pass_for_the_server_close_fix():
    trial = judged("haproxy-server-close", haproxy_starved())
    assert trial.observed == "starved" and trial.observed != trial.scenario.expected
    (one,) = trial.claims
    assert one.name == "haproxy-server-close:one_per_conn" and not one.held
    assert one.evidence == "at most 1 request(s) per connection, closed at most 2.003 s after the response"


def test_a_close_the_load_balancer_kept_from_the_server_is_close_not_passed():
    # Client 1 sent Connection: close; the server's connection from haproxy-1 still went idle after the
    # response and stayed open until Go's idle timeout: the header never reached the server.
    trial = judged("haproxy-client-close", haproxy_starved())
    assert trial.observed == "starved"
    assert _claims(trial) == {"close_not_passed": True, "held_until_idle": True, "connect_instant": True,
                              "queued": True}  # fmt: skip
    v = trial.values
    assert v["holder_went_idle"] is True and v["holder_open_after_response"] == pytest.approx(2.003)


def test_a_server_that_closed_right_after_the_response_got_the_close():
    tables = haproxy_starved()
    states = tables["states"]
    holder = states["remote_addr"] == A
    states.loc[holder & (states["state"] == "idle"), "state"] = "active"  # never idle...
    states.loc[holder & (states["state"] == "closed"), "at"] = 0.157  # ...closed 2 ms after the response
    trial = judged("haproxy-client-close", tables)
    (claim,) = [c for c in trial.claims if c.name.endswith("close_not_passed")]
    assert not claim.held
    assert claim.evidence == "went idle: False; open 0.002 s after the response"


# -- a served run: the server closes each connection after its response --------------------------


def haproxy_served() -> dict[str, pd.DataFrame]:
    return rig_tables(
        requests=[_req("client-1-0", "haproxy-1", 0.100, 0.162, Outcome.OK, 200),
                  _req("client-2-0", "haproxy-2", 0.400, 0.462, Outcome.OK, 200)],
        access=[_access(1, A, "client-1-0", 0.104, 0.155), _access(2, B, "client-2-0", 0.409, 0.457)],
        states=[*_conn(1, A, ("new", 0.102), ("active", 0.103), ("closed", 0.157)),
                *_conn(2, B, ("new", 0.407), ("active", 0.408), ("closed", 0.458))],
        queue=[QueueSample(at, 0) for at in (0.1, 0.2, 0.3, 0.4, 0.5)],
        lines=[_haproxy("haproxy-1", "lab id=client-1-0 st=200 tc=0 tr=52 ta=53 bi=127.0.0.1 bp=50424 term=---- "
                                     "at=1000160 thr=0"),
               _haproxy("haproxy-2", "lab id=client-2-0 st=200 tc=1 tr=51 ta=53 bi=127.0.0.1 bp=50428 term=---- "
                                     "at=1000459 thr=0")],
    )  # fmt: skip


def test_a_run_where_every_request_got_200_is_served():
    trial = judged("haproxy-server-close", haproxy_served())
    assert trial.observed == "served" == trial.scenario.expected
    assert "client-2-0 via haproxy-2: ok after 0.06 s (LB connect 1 ms)" in trial.evidence
    assert "server ran it" not in trial.evidence  # said only of failed requests


def test_a_served_run_yields_its_numbers_and_the_one_per_connection_claim():
    trial = judged("haproxy-server-close", haproxy_served())
    v = trial.values
    assert (v["requests"], v["ok"], v["victim_outcome"], v["victim_status"]) == (2, 2, "ok", 200)
    assert "ghost_delay" not in v  # a served request is no ghost
    assert v["server_events_while_waiting"] == 2  # the server accepted it and ran it
    assert v["queue_max_while_waiting"] == 0
    assert v["max_requests_per_conn"] == 1 and v["max_close_lag"] == pytest.approx(0.002)
    assert _claims(trial) == {"one_per_conn": True}


def _two_requests_on_one_connection(second_node: str, then: str) -> dict[str, pd.DataFrame]:
    """client-1-0 via haproxy-1, then client-2-0 via ``second_node``, both served over the server connection
    A, which ends ``then`` ("closed", "idle") after the second."""
    return rig_tables(
        requests=[_req("client-1-0", "haproxy-1", 0.1, 0.16, Outcome.OK, 200),
                  _req("client-2-0", second_node, 0.4, 0.46, Outcome.OK, 200)],
        access=[_access(1, A, "client-1-0", 0.104, 0.155), _access(1, A, "client-2-0", 0.409, 0.457)],
        states=_conn(1, A, ("new", 0.102), ("active", 0.103), ("idle", 0.156), ("active", 0.408), (then, 0.458)),
    )  # fmt: skip


def test_a_connection_that_served_two_requests_breaks_the_one_per_connection_claim():
    tables = _two_requests_on_one_connection("haproxy-2", then="closed")
    trial = judged("haproxy-server-close", tables)
    assert trial.observed == "served"
    assert trial.values["max_requests_per_conn"] == 2
    assert _claims(trial) == {"one_per_conn": False}


def test_reused_holds_when_the_second_request_went_over_the_first_ones_connection():
    tables = _two_requests_on_one_connection("haproxy-1", then="idle")
    trial = judged("haproxy-always", tables)
    assert trial.observed == "served" and trial.values["victim_same_server_conn"] is True
    assert _claims(trial) == {"reused": True}
    assert "max_close_lag" not in trial.values or trial.values["max_close_lag"] is None  # never closed


# -- nginx ---------------------------------------------------------------------------------------

_NGINX_TIMEOUT = (
    '2024/05/29 10:00:01 [error] 4243#4243: *3 upstream timed out (110: Connection timed out) while reading '
    'response header from upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", '
    'upstream: "http://127.0.0.1:40000/", host: "127.0.0.1:40002"'
)


def nginx_starved() -> dict[str, pd.DataFrame]:
    """A starved run (:func:`_starved`) through nginx-1 and nginx-2, with nginx's log lines."""
    return rig_tables(
        **_starved("nginx-1", "nginx-2"),
        queue=[QueueSample(0.42, 1)],
        lines=[_nginx("nginx-1", "lab id=client-1-0 st=200 rt=0.053 uct=0.000 uht=0.052 ust=200 msec=1000.160 "
                                 "worker=4242 conn=1"),
               _nginx("nginx-2", "lab id=client-2-0 st=504 rt=1.001 uct=0.000 uht=- ust=504 msec=1001.410 "
                                 "worker=4243 conn=1")],
    )  # fmt: skip


def test_nginx_with_upstream_keepalive_starves_and_says_so_in_its_error_log():
    trial = judged("nginx-keepalive", nginx_starved(), output={"nginx-1": "", "nginx-2": _NGINX_TIMEOUT})
    assert trial.observed == "starved"
    assert _claims(trial) == {name: True for name in scenario("nginx-keepalive").extras}
    assert trial.values["victim_termination"] == "504"  # nginx's $upstream_status
    assert trial.values["victim_response_ms"] is None and trial.values["victim_connect_ms"] == 0.0


def test_nginx_lines_get_the_server_connection_only_when_the_server_ran_the_request_in_time():
    lb = nginx_starved()["lb"].set_index("request_id")
    assert lb.loc["client-1-0", "upstream_conn"] == A  # from the server's access log
    assert lb.loc["client-2-0", "upstream_conn"] == ""  # the server ran it after the 504: not this line's


def test_upstream_timed_out_fails_when_the_error_log_does_not_say_it():
    trial = judged("nginx-keepalive", nginx_starved(), output={"nginx-2": "[notice] 4243#4243: signal process"})
    (claim,) = [c for c in trial.claims if c.name.endswith("upstream_timed_out")]
    assert not claim.held and claim.evidence == "not in its error log"
    assert "nginx-2" in claim.text


# -- inconclusive and mixed ----------------------------------------------------------------------


def test_a_run_without_requests_is_inconclusive_and_no_claim_holds():
    trial = judged("haproxy-two", rig_tables())
    assert trial.observed == "inconclusive"
    assert trial.values == {"requests": 0, "ok": 0}
    assert len(trial.claims) == len(scenario("haproxy-two").extras) and not any(c.held for c in trial.claims)


def test_a_run_where_a_request_that_had_a_connection_also_failed_is_mixed():
    tables = haproxy_starved()
    tables["requests"].loc[0, ["outcome", "status"]] = ["timeout", 0]
    assert judged("haproxy-two", tables).observed == "mixed"


def test_an_overlap_run_whose_requests_did_not_overlap_is_inconclusive():
    plan = Plan(["client-2-0"])
    trial = judged("haproxy-overlap", haproxy_starved(), plan)  # client 2 arrived after client 1 was answered
    assert trial.observed == "inconclusive"
    assert plan.notes == {"overlapped at the load balancer": False}
    assert "overlapped at the load balancer: False" in trial.evidence


def test_an_overlap_run_whose_requests_overlapped_is_judged():
    tables = haproxy_starved()
    timing = tables["lb_timing"]
    timing.loc[timing["request_id"] == "client-1-0", "end"] = 0.5  # still in flight when client 2 arrived
    plan = Plan(["client-2-0"])
    assert judged("haproxy-overlap", tables, plan).observed == "starved"
    assert plan.notes == {"overlapped at the load balancer": True}


def test_a_workers_run_without_a_same_worker_request_is_inconclusive():
    # Both requests were served, but no fresh connection landed on the holder's worker: no comparison.
    plan = Plan(["client-other-0"], {"workers": {"client-1": "4242", "client-other": "4243"}})
    assert judged("nginx-workers", nginx_starved(), plan).observed == "inconclusive"


def test_a_workers_run_where_only_the_other_workers_request_failed_is_starved():
    tables = rig_tables(
        requests=[_req("client-1-0", "nginx-1", 0.10, 0.16, Outcome.OK, 200),
                  _req("client-same-0", "nginx-1", 0.40, 0.46, Outcome.OK, 200),
                  _req("client-other-0", "nginx-1", 0.50, 1.51, Outcome.GATEWAY_TIMEOUT, 504)],
        access=[_access(1, A, "client-1-0", 0.104, 0.155), _access(1, A, "client-same-0", 0.409, 0.457)],
        states=_conn(1, A, ("new", 0.102), ("active", 0.103), ("idle", 0.156), ("active", 0.408), ("idle", 0.458)),
    )  # fmt: skip
    trial = judged("nginx-workers", tables, Plan(["client-other-0"]))
    assert trial.observed == "starved" == trial.scenario.expected
    assert trial.values["victim_outcome"] == "504" and "ghost_delay" not in trial.values  # never ran
    assert "client-other-0 via nginx-1: 504 after 1.01 s; server ran it never" in trial.evidence


def test_an_unknown_extra_claim_is_refused():
    sc = dataclasses.replace(scenario("haproxy-two"), extras=("telepathy",))
    trial = Trial(sc, TrialStatus.RAN, "", "", tables=haproxy_starved())
    with pytest.raises(ValueError, match="unknown extra claim 'telepathy'"):
        judge_requests(sc, trial.tables, Plan(["client-2-0"]), T, trial)
    assert "telepathy" not in EXTRAS


# -- health checks (reallb/health.py) ------------------------------------------------------------

_HOLDER_CONN = _conn(1, A, ("new", 0.055), ("active", 0.056), ("idle", 0.11), ("active", 3.0), ("idle", 3.2),
                     ("closed", 5.2))  # fmt: skip  (the slot is held from 0.055 s to 5.2 s)
_FREED = 5.2


def health_run(statuses: list[tuple[float, str]], probes: list[tuple[float, float, int]],
               queue: list[tuple[float, int]] = (), extra_states=()) -> dict:  # fmt: skip
    """A holder through haproxy-1, a probe through the checked haproxy-2; ``probes``: (start, end, status).

    Each probe request that reached the server has a server connection of its own (haproxy-2 drops
    it after a 504): queued while the slot is held, accepted once it frees. A 503 is HAProxy's own
    answer (server DOWN): no connection. ``queue``: the accept-queue samples, (at, length).
    """
    outcome = {200: Outcome.OK, 503: Outcome.UNAVAILABLE, 504: Outcome.GATEWAY_TIMEOUT}
    requests = [_req("holder-0", "haproxy-1", 0.05, 0.12, Outcome.OK, 200, client="holder"),
                _req("holder-1", "haproxy-1", 2.99, 3.21, Outcome.OK, 200, client="holder")]  # fmt: skip
    lines = [_haproxy("haproxy-1", "lab id=holder-0 st=200 tc=0 tr=60 ta=70 bi=127.0.0.1 bp=50424 term=---- "
                                   "at=1000120"),
             _haproxy("haproxy-1", "lab id=holder-1 st=200 tc=0 tr=200 ta=220 bi=127.0.0.1 bp=50424 term=---- "
                                   "at=1003210")]  # fmt: skip
    states = list(_HOLDER_CONN)
    for i, (start, end, status) in enumerate(probes):
        rid, port = f"probe-{i}", 50430 + i
        requests.append(_req(rid, "haproxy-2", start, end, outcome[status], status, client="probe"))
        ms, at = round((end - start) * 1000), round((end + 1000.0) * 1000)
        if status == 503:
            lines.append(_haproxy("haproxy-2", f"lab id={rid} st=503 tc=-1 tr=-1 ta={ms} bi=- bp=- term=SC-- at={at}"))
            continue
        term = "sH--" if status == 504 else "----"
        lines.append(_haproxy("haproxy-2", f"lab id={rid} st={status} tc=0 tr={-1 if status == 504 else ms} ta={ms} "
                                           f"bi=127.0.0.1 bp={port} term={term} at={at}"))  # fmt: skip
        accepted = max(start, _FREED) + 0.001 * (i + 1)
        states += _conn(10 + i, f"127.0.0.1:{port}", ("new", accepted), ("closed", accepted + 0.0005))
    return rig_tables(
        requests=requests,
        access=[_access(1, A, "holder-0", 0.06, 0.11), _access(1, A, "holder-1", 3.01, 3.19)],
        states=states + list(extra_states),
        queue=[QueueSample(at, n) for at, n in queue],
        lines=lines,
        health=[HealthSample("haproxy-2", at, status) for at, status in statuses],
    )


def judged_health(key: str, tables: dict) -> Trial:
    trial = Trial(scenario(key), TrialStatus.RAN, "", "", tables=tables)
    judge_health(trial.scenario, tables, T, trial)
    return trial


_TCP_HEALTH = [(i * 0.5, "UP") for i in range(13)]
_TCP_PROBES = [(0.2, 1.2, 504), (1.4, 2.4, 504), (2.6, 3.6, 504), (3.8, 4.8, 504), (5.0, 5.25, 200)]
# What the kernel queued: each 504'd probe's connection, opened at its request and never accepted until 5.2 s
# (haproxy-2 closed its end; the kernel keeps the connection); no check's connection.
_TCP_QUEUE = [(0.5, 1), (1.0, 1), (1.5, 2), (2.0, 2), (2.5, 2), (3.0, 3), (3.5, 3), (4.0, 4), (4.5, 4), (5.0, 5),
              (5.5, 0), (6.0, 0)]  # fmt: skip


def test_a_tcp_check_keeps_a_starved_server_up_while_every_request_through_it_gets_504():
    trial = judged_health("check-tcp", health_run(_TCP_HEALTH, _TCP_PROBES, _TCP_QUEUE))
    assert trial.observed == "stays UP" == trial.scenario.expected
    v = trial.values
    assert (v["slot_taken_at"], v["slot_freed_at"]) == (0.055, 5.2)
    assert (v["probe_504_while_held"], v["probe_ok_while_held"], v["probe_503"]) == (4, 0, 0)
    assert "down_after" not in v
    assert trial.evidence == ("slot held 0.06-5.20 s; 10 health readings in that window, all ['UP']; probe through "
                              "haproxy-2: 4 x 504, 0 ok while the slot was held")  # fmt: skip


def test_the_tcp_checks_connections_never_queued_when_the_queue_holds_only_the_probes():
    trial = judged_health("check-tcp", health_run(_TCP_HEALTH, _TCP_PROBES, _TCP_QUEUE))
    (claim,) = trial.claims
    assert claim.name == "check-tcp:check_not_queued" and claim.held, claim.evidence
    v = trial.values
    assert (v["queue_max"], v["queue_excess"], v["unlogged_accepted"], v["checks_while_held"]) == (5, 0, [], 10)
    assert "accept queue up to 5 then, at most 0 beyond the logged requests' connections" in claim.evidence


def test_one_queued_connection_more_than_the_logged_requests_is_a_check_that_queued():
    queue = [(at, n + 1 if at == 3.0 else n) for at, n in _TCP_QUEUE]
    (claim,) = judged_health("check-tcp", health_run(_TCP_HEALTH, _TCP_PROBES, queue)).claims
    assert not claim.held and "at most 1 beyond the logged requests' connections" in claim.evidence


def test_an_accepted_connection_no_load_balancer_logged_breaks_the_check_claim():
    stray = _conn(99, "127.0.0.1:51999", ("new", 5.3), ("closed", 5.31))  # a check's connection, accepted late
    trial = judged_health("check-tcp", health_run(_TCP_HEALTH, _TCP_PROBES, _TCP_QUEUE, extra_states=stray))
    (claim,) = trial.claims
    assert not claim.held and trial.values["unlogged_accepted"] == ["127.0.0.1:51999"]
    assert claim.evidence.endswith("1 without a logged request")


def test_an_up_server_that_still_answered_the_probe_while_held_is_mixed():
    probes = [(0.2, 0.26, 200), *_TCP_PROBES[1:]]
    trial = judged_health("check-tcp", health_run(_TCP_HEALTH, probes, _TCP_QUEUE))
    assert trial.observed == "mixed" and trial.values["probe_ok_while_held"] == 1


_HTTP_HEALTH = [(0.0, "UP"), (0.5, "UP"), (1.0, "UP 1/3"), (1.5, "UP 2/3"),
                *[(2.0 + 0.5 * i, "DOWN") for i in range(7)], (5.5, "DOWN 1/2"), (6.0, "UP"), (6.5, "UP")]  # fmt: skip
_HTTP_PROBES = [(0.2, 1.2, 504), (1.4, 2.4, 504), *[(2.6 + 0.2 * i, 2.601 + 0.2 * i, 503) for i in range(17)],
                (6.1, 6.16, 200), (6.3, 6.36, 200)]  # fmt: skip


def test_an_http_check_marks_a_starved_server_down_then_up_once_the_slot_frees():
    trial = judged_health("check-http", health_run(_HTTP_HEALTH, _HTTP_PROBES))
    assert trial.observed == "DOWN, then UP" == trial.scenario.expected
    v = trial.values
    assert v["down_after"] == pytest.approx(1.945) and v["up_after_freed"] == pytest.approx(0.8)
    assert v["probe_503"] == 17 and v["max_503_latency"] == pytest.approx(0.001)
    assert (v["probe_504_while_held"], v["probe_ok_while_held"]) == (2, 0)
    assert "marked the server DOWN 1.95 s later; 17 probe requests got 503" in trial.evidence
    assert trial.evidence.endswith("UP again 0.80 s later; 2 probe requests served after")
    assert trial.claims == []  # the scenario asks for no extra claim


def test_a_server_never_up_again_before_the_end_is_only_down():
    health = [(at, status) for at, status in _HTTP_HEALTH if at < 6.0]
    probes = [p for p in _HTTP_PROBES if p[2] != 200]
    trial = judged_health("check-http", health_run(health, probes))
    assert trial.observed == "DOWN"
    assert "up_after_freed" not in trial.values
    assert trial.evidence.endswith("not UP again before the end")


def test_a_health_run_whose_holder_was_never_served_is_inconclusive():
    tables = health_run(_TCP_HEALTH, _TCP_PROBES, _TCP_QUEUE)
    tables["access"] = pd.DataFrame()
    trial = judged_health("check-tcp", tables)
    assert trial.observed == "inconclusive" and trial.claims == []
    assert trial.evidence == "the holder was never served or no health state was read"


def test_a_health_run_without_health_readings_is_inconclusive():
    assert judged_health("check-http", health_run([], _HTTP_PROBES)).observed == "inconclusive"


def test_an_unknown_extra_claim_of_the_health_pattern_is_refused():
    sc = dataclasses.replace(scenario("check-tcp"), extras=("telepathy",))
    trial = Trial(sc, TrialStatus.RAN, "", "", tables=health_run(_TCP_HEALTH, _TCP_PROBES, _TCP_QUEUE))
    with pytest.raises(ValueError, match="unknown extra claim 'telepathy' for the health pattern"):
        judge_health(sc, trial.tables, T, trial)
    assert HEALTH_EXTRAS == ("check_not_queued",)


# -- log lines -----------------------------------------------------------------------------------


def test_both_log_formats_start_with_the_tag_the_parser_looks_for():
    assert HAPROXY_FORMAT.split()[0] == NGINX_FORMAT.split()[0] == "lab"
    keys = {part.partition("=")[0] for part in HAPROXY_FORMAT.split()[1:]}
    assert {"id", "st", "tc", "tr", "ta", "bi", "bp", "term", "at"} <= keys
    keys = {part.partition("=")[0] for part in NGINX_FORMAT.split()[1:]}
    assert {"id", "st", "rt", "uct", "uht", "ust", "msec", "worker"} <= keys


@pytest.mark.parametrize(
    "text",
    ["", "   ", "[NOTICE]   (12345) : haproxy version is 2.6.12-1+deb12u1",
     "[WARNING]  (12345) : Server lab_back/lab is DOWN, reason: Layer7 timeout, check duration: 500ms.",
     "127.0.0.1 - - [29/May/2024:10:00:01 +0000] \"GET / HTTP/1.1\" 200 3", "laboratory id=x st=200"],
)  # fmt: skip
def test_lines_that_are_not_lab_lines_are_skipped(text):
    assert parse_fields(text) is None
    assert haproxy_line("haproxy-1", text, 0.0) is None
    assert nginx_line("nginx-1", text, 0.0) is None


def test_parse_fields_reads_key_value_pairs_after_the_tag():
    # A word without "=" continues the previous field, as nginx's per-attempt lists do ("0.000, 0.001").
    assert parse_fields("lab id=c-0 st=200 stray a=b=c empty=") == {"id": "c-0", "st": "200 stray", "a": "b=c",
                                                                   "empty": ""}  # fmt: skip


def test_an_nginx_line_after_a_retry_keeps_the_last_attempt():
    line = nginx_line("n", "lab id=a st=200 rt=1.002 uct=0.000, 0.001 uht=-, 0.050 ust=502, 200 msec=1000.5 worker=1",
                      0.0)  # fmt: skip
    assert (line.connect_ms, line.response_ms, line.termination) == (1.0, 50.0, "502,200")


def test_an_haproxy_line_becomes_times_on_the_labs_clock_and_its_server_connection():
    line = _haproxy("haproxy-2", "lab id=client-2-0 st=504 tc=0 tr=-1 ta=1001 bi=127.0.0.1 bp=50428 term=sH-- "
                                 "at=1001410 thr=1")  # fmt: skip
    assert (line.node, line.request_id, line.status, line.termination, line.worker) == (
        "haproxy-2", "client-2-0", 504, "sH--", "")  # fmt: skip
    assert line.end == pytest.approx(1.410) and line.start == pytest.approx(0.409)
    assert (line.connect_ms, line.response_ms, line.upstream_conn) == (0, None, B)
    assert line.raw.startswith("lab id=client-2-0")


def test_an_haproxy_line_without_a_server_connection_or_request_id():
    # HAProxy's 503 with no server (DOWN): no connect, no response, no backend address; no X-Request-Id sent.
    line = _haproxy("haproxy-2", "lab id=- st=503 tc=-1 tr=-1 ta=0 bi=- bp=- term=SC-- at=1002600 thr=0")
    assert (line.request_id, line.status, line.upstream_conn) == ("", 503, "")
    assert (line.connect_ms, line.response_ms) == (None, None)
    assert line.start == line.end == pytest.approx(2.6)


def test_an_nginx_line_becomes_times_on_the_labs_clock_and_its_worker():
    line = _nginx("nginx-1", "lab id=c-1 st=200 rt=0.053 uct=0.001 uht=0.052 ust=200 msec=1000.160 worker=4242 "
                             "conn=7")  # fmt: skip
    assert (line.request_id, line.status, line.termination, line.worker, line.upstream_conn) == (
        "c-1", 200, "200", "4242", "")  # fmt: skip
    assert line.connect_ms == pytest.approx(1.0) and line.response_ms == pytest.approx(52.0)
    assert line.end == pytest.approx(0.160) and line.start == pytest.approx(0.107)


def test_an_nginx_line_without_a_time_stamp_is_skipped():
    assert nginx_line("nginx-1", "lab id=c-1 st=200 rt=0.053 uct=- uht=- ust=- msec=- worker=1", 0.0) is None
    assert nginx_line("nginx-1", "lab id=c-1 st=200 rt=x msec=1000.0", 0.0) is None


def test_balancer_records_mark_a_connection_reused_per_instance_in_the_order_requests_ended():
    lines = [
        _haproxy("haproxy-1", "lab id=c-2 st=200 tc=0 tr=50 ta=51 bi=127.0.0.1 bp=50424 term=---- at=1000300"),
        _haproxy("haproxy-1", "lab id=c-1 st=200 tc=0 tr=50 ta=51 bi=127.0.0.1 bp=50424 term=---- at=1000200"),
        _haproxy("haproxy-2", "lab id=d-1 st=200 tc=0 tr=50 ta=51 bi=127.0.0.1 bp=50424 term=---- at=1000400"),
        _haproxy("haproxy-2", "lab id=d-2 st=503 tc=-1 tr=-1 ta=0 bi=- bp=- term=SC-- at=1000500"),
        _haproxy("haproxy-2", "lab id=d-3 st=503 tc=-1 tr=-1 ta=0 bi=- bp=- term=SC-- at=1000600"),
    ]  # fmt: skip
    records = balancer_records(lines)
    assert [(r.node, r.request_id, r.reused) for r in records] == [
        ("haproxy-1", "c-1", False), ("haproxy-1", "c-2", True),
        ("haproxy-2", "d-1", False),  # the same address seen by another instance is not this one's pool
        ("haproxy-2", "d-2", False), ("haproxy-2", "d-3", False),  # no connection: never "reused"
    ]  # fmt: skip
    assert records[0].detail == "connect 0 ms, response headers 50 ms"  # "----": nothing to add
    assert records[3].detail == "connect none, response headers none, termination SC--"


def test_nginx_records_are_reused_through_the_server_side_join_and_name_their_worker():
    access = [_access(1, A, "n-1", 0.105, 0.150), _access(1, A, "n-2", 0.305, 0.350)]
    lines = [_nginx("nginx-1", f"lab id=n-{i} st=200 rt=0.050 uct=0.000 uht=0.049 ust=200 msec={1000.1 + 0.2 * i:.3f} "
                               "worker=4242 conn=3") for i in (1, 2)]  # fmt: skip
    records = balancer_records(join_server_side(lines, access))
    assert [(r.upstream_conn, r.reused) for r in records] == [(A, False), (A, True)]
    assert records[0].detail == "connect 0 ms, response headers 49 ms, worker 4242, termination 200"


def test_the_server_side_join_keeps_a_connection_the_load_balancer_logged():
    line = _haproxy("haproxy-1", "lab id=c-1 st=200 tc=0 tr=50 ta=51 bi=127.0.0.1 bp=50424 term=---- at=1000200")
    (joined,) = join_server_side([line], [_access(9, B, "c-1", 0.15, 0.19)])
    assert joined.upstream_conn == A  # HAProxy's own %bi:%bp wins
    (unknown,) = join_server_side([_nginx("nginx-1", "lab id=- st=200 rt=0.05 msec=1000.2")],
                                  [_access(9, B, "", 0.15, 0.19)])  # fmt: skip
    assert unknown.upstream_conn == ""  # no request id: nothing to join on
