"""Measurements over the testbed's tables: the numbers that claims and prose are made of.

Every function takes DataFrames as :meth:`Testbed.tables` returns them (times
in lab seconds since the start) and returns plain Python numbers, so results
can be glued into prose and compared in claims.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "latency_summary",
    "queue_max_during",
    "max_concurrency",
    "max_open_connections",
    "peak_overlap",
    "first_access_at",
    "connections_opened",
    "outcome_rate",
]


def _empty(frame: pd.DataFrame, *columns: str) -> bool:
    """No rows, or not even the columns (an empty recorder's table has none)."""
    return frame.empty or any(c not in frame for c in columns)


def latency_summary(requests: pd.DataFrame, outcome: str | None = "ok") -> dict[str, float]:
    """p50, p99 and max latency (lab seconds) of requests with ``outcome`` (all when None)."""
    if _empty(requests, "latency", "outcome"):
        return {"count": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    chosen = requests if outcome is None else requests[requests["outcome"] == outcome]
    if chosen.empty:
        return {"count": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    values = chosen["latency"].to_numpy()
    return {
        "count": int(len(values)),
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "max": float(values.max()),
    }


def queue_max_during(queue: pd.DataFrame, start: float, end: float) -> int:
    """The largest accept-queue length sampled in ``[start, end]``."""
    if _empty(queue, "at", "length"):
        return 0
    window = queue[(queue["at"] >= start) & (queue["at"] <= end)]
    return int(window["length"].max()) if not window.empty else 0


def peak_overlap(starts, ends) -> int:
    """The most intervals ``[start, end)`` that overlap at one instant."""
    edges = [(s, 1) for s in starts] + [(e, -1) for e in ends]
    running = peak = 0
    for _, step in sorted(edges):  # at a tie, -1 sorts first: an end frees its place before a start
        running += step
        peak = max(peak, running)
    return peak


def max_concurrency(work: pd.DataFrame) -> int:
    """The most requests whose work ran at the same instant (from the work tracer's intervals)."""
    return 0 if work.empty else peak_overlap(work["start"], work["end"])


def max_open_connections(states: pd.DataFrame) -> int:
    """The most connections the server held open at once (StateNew to StateClosed)."""
    if states.empty:
        return 0
    return peak_overlap(states.loc[states["state"] == "new", "at"], states.loc[states["state"] == "closed", "at"])


def first_access_at(access: pd.DataFrame, request_id: str) -> float | None:
    """When the handler started on ``request_id``, or None if it never did."""
    if _empty(access, "request_id", "handler_start"):
        return None
    rows = access[access["request_id"] == request_id]
    return float(rows["handler_start"].min()) if not rows.empty else None


def connections_opened(states: pd.DataFrame) -> int:
    """Connections the server accepted (StateNew transitions)."""
    return int((states["state"] == "new").sum()) if not states.empty else 0


def outcome_rate(requests: pd.DataFrame, outcome: str) -> float:
    return float((requests["outcome"] == outcome).mean()) if not requests.empty else 0.0
