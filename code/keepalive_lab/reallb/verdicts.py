"""Verdicts and claims for a scenario of requests, from its tables alone.

Theory of operation
-------------------
:func:`judge_requests` decides between ``served`` (every request got 200),
``starved`` (the request that needed a server connection of its own got 504 or
the client's timeout, every other request was served), ``mixed`` and
``inconclusive``. It fills the trial's ``values`` with the numbers a page
quotes, and adds the scenario's extra claims (:data:`EXTRAS`), each checked
against the server's and the load balancers' own records (the health-check
and idle-lifetime patterns have their own judges, :mod:`.health` and
:mod:`.lifetimes`):

``connect_instant``  the starved request's connect succeeded at once (``INSTANT_MS``);
``queued``           the server's accept queue held a connection while it waited;
``invisible``        the server recorded no new connection and ran no request meanwhile;
``ghost``            the server ran it after the load balancer had answered 504;
``held_until_idle``  the first instance's idle connection lasted Go's idle timeout;
``signature``        HAProxy logged ``sH--``, an instant connect and no response time;
``upstream_timed_out`` nginx's error log says so;
``reused``           the second client's request went over the first one's server connection;
``one_per_conn``     the server closed each connection right after its only request;
``close_not_passed`` client 1 sent ``Connection: close``, yet the server's connection from the
                     load balancer went idle after the response and stayed open: the header
                     never reached the server (Go closes after a request that carries it).
"""

from __future__ import annotations

import pandas as pd

from keepalive_lab.lab.results import Claim
from keepalive_lab.reallb.scenario import Plan, Scenario, Trial
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.records import Outcome

__all__ = ["judge_requests", "first_row", "FAILED", "EXTRAS", "SLACK"]

FAILED = (Outcome.GATEWAY_TIMEOUT, Outcome.TIMEOUT)
# A connect "at once": the kernel completes a loopback handshake in microseconds; the load balancer's
# own clock adds its event loop's delay (a few ms on a busy machine). The wait that follows is 1 s.
INSTANT_MS = 50.0
# How late "right after" or "at the timeout" may be on a busy machine, in seconds; far below the 2 s
# idle timeout that tells the two cases apart.
SLACK = 0.5
EXTRAS = (
    "connect_instant", "queued", "invisible", "ghost", "held_until_idle", "signature", "upstream_timed_out",
    "reused", "one_per_conn", "close_not_passed",
)  # fmt: skip


def first_row(df: pd.DataFrame, column: str, value) -> pd.Series | None:
    """The first row whose ``column`` equals ``value``; None when there is none."""
    if df.empty or column not in df:
        return None
    hit = df[df[column] == value]
    return None if hit.empty else hit.iloc[0]


def judge_requests(sc: Scenario, tables: dict[str, pd.DataFrame], plan: Plan, t: RealLBTimes, trial: Trial) -> None:
    req, access, timing = tables["requests"], tables["access"], tables["lb_timing"]
    victims = req[req["request_id"].isin(plan.victims)]
    others = req[~req["request_id"].isin(plan.victims)]
    both_workers = plan.victims and (req["request_id"] == "client-same-0").any() if not req.empty else False
    overlapped = _overlapped(timing)
    if sc.pattern == "overlap":
        plan.notes["overlapped at the load balancer"] = overlapped
    if req.empty or (sc.pattern == "workers" and not both_workers) or (sc.pattern == "overlap" and not overlapped):
        trial.observed = "inconclusive"
    elif (req["outcome"] == "ok").all():
        trial.observed = "served"
    elif not victims.empty and victims["outcome"].isin(FAILED).all() and (others["outcome"] == "ok").all():
        trial.observed = "starved"
    else:
        trial.observed = "mixed"
    parts = []
    for r in req.sort_values("start").itertuples():
        text = f"{r.request_id} via {r.node or 'direct'}: {r.outcome} after {r.latency:.2f} s"
        lb = first_row(timing, "request_id", r.request_id)
        if lb is not None and pd.notna(lb["connect_ms"]):
            text += f" (LB connect {lb['connect_ms']:.0f} ms)"
        seen = first_row(access, "request_id", r.request_id)
        if r.outcome != "ok":
            text += "; server ran it " + (f"at {seen['handler_start']:.2f} s" if seen is not None else "never")
        parts.append(text)
    for key, value in plan.notes.items():
        parts.append(f"{key}: {value}")
    trial.evidence = "; ".join(parts)
    _victim_values(sc, req, access, timing, plan, t, trial)
    _connection_values(trial)
    for name in sc.extras:
        trial.claims.append(_extra_claim(sc, name, trial.values, t, trial))


