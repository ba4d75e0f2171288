"""Experiments that run many testbeds side by side: the race, the grid, the fixes.

Each point of a sweep gets its own server, nodes and clients
(:func:`~keepalive_lab.lab.sweep.run_all`), so points cannot disturb one
another's connections.

==================  =====================================================
``race``            node 1's gap between requests vs Go's idle timeout
``grid``            limit x nodes x keep-alive x gap -> timeout rate
``fixes``           the fixes on one workload, and what each costs
``article_fixes``   the article's two fixes on the incident's workload
==================  =====================================================
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pandas as pd

from keepalive_lab.experiments.catalogue import FIXES, fix_named
from keepalive_lab.experiments.incident import SymptomParams, ThinkTimeParams, symptom
from keepalive_lab.lab.analysis import connections_opened, latency_summary, max_concurrency
from keepalive_lab.lab.registry import check_durations, check_param, claim, register
from keepalive_lab.lab.results import ExperimentResult
from keepalive_lab.lab.sweep import run_all, stack_tables
from keepalive_lab.lab.testbed import INCIDENT_SERVER, Testbed
from keepalive_lab.lab.timescale import ARTICLE, DEFAULT_SCALE, TimeScale

__all__ = ["RaceParams", "GridParams", "FixesParams", "ArticleFixesParams", "race", "grid", "fixes", "article_fixes"]


# ---------------------------------------------------------------------------
# 3. The race: LB1's gap between requests against Go's idle timeout


@dataclass(frozen=True)
class RaceParams:
    """LB1 sends every ``gap`` seconds; LB2 sends once at ``lb2_at``; how long does LB2 wait?"""

    gaps: tuple[float, ...] = (5.0, 15.0, 25.0, 35.0, 45.0)
    lb2_at: float = 5.0
    horizon: float = 75.0

    def __post_init__(self) -> None:
        check_param(0 < len(self.gaps) <= 50, "gaps: one or more positive pauses, at most fifty")
        check_durations(gaps=self.gaps, lb2_at=self.lb2_at, horizon=self.horizon)
        check_param(min(self.gaps) > 0, "gaps: one or more positive pauses")
        check_param(self.lb2_at >= 0, "lb2-at must not be negative")
        check_param(self.horizon > self.lb2_at + ARTICLE.lb_idle_timeout, "horizon must outlast LB2's 504 (lb2-at + 60 s)")


@register("race", "LB1's pauses against Go's idle timeout decide whether LB2 is served", RaceParams,
          lambda p, s: s.lab(ARTICLE.lb_idle_timeout + p.lb2_at))  # fmt: skip
def race(params: RaceParams = RaceParams(), scale: TimeScale = DEFAULT_SCALE) -> ExperimentResult:
    started = time.monotonic()

    def one(gap: float):
        with Testbed(scale) as bed:
            bed.fleet.scale_out("LB1")
            bed.fleet.scale_out("LB2")
            bed.serial_client("lb1-user", gaps=itertools.repeat(gap), duration=params.horizon, node="LB1")
            bed.sleep_until(params.lb2_at)
            # LB2's client outwaits the node, so the node's own verdict (200 late, or 504) shows.
            bed.serial_client("lb2-user", gaps=(), duration=60, node="LB2", timeout=ARTICLE.lb_idle_timeout + 15)
            bed.lb_log.wait_for(lambda rs: any(r.node == "LB2" for r in rs), scale.lab(params.horizon))
        return {"gap": gap}, bed.tables()

    per_gap = run_all(one, list(params.gaps), workers=len(params.gaps))
    table = pd.DataFrame([_race_row(labels["gap"], t, scale) for labels, t in per_gap])
    idle = ARTICLE.read_timeout
    below = table[table["LB1 gap (s)"] < idle]
    above = table[table["LB1 gap (s)"] > idle]
    tables = stack_tables(per_gap)
    tables["race"] = table

    def listing(rows: pd.DataFrame) -> str:
        return "; ".join(f"gap {r[0]:g}: {r[1]} after {r[2]} s" for r in rows.itertuples(index=False))

    claims = []  # a claim is checked only when the run has gaps on its side of the idle timeout
    if not below.empty:
        claims.append(claim(
            "starved_below", "When LB1 sends more often than the idle timeout, LB2 waits the node's whole "
            "timeout and answers 504.", (below["LB2 status"] == 504).all() and
            (below["LB2 waited (s)"] >= 0.95 * ARTICLE.lb_idle_timeout).all(), listing(below)))
    if not above.empty:
        claims.append(claim(
            "served_above", "When LB1 pauses longer than the idle timeout, Go closes LB1's connection after "
            "exactly that idle time, and LB2 is served right then, late.", (above["LB2 status"] == 200).all() and
            (above["LB1 idle before close (s)"] - idle).abs().le(1.5).all()
            and above["LB2 served after the close (s)"].between(0, 2).all(),
            listing(above) + "; idle before close: " + ", ".join(f"{x:g} s" for x in above["LB1 idle before close (s)"])))
    # fmt: skip
    values = {"idle_timeout_s": idle, "lb_timeout_s": ARTICLE.lb_idle_timeout}
    return ExperimentResult("race", params, scale, time.monotonic() - started, tables, claims, values)


def _race_row(gap: float, t: dict[str, pd.DataFrame], scale: TimeScale) -> dict:
    lb, states, upstream = t["lb"], t["states"], t["upstream"]
    lb2 = lb[lb["node"] == "LB2"].iloc[0]
    row = {"LB1 gap (s)": gap, "LB2 status": int(lb2["status"]),
           "LB2 waited (s)": round(scale.article(lb2["end"] - lb2["start"]), 1),
           "LB1 idle before close (s)": float("nan"), "LB2 served after the close (s)": float("nan")}  # fmt: skip
    lb1_conns = set(upstream.loc[upstream["node"] == "LB1", "conn"])
    closes = states[(states["state"] == "closed") & states["remote_addr"].isin(lb1_conns) & (states["at"] > lb2["start"])]
    if row["LB2 status"] == 200 and not closes.empty:  # LB2 got in: when, and why then?
        close_at = float(closes["at"].min())
        last_lb1 = lb[(lb["node"] == "LB1") & (lb["end"] < close_at)]["end"].max()
        row["LB1 idle before close (s)"] = round(scale.article(close_at - last_lb1), 1)
        row["LB2 served after the close (s)"] = round(scale.article(lb2["end"] - close_at), 1)
    return row


# ---------------------------------------------------------------------------
# 6. The grid


@dataclass(frozen=True)
class GridParams:
    """Every combination; each node gets its own serial client sending every ``gap`` seconds."""

    limits: tuple[int, ...] = (1, 2)
    node_counts: tuple[int, ...] = (1, 2, 3)
    keep_alive: tuple[bool, ...] = (True, False)
    gaps: tuple[float, ...] = (5.0, 40.0)
    duration: float = 100.0
    workers: int = 24

    def __post_init__(self) -> None:
        check_param(all(n >= 1 for n in self.limits) and self.limits, "limits: one or more, each at least 1")
        check_param(all(n >= 1 for n in self.node_counts) and self.node_counts, "node-counts: one or more, each >= 1")
        check_param(bool(self.keep_alive), "keep-alive: true, false, or both")
        check_param(all(g > 0 for g in self.gaps) and self.gaps, "gaps: one or more positive pauses")
        check_durations(gaps=self.gaps, duration=self.duration)
        check_param(self.duration > 0 and 1 <= self.workers <= 64, "duration must be positive, workers 1 to 64")
        check_param(max(self.limits) <= 64 and max(self.node_counts) <= 16, "limits up to 64, node-counts up to 16")
        cells = len(self.limits) * len(self.node_counts) * len(self.keep_alive) * len(self.gaps)
        check_param(cells <= 200, f"the grid would have {cells} cells; at most 200")


@register("grid", "Which combinations time out: limit x nodes x keep-alive x gap", GridParams,
          lambda p, s: s.lab(p.duration) * -(-len(list(_grid_points(p))) // p.workers))  # fmt: skip
def grid(params: GridParams = GridParams(), scale: TimeScale = DEFAULT_SCALE) -> ExperimentResult:
    started = time.monotonic()

    def one(point):
        limit, nodes, keep_alive, gap = point
        with Testbed(scale, INCIDENT_SERVER.with_(limit=limit, keep_alives=keep_alive)) as bed:
            for i in range(1, nodes + 1):
                bed.fleet.scale_out(f"LB{i}")
                bed.sleep_until(i - 1)  # stagger the clients by one second
                bed.serial_client(f"lb{i}-user", gaps=itertools.repeat(gap), duration=params.duration, node=f"LB{i}")
            bed.wait_clients(scale.lab(params.duration + ARTICLE.client_timeout) + 2)
        labels = {"limit": limit, "nodes": nodes, "keep_alive": keep_alive, "gap": gap}
        return labels, bed.tables()

    per_cell = run_all(one, list(_grid_points(params)), params.workers)
    rows = []
    for labels, t in per_cell:
        req = t["requests"]
        rows.append({**labels, "requests": len(req), "timeouts": int((req["outcome"] == "timeout").sum()),
                     "timeout_rate": float((req["outcome"] == "timeout").mean()) if len(req) else 0.0})  # fmt: skip
    table = pd.DataFrame(rows)
    off = table[~table["keep_alive"]]
    enough = table[table["keep_alive"] & (table["limit"] >= table["nodes"])]
    short = table[table["keep_alive"] & (table["limit"] < table["nodes"])]
    tables = stack_tables(per_cell)
    tables["grid"] = table
    claims = []  # a claim is checked only when the grid has cells it speaks of
    if not off.empty:
        claims.append(claim("off_never", "Without keep-alive no cell times out.", (off["timeouts"] == 0).all(),
                            f"timeouts: {off['timeouts'].sum()} in {len(off)} cells"))
    if not enough.empty:
        claims.append(claim(
            "enough_slots", "With keep-alive, a limit at least as large as the number of nodes never times out "
            "(serial clients: one connection per node).", (enough["timeouts"] == 0).all(),
            f"timeouts: {enough['timeouts'].sum()} in {len(enough)} cells"))
    if not short.empty:
        claims.append(claim(
            "too_few_slots", "With keep-alive and more nodes than slots, every cell has timeouts, whatever the "
            "gap.", (short["timeouts"] > 0).all(), f"rates {sorted(round(x, 2) for x in short['timeout_rate'])}"))
    # fmt: skip
    values = {"cells": len(table), "worst_rate_pct": round(100 * table["timeout_rate"].max(), 1)}
    return ExperimentResult("grid", params, scale, time.monotonic() - started, tables, claims, values)


def _grid_points(p: GridParams):
    return itertools.product(p.limits, p.node_counts, p.keep_alive, p.gaps)


# ---------------------------------------------------------------------------
# 7. The fixes and their cost


@dataclass(frozen=True)
class FixesParams(ThinkTimeParams):
    """Two nodes, two serial users on each; the same workload under each fix."""

    duration: float = 120.0
    users_per_node: int = 2
    think_min: float = 1.0
    think_max: float = 3.0
    seed: int = 11

    def __post_init__(self) -> None:
        check_durations(duration=self.duration)
        check_param(self.duration > 0 and 1 <= self.users_per_node <= 16, "duration must be positive, users-per-node 1 to 16")
        self.check_think_time()


@register("fixes", "The fixes on one workload, and what each costs", FixesParams,
          lambda p, s: s.lab(p.duration))  # fmt: skip
def fixes(params: FixesParams = FixesParams(), scale: TimeScale = DEFAULT_SCALE) -> ExperimentResult:
    started = time.monotonic()

    def one(fix):
        with Testbed(scale, fix.apply(INCIDENT_SERVER)) as bed:
            for node in ("LB1", "LB2"):
                bed.fleet.scale_out(node)
            for n, node in enumerate(["LB1", "LB2"] * params.users_per_node):
                bed.sleep_until(0.5 * n)
                gaps = params.think_gaps(params.seed + n)
                bed.serial_client(f"{node.lower()}-user{n}", gaps=gaps, duration=params.duration, node=node)
            bed.wait_clients(scale.lab(params.duration + ARTICLE.client_timeout) + 2)
        return {"fix": fix.name}, bed.tables()

    per_fix = run_all(one, list(FIXES), workers=len(FIXES))
    table = pd.DataFrame([_cost_row(fix, t, scale) for fix, (_, t) in zip(FIXES, per_fix)])
    tables = stack_tables(per_fix)
    tables["fixes"] = table
    row = table.set_index("fix")
    base = tables["requests"].query("fix == 'baseline' and outcome == 'timeout'")
    per_node = {node: int((base["node"] == node).sum()) for node in ("LB1", "LB2")}
    others = tables["requests"][~tables["requests"]["outcome"].isin(["ok", "timeout"])]
    # The nodes' own records of the 502s the clients received (a node also logs 502s at teardown, for
    # queued requests whose clients had already timed out; those never reached a client).
    # (Request ids repeat from one fix to the next: match on both.)
    lb_502 = tables["lb"].merge(others[["fix", "request_id"]], on=["fix", "request_id"]) if len(others) else others
    claims = [
        claim("baseline_fails", "As in the incident, some requests time out.", row.loc["baseline", "timeouts"] > 0,
              f"{row.loc['baseline', 'timeouts']} timeouts"),
        claim("both_nodes", "With two users per node, requests through both nodes time out: a node starves "
              "itself when its users' requests overlap.", min(per_node.values()) > 0,
              f"timeouts via LB1: {per_node['LB1']}, via LB2: {per_node['LB2']}"),
        claim("article_fixes", "Both of the article's fixes remove every timeout.",
              row.loc[["no_keep_alives", "conn_close"], "timeouts"].eq(0).all(),
              f"{row.loc['no_keep_alives', 'timeouts']} and {row.loc['conn_close', 'timeouts']} timeouts"),
        claim("article_fixes_cost", "Their cost: a new connection for every request.",
              row.loc[["no_keep_alives", "conn_close"], "connections per request"].ge(0.95).all()
              and row.loc["baseline", "connections per request"] < 0.5,
              f"{row.loc['no_keep_alives', 'connections per request']} vs baseline "
              f"{row.loc['baseline', 'connections per request']}"),
        claim("short_idle_partial", "A short idle timeout removes most timeouts, but requests still wait for "
              "the other node's connection to go idle: the median request takes several times longer than with "
              "the article's fixes.", row.loc["short_idle", "timeouts"] < row.loc["baseline", "timeouts"] and
              row.loc["short_idle", "p50 (s)"] > 2 * row.loc["no_keep_alives", "p50 (s)"],
              f"{row.loc['short_idle', 'timeouts']} timeouts, median {row.loc['short_idle', 'p50 (s)']} s vs "
              f"{row.loc['no_keep_alives', 'p50 (s)']} s"),
        claim("larger_limit_concurrent", "A larger limit removes the timeouts but lets handlers run at the "
              "same time, which the service wanted to avoid.", row.loc["larger_limit", "timeouts"] == 0 and
              row.loc["larger_limit", "max concurrent handlers"] > 1,
              f"{row.loc['larger_limit', 'timeouts']} timeouts, up to "
              f"{row.loc['larger_limit', 'max concurrent handlers']} handlers at once"),
        claim("cull_idle", "Closing the longest-idle connection whenever another one waits (what nginx and h2o "
              "do at their limit) removes the timeouts.", row.loc["cull_idle", "timeouts"] == 0,
              f"{row.loc['cull_idle', 'timeouts']} timeouts, {row.loc['cull_idle', 'connections per request']} "
              "connections per request"),
        claim("cull_churn", "With two busy nodes, culling makes most requests open a new connection anyway.",
              row.loc["cull_idle", "connections per request"] >= 0.5,
              f"{row.loc['cull_idle', 'connections per request']} connections per request"),
        claim("work_limit", "Limiting the handler's work instead of connections removes the timeouts and "
              "keeps one handler at a time.", row.loc["work_limit", "timeouts"] == 0 and
              row.loc["work_limit", "max concurrent handlers"] == 1,
              f"{row.loc['work_limit', 'timeouts']} timeouts, {row.loc['work_limit', 'max concurrent handlers']} "
              "at once"),
        claim("other_failures_502", "Every failure other than a timeout is a 502 from a node whose pooled "
              "connection the server closed as the node reused it.",
              set(others["outcome"]) <= {"502"} and (lb_502.empty or lb_502["reused"].all()),
              f"other failures: {others['outcome'].value_counts().to_dict() or 'none'}; the nodes' 502s came on "
              f"{'reused' if lb_502.empty or lb_502['reused'].all() else 'some new'} connections"),
    ]  # fmt: skip
    short = {"timeouts": "timeouts", "other failures": "failures", "p50 (s)": "p50_s", "p99 (s)": "p99_s",
             "connections per request": "cpr", "ok per minute": "ok_per_min", "max concurrent handlers": "concurrent"}
    values = {f"{fix}_{key}": row.loc[fix, column] for fix in row.index for column, key in short.items()}
    values.update({f"baseline_timeouts_{node.lower()}": n for node, n in per_node.items()})
    return ExperimentResult("fixes", params, scale, time.monotonic() - started, tables, claims, values)


def _cost_row(fix, t: dict[str, pd.DataFrame], scale: TimeScale) -> dict:
    req = t["requests"]
    # Over every request: a timed-out one counts at the time its client waited, or the
    # failures would vanish from the percentiles of the configuration that has them.
    every = latency_summary(req, outcome=None)
    handled = max(1, len(t["access"]))
    span = scale.article(req["end"].max() - req["start"].min()) if len(req) else 1.0
    return {
        "fix": fix.name,
        "change": fix.label,
        "requests": len(req),
        "timeouts": int((req["outcome"] == "timeout").sum()),
        "other failures": int((~req["outcome"].isin(["ok", "timeout"])).sum()),
        "p50 (s)": round(scale.article(every["p50"]), 2),
        "p99 (s)": round(scale.article(every["p99"]), 2),
        "connections per request": round(connections_opened(t["states"]) / handled, 2),
        "ok per minute": round(60 * int((req["outcome"] == "ok").sum()) / span, 1),
        "max concurrent handlers": max_concurrency(t["work"]),
    }


# ---------------------------------------------------------------------------
# The article's two fixes, before and after, on the symptom's workload


@dataclass(frozen=True)
class ArticleFixesParams:
    """The symptom experiment, run as it is and under each of the article's fixes, side by side."""

    duration: float = 240.0
    seed: int = 3

    def __post_init__(self) -> None:
        SymptomParams(duration=self.duration, seed=self.seed)  # the same rules as the symptom's


