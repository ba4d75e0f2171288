"""Verdicts and claims for one real-load-balancer scenario, from its tables alone.

Theory of operation
-------------------
:func:`judge_requests` decides between ``served`` (every request got 200),
``starved`` (the request that needed a server connection of its own got 504 or
the client's timeout, every other request was served), ``mixed`` and
``inconclusive``; :func:`judge_health` between ``stays UP`` and
``DOWN, then UP`` for the health-check pattern. Both fill the trial's
``values`` with the numbers a page quotes, and add the scenario's extra claims
(:data:`EXTRAS`), each checked against the server's and the load balancers'
own records:

``connect_instant``  the starved request's connect succeeded at once (``INSTANT_MS``);
``queued``           the server's accept queue held a connection while it waited;
``invisible``        the server recorded no new connection and ran no request meanwhile;
``ghost``            the server ran it after the load balancer had answered 504;
``held_until_idle``  the first instance's idle connection lasted Go's idle timeout;
``signature``        HAProxy logged ``sH--``, an instant connect and no response time;
``upstream_timed_out`` nginx's error log says so;
``reused``           the second client's request went over the first one's server connection;
``one_per_conn``     the server closed each connection right after its only request.
"""

from __future__ import annotations

import pandas as pd

from keepalive_lab.lab.results import Claim
from keepalive_lab.reallb.scenario import Plan, Scenario, Trial
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.records import Outcome

__all__ = ["judge_requests", "judge_health", "FAILED", "EXTRAS"]

FAILED = (Outcome.GATEWAY_TIMEOUT, Outcome.TIMEOUT)
# A connect "at once": the kernel completes a loopback handshake in microseconds; the load balancer's
# own clock adds its event loop's delay (a few ms on a busy machine). The wait that follows is 1 s.
INSTANT_MS = 50.0
# How late "right after" or "at the timeout" may be on a busy machine, in seconds; far below the 2 s
# idle timeout that tells the two cases apart.
SLACK = 0.5
EXTRAS = (
    "connect_instant", "queued", "invisible", "ghost", "held_until_idle", "signature", "upstream_timed_out",
    "reused", "one_per_conn",
)  # fmt: skip


def _row(df: pd.DataFrame, column: str, value) -> pd.Series | None:
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
        lb = _row(timing, "request_id", r.request_id)
        if lb is not None and pd.notna(lb["connect_ms"]):
            text += f" (LB connect {lb['connect_ms']:.0f} ms)"
        seen = _row(access, "request_id", r.request_id)
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
    first, second = _row(timing, "request_id", "client-1-0"), _row(timing, "request_id", "client-2-0")
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
    victim = _row(req, "request_id", plan.victims[0])
    if victim is None:
        return
    v["victim_outcome"] = victim["outcome"]
    v["victim_status"] = int(victim["status"])
    v["victim_latency"] = round(float(victim["latency"]), 3)
    lb = _row(timing, "request_id", victim["request_id"])
    if lb is not None and pd.notna(lb["connect_ms"]):
        v["victim_connect_ms"] = float(lb["connect_ms"])
    if lb is not None:
        v["victim_termination"] = lb["termination"]
        v["victim_response_ms"] = lb["response_ms"] if pd.notna(lb["response_ms"]) else None
    # When the load balancer received the request and answered it, by its own log (the client's
    # clock runs in the lab's process, which a busy machine can delay).
    start, end = (float(lb["start"]), float(lb["end"])) if lb is not None else (victim["start"], victim["end"])
    seen = _row(access, "request_id", victim["request_id"])
    first = _row(access, "request_id", "client-1-0")
    if seen is not None and first is not None:
        v["victim_same_server_conn"] = bool(seen["remote_addr"] == first["remote_addr"])
    if seen is not None and victim["outcome"] != "ok":
        v["ghost_delay"] = round(float(seen["handler_start"] - end), 3)
        v["ghost_write_error"] = bool(seen["write_error"])
    holder = _row(access, "request_id", "client-1-0")
    states = trial.tables["states"]
    if holder is not None and not states.empty:
        mine = states[states["remote_addr"] == holder["remote_addr"]]
        idle = mine[mine["state"] == "idle"]
        closed = mine[mine["state"] == "closed"]
        if not idle.empty and not closed.empty:
            v["holder_idle_for"] = round(float(closed["at"].iloc[0] - idle["at"].iloc[-1]), 3)
            v["holder_closed_at"] = round(float(closed["at"].iloc[0]), 3)
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
    if name == "held_until_idle":
        idle = v.get("holder_idle_for")
        # Not closed before Go's idle timeout (by the load balancer), and closed by Go at it (give or
        # take the scheduling delay of a busy machine).
        held = idle is not None and t.read_timeout - 0.05 <= idle <= t.read_timeout + SLACK
        return Claim(key, f"{sc.title}: the first instance's idle connection held the slot until Go's idle timeout",
                     held, f"idle {idle} s before the server closed it (ReadTimeout {t.read_timeout} s)")  # fmt: skip
    raise ValueError(f"unknown extra claim {name!r}")