def _overlapped(timing: pd.DataFrame) -> bool:
    """Whether the load balancer received client 2's request before it finished client 1's."""
    first, second = first_row(timing, "request_id", "client-1-0"), first_row(timing, "request_id", "client-2-0")
    return first is not None and second is not None and bool(second["start"] < first["end"])


def _connection_values(trial: Trial) -> None:
    """How many requests each server connection carried, and how soon it closed after its last one."""
    access, states = trial.tables["access"], trial.tables["states"]
    if access.empty or states.empty:
        return
    closed = states[states["state"] == "closed"].groupby("remote_addr")["at"].min()
    per_conn = access.groupby("remote_addr")
    trial.values["max_requests_per_conn"] = int(per_conn.size().max())
    lags = [closed[addr] - rows["handler_end"].max() for addr, rows in per_conn if addr in closed.index]
    trial.values["max_close_lag"] = round(float(max(lags)), 3) if len(lags) == per_conn.ngroups else None


def _victim_values(sc, req, access, timing, plan, t: RealLBTimes, trial: Trial) -> None:
    v = trial.values
    v["requests"] = len(req)
    v["ok"] = int((req["outcome"] == "ok").sum()) if not req.empty else 0
    if not plan.victims:
        return
    victim = first_row(req, "request_id", plan.victims[0])
    if victim is None:
        return
    v["victim_outcome"] = victim["outcome"]
    v["victim_status"] = int(victim["status"])
    v["victim_latency"] = round(float(victim["latency"]), 3)
    lb = first_row(timing, "request_id", victim["request_id"])
    if lb is not None and pd.notna(lb["connect_ms"]):
        v["victim_connect_ms"] = float(lb["connect_ms"])
    if lb is not None:
        v["victim_termination"] = lb["termination"]
        v["victim_response_ms"] = lb["response_ms"] if pd.notna(lb["response_ms"]) else None
    # When the load balancer received the request and answered it, by its own log (the client's
    # clock runs in the lab's process, which a busy machine can delay).
    start, end = (float(lb["start"]), float(lb["end"])) if lb is not None else (victim["start"], victim["end"])
    seen = first_row(access, "request_id", victim["request_id"])
    first = first_row(access, "request_id", "client-1-0")
    if seen is not None and first is not None:
        v["victim_same_server_conn"] = bool(seen["remote_addr"] == first["remote_addr"])
    if seen is not None and victim["outcome"] != "ok":
        v["ghost_delay"] = round(float(seen["handler_start"] - end), 3)
        v["ghost_write_error"] = bool(seen["write_error"])
    holder = first_row(access, "request_id", "client-1-0")
    states = trial.tables["states"]
    if holder is not None and not states.empty:
        mine = states[states["remote_addr"] == holder["remote_addr"]]
        idle = mine[mine["state"] == "idle"]
        closed = mine[mine["state"] == "closed"]
        if not idle.empty and not closed.empty:
            v["holder_idle_for"] = round(float(closed["at"].iloc[0] - idle["at"].iloc[-1]), 3)
            v["holder_closed_at"] = round(float(closed["at"].iloc[0]), 3)
        v["holder_went_idle"] = bool((idle["at"] >= holder["handler_end"]).any())
        end_of_record = float(closed["at"].iloc[0]) if not closed.empty else float(states["at"].max())
        lasted = end_of_record - holder["handler_end"]
        v["holder_open_after_response"] = round(float(lasted), 3)
    queue = trial.tables["queue"]
    if not queue.empty:
        waiting = queue[(queue["at"] > start) & (queue["at"] < end)]
        v["queue_max_while_waiting"] = int(waiting["length"].max()) if not waiting.empty else 0
    new_conns = 0 if states.empty else int(((states["state"] == "new") & states["at"].between(start, end)).sum())
    handled = 0 if access.empty else int(access["handler_start"].between(start, end).sum())
    v["server_events_while_waiting"] = new_conns + handled