@register("article_fixes", "The article's two fixes, before and after, on the incident's workload",
          ArticleFixesParams, lambda p, s: s.lab(p.duration))  # fmt: skip
def article_fixes(params: ArticleFixesParams = ArticleFixesParams(), scale: TimeScale = DEFAULT_SCALE) -> ExperimentResult:
    started = time.monotonic()
    names = ["baseline", "no_keep_alives", "conn_close"]
    base = SymptomParams(duration=params.duration, seed=params.seed)

    def one(fix: str):
        result = symptom(SymptomParams(**{**base.__dict__, "fix": fix}), scale)
        return {"fix": fix}, result.tables

    per_fix = run_all(one, names, workers=len(names))
    table = pd.DataFrame([_cost_row(fix_named(n), t, scale) for n, (_, t) in zip(names, per_fix)])
    tables = stack_tables(per_fix)
    tables["summary"] = table
    row = table.set_index("fix")
    via = tables["requests"].query("fix == 'baseline' and outcome == 'timeout'")["node"]
    claims = [
        claim("before", "Before the fix, requests through the new node time out.", row.loc["baseline", "timeouts"] > 0
              and (via == "LB2").all(), f"{row.loc['baseline', 'timeouts']} timeouts, via {sorted(set(via))}"),
        claim("after", "With either fix, no request times out, through either node.",
              row.loc[["no_keep_alives", "conn_close"], "timeouts"].eq(0).all() and
              row.loc[["no_keep_alives", "conn_close"], "other failures"].eq(0).all(),
              f"{row.loc['no_keep_alives', 'timeouts']} and {row.loc['conn_close', 'timeouts']} timeouts"),
        claim("one_connection_per_request", "With either fix, the server accepts one connection per request.",
              row.loc[["no_keep_alives", "conn_close"], "connections per request"].ge(0.95).all(),
              f"{row.loc['no_keep_alives', 'connections per request']} and "
              f"{row.loc['conn_close', 'connections per request']} connections per request"),
    ]  # fmt: skip
    values = {f"{n}_{k}": row.loc[n, c] for n in names
              for c, k in (("timeouts", "timeouts"), ("requests", "requests"), ("p50 (s)", "p50_s"),
                           ("connections per request", "cpr"))}  # fmt: skip
    return ExperimentResult("article_fixes", params, scale, time.monotonic() - started, tables, claims, values)
