"""Records, not prints: a thread-safe list of frozen dataclasses that becomes a DataFrame.

Everything in the lab that moves in time (connection states, access-log
lines, load-balancer log lines, client requests, queue samples) is appended to
a :class:`Recorder` from whatever thread sees it. Tests and experiments wait
on a recorder instead of sleeping: :meth:`Recorder.wait_for` returns as soon
as a condition over the records holds, or ``False`` at its deadline.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable, Generic, Iterable, TypeVar

import pandas as pd

__all__ = ["Recorder", "to_frame"]

T = TypeVar("T")


class Recorder(Generic[T]):
    """Append-only, thread-safe record list; call it to append."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._cond = threading.Condition()

    def __call__(self, record: T) -> None:
        with self._cond:
            self._items.append(record)
            self._cond.notify_all()

    def records(self) -> list[T]:
        with self._cond:
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def wait_for(self, predicate: Callable[[list[T]], bool], timeout: float) -> bool:
        """Block until ``predicate(records)`` holds; False if ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._items):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def frame(self) -> pd.DataFrame:
        return to_frame(self.records())


def to_frame(records: Iterable) -> pd.DataFrame:
    """Dataclass records as a DataFrame (enums become their values)."""
    rows = []
    for record in records:
        row = dataclasses.asdict(record)
        rows.append({k: getattr(v, "value", v) for k, v in row.items()})
    return pd.DataFrame(rows)
