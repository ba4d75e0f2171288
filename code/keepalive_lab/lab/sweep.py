"""Run many independent points side by side, and stack their tables.

Each point of a sweep gets its own server, nodes and clients, so points
cannot disturb one another's connections; they run concurrently (threads)
because each spends its time waiting for timeouts, not computing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

import pandas as pd

__all__ = ["run_all", "stack_tables"]

P = TypeVar("P")
R = TypeVar("R")


def run_all(fn: Callable[[P], R], points: Sequence[P], workers: int) -> list[R]:
    """``[fn(p) for p in points]``, up to ``workers`` at a time, in the points' order."""
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(points))), thread_name_prefix="sweep") as pool:
        return list(pool.map(fn, points))


def stack_tables(per_point: list[tuple[dict, dict[str, pd.DataFrame]]]) -> dict[str, pd.DataFrame]:
    """Concatenate each table over the points, with the point's labels as extra columns."""
    names = per_point[0][1].keys()
    stacked = {}
    for name in names:
        frames = [tables[name].assign(**labels) for labels, tables in per_point if not tables[name].empty]
        stacked[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return stacked