def _extra_claim(sc: Scenario, name: str, v: dict, t: RealLBTimes, trial: Trial) -> Claim:
    key = f"{sc.key}:{name}"
    if name == "upstream_timed_out":
        node = sc.nodes[-1]
        held = "upstream timed out" in trial.output.get(node, "")
        return Claim(key, f"{sc.title}: {node}'s error log says the upstream timed out", held,
                     "found" if held else "not in its error log")  # fmt: skip
    if name == "connect_instant":
        ms = v.get("victim_connect_ms")
        held = ms is not None and ms <= INSTANT_MS and v.get("victim_outcome") == "504"
        return Claim(key, f"{sc.title}: the starved request's connect succeeded at once (the kernel's handshake)",
                     held, f"connect {ms} ms, outcome {v.get('victim_outcome')}")  # fmt: skip
    if name == "ghost":
        delay = v.get("ghost_delay")
        held = delay is not None and delay > 0
        return Claim(key, f"{sc.title}: the server ran the request after the load balancer had answered 504",
                     held, f"ran {delay} s after the 504" if delay is not None else "never ran")  # fmt: skip
    if name == "reused":
        same = v.get("victim_same_server_conn")
        return Claim(key, f"{sc.title}: the second client's request went over the first one's server connection",
                     bool(same), f"same server connection: {same}")  # fmt: skip
    if name == "signature":
        term, resp, ms = v.get("victim_termination"), v.get("victim_response_ms"), v.get("victim_connect_ms")
        held = str(term).startswith("sH") and resp is None and ms is not None and ms <= INSTANT_MS
        return Claim(key, f"{sc.title}: HAProxy logged the 504 as sH-- with an instant connect and no response time",
                     held, f"termination {term}, connect {ms} ms, response {resp}")  # fmt: skip
    if name == "queued":
        n = v.get("queue_max_while_waiting")
        return Claim(key, f"{sc.title}: the server's accept queue held a connection while the request waited",
                     bool(n), f"accept queue up to {n} while it waited")  # fmt: skip
    if name == "invisible":
        n = v.get("server_events_while_waiting")
        return Claim(key, f"{sc.title}: while the request waited, the server saw no new connection and ran nothing",
                     n == 0, f"{n} server records in that time")  # fmt: skip
    if name == "one_per_conn":
        most, lag = v.get("max_requests_per_conn"), v.get("max_close_lag")
        held = most == 1 and lag is not None and lag <= SLACK
        evidence = f"at most {most} request(s) per connection, closed at most {lag} s after the response"
        return Claim(key, f"{sc.title}: the server closed each connection right after its only request", held, evidence)
    if name == "close_not_passed":
        idle, lasted = v.get("holder_went_idle"), v.get("holder_open_after_response")
        held = bool(idle) and lasted is not None and lasted > SLACK
        return Claim(key, f"{sc.title}: the client's Connection: close did not reach the server: the load "
                     "balancer's server connection went idle after the response and stayed open", held,
                     f"went idle: {idle}; open {lasted} s after the response")  # fmt: skip
    if name == "held_until_idle":
        idle = v.get("holder_idle_for")
        # Not closed before Go's idle timeout (by the load balancer), and closed by Go at it (give or
        # take the scheduling delay of a busy machine).
        held = idle is not None and t.read_timeout - 0.05 <= idle <= t.read_timeout + SLACK
        return Claim(key, f"{sc.title}: the first instance's idle connection held the slot until Go's idle timeout",
                     held, f"idle {idle} s before the server closed it (ReadTimeout {t.read_timeout} s)")  # fmt: skip
    raise ValueError(f"unknown extra claim {name!r}")