def _status_word(status: str) -> str:
    return status.split()[0] if status else ""


def judge_health(sc: Scenario, tables: dict[str, pd.DataFrame], t: RealLBTimes, trial: Trial) -> None:
    req, access, states, health = tables["requests"], tables["access"], tables["states"], tables["health"]
    v = trial.values
    holder_first = _row(access.sort_values("handler_start"), "request_id", "holder-0") if not access.empty else None
    if holder_first is None or health.empty:
        trial.observed, trial.evidence = "inconclusive", "the holder was never served or no health state was read"
        return
    mine = states[states["remote_addr"] == holder_first["remote_addr"]]
    taken = float(mine["at"].iloc[0])
    closed = mine[mine["state"] == "closed"]
    freed = float(closed["at"].iloc[0]) if not closed.empty else float("inf")
    probe = req[req["client"] == "probe"]
    window = health[(health["at"] >= taken) & (health["at"] <= freed)]
    words = window["status"].map(_status_word)
    down = window[words == "DOWN"]
    in_window = probe[(probe["start"] >= taken) & (probe["end"] <= freed)]
    v["slot_taken_at"], v["slot_freed_at"] = round(taken, 3), round(freed, 3)
    v["probe_504_while_held"] = int((in_window["outcome"] == "504").sum())
    v["probe_ok_while_held"] = int((in_window["outcome"] == "ok").sum())
    v["probe_503"] = int((probe["status"] == 503).sum())
    if down.empty:
        stays_up = not window.empty and v["probe_504_while_held"] > 0 and v["probe_ok_while_held"] == 0
        trial.observed = "stays UP" if stays_up else "mixed"
        trial.evidence = (
            f"slot held {taken:.2f}-{freed:.2f} s; {len(window)} health readings in that window, all "
            f"{sorted(set(words))}; probe through {sc.nodes[1]}: {v['probe_504_while_held']} x 504, "
            f"{v['probe_ok_while_held']} ok while the slot was held"
        )
        return
    down_at = float(down["at"].iloc[0])
    v["down_after"] = round(down_at - taken, 3)
    after = health[(health["at"] > freed) & (health["status"] == "UP")]
    up_at = float(after["at"].iloc[0]) if not after.empty else None
    fast_503 = probe[(probe["status"] == 503) & (probe["start"] >= down_at)]
    v["max_503_latency"] = round(float(fast_503["latency"].max()), 3) if not fast_503.empty else None
    served_after = probe[(probe["outcome"] == "ok") & (probe["start"] >= (up_at or float("inf")))]
    if up_at is not None:
        v["up_after_freed"] = round(up_at - freed, 3)
    back = up_at is not None and not served_after.empty
    trial.observed = "DOWN, then UP" if (back and not fast_503.empty) else "DOWN"
    trial.evidence = (
        f"slot taken at {taken:.2f} s; {sc.nodes[1]} marked the server DOWN {v['down_after']:.2f} s later; "
        f"{len(fast_503)} probe requests got 503 (slowest {v['max_503_latency']} s); slot freed at {freed:.2f} s; "
        + (f"UP again {v['up_after_freed']:.2f} s later; {len(served_after)} probe requests served after" if back
           else "not UP again before the end")
    )  # fmt: skip
