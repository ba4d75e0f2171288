"""Verdicts and claims for the health-check pattern, from its tables alone.

Theory of operation
-------------------
A holder client keeps the first instance's server connection busy, so that
it holds the server's only slot; a probe client sends through the second,
health-checked, instance. :func:`judge_health` decides between ``stays UP``
(the checked instance never marked the server DOWN and every probe request
while the slot was held got 504) and ``DOWN, then UP`` (marked DOWN, 503s at
once meanwhile, UP again and serving after the slot freed), and adds the
scenario's extra claims (:data:`EXTRAS`):

``check_not_queued``
    the health check's connections never reached the server's accept queue:
    every connection the server accepted carried a request that a load
    balancer logged, and at no queue sample (20 ms apart) while the slot was
    held did the queue hold more connections than the logged requests' server
    connections opened by then. While the slot is held nothing is accepted,
    so a check connection that reached the queue would stay there until the
    slot frees, and one more would join it at every check. The samples start
    one check interval after the slot was taken and end when it frees: a
    sample is stamped just after it was read, and on a busy machine the
    stamp can be late, so a sample read just before an accept (the holder's,
    or the server draining the queue afterwards) could otherwise be counted
    after it. HAProxy 2.6's plain TCP check (``check``
    without ``option httpchk``) turns off the quick ACK of its connect and
    closes with a reset, so the handshake's last ACK is never sent: the
    server's kernel drops the half-open connection on the reset, before it
    could be queued.
"""

from __future__ import annotations

import pandas as pd

from keepalive_lab.lab.results import Claim
from keepalive_lab.reallb.scenario import Scenario, Trial
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.reallb.verdicts import first_row

__all__ = ["judge_health", "EXTRAS"]

EXTRAS = ("check_not_queued",)
# A logged request's server connection counts as open from the load balancer's receipt of the request
# (its log's start, to the millisecond); the queue sampler's clock may read it up to one sample earlier.
_OPEN_TOLERANCE = 0.02


def _status_word(status: str) -> str:
    return status.split()[0] if status else ""


def judge_health(sc: Scenario, tables: dict[str, pd.DataFrame], t: RealLBTimes, trial: Trial) -> None:
    req, access, states, health = tables["requests"], tables["access"], tables["states"], tables["health"]
    v = trial.values
    holder_first = None if access.empty else first_row(access.sort_values("handler_start"), "request_id", "holder-0")
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
    for name in sc.extras:
        trial.claims.append(_extra_claim(sc, name, tables, t, trial))
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


def queue_accounting(tables: dict[str, pd.DataFrame], start: float, end: float) -> dict:
    """The server's accepted connections and accept-queue samples against the load balancers' logs.

    ``unlogged``: connections the server accepted that carried no logged request; ``excess``: the
    most by which a queue sample between ``start`` and ``end`` exceeded the logged server connections
    opened and not yet accepted.
    """
    states, timing, queue = tables["states"], tables["lb_timing"], tables["queue"]
    if not queue.empty:
        queue = queue[(queue["at"] >= start) & (queue["at"] < end)]
    new = states[states["state"] == "new"] if not states.empty else states
    accepted = new.groupby("remote_addr")["at"].min() if not new.empty else pd.Series(dtype=float)
    logged = timing[timing["upstream_conn"] != ""] if not timing.empty else timing
    opened = logged.groupby("upstream_conn")["start"].min() if not logged.empty else pd.Series(dtype=float)
    unlogged = sorted(set(accepted.index) - set(opened.index))
    excess, samples = None, 0
    if not queue.empty:
        samples = len(queue)
        open_at, accepted_at = opened.to_numpy(), accepted.reindex(opened.index).fillna(float("inf")).to_numpy()
        waiting = [int(((open_at <= at + _OPEN_TOLERANCE) & (accepted_at > at)).sum()) for at in queue["at"]]
        excess = int((queue["length"] - pd.Series(waiting, index=queue.index)).max())
    return {"accepted": len(accepted), "unlogged": unlogged, "queue_max": int(queue["length"].max()) if samples else 0,
            "excess": excess, "samples": samples}  # fmt: skip


def _extra_claim(sc: Scenario, name: str, tables: dict[str, pd.DataFrame], t: RealLBTimes, trial: Trial) -> Claim:
    key, v = f"{sc.key}:{name}", trial.values
    if name == "check_not_queued":
        taken, freed = v["slot_taken_at"], v["slot_freed_at"]
        acc = queue_accounting(tables, taken + t.check_inter, freed)
        last = float(tables["queue"]["at"].max()) if not tables["queue"].empty else taken
        held_for = min(freed, last) - taken  # the slot may outlast the samples
        v["checks_while_held"] = int(max(0.0, held_for) // t.check_inter)
        v["queue_max"], v["queue_excess"], v["unlogged_accepted"] = acc["queue_max"], acc["excess"], acc["unlogged"]
        held = acc["excess"] is not None and acc["excess"] <= 0 and not acc["unlogged"] and acc["accepted"] > 0
        return Claim(
            key, f"{sc.title}: the health check's connections never waited in the server's accept queue", held,
            f"slot held {held_for:.2f} s (about {v['checks_while_held']} checks {t.check_inter:g} s apart); accept "
            f"queue up to {acc['queue_max']} then, at most {acc['excess']} beyond the logged requests' connections "
            f"waiting in it ({acc['samples']} samples); {acc['accepted']} connections accepted, "
            f"{len(acc['unlogged'])} without a logged request",
        )  # fmt: skip
    raise ValueError(f"unknown extra claim {name!r} for the health pattern")
