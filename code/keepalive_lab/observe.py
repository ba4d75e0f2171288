"""Observers for what no log shows: the accept queue over time, and when the work itself ran."""

from __future__ import annotations

import threading
import time
from typing import Callable

from .kernel import accept_queue
from .records import QueueSample, WorkRecord

__all__ = ["QueueSampler", "WorkTracer"]


class QueueSampler:
    """Samples the accept-queue length of the listener on ``port`` every ``interval`` seconds.

    A thread reads ``/proc/net/tcp`` (what ``ss -lnt`` reads) until :meth:`stop`;
    use it as a context manager so it stops even when the experiment fails.
    """

    def __init__(self, port: int, record: Callable[[QueueSample], None], interval: float = 0.01) -> None:
        self.port = port
        self.record = record
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-sampler-{port}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.record(QueueSample(time.monotonic(), accept_queue(self.port)))
            self._stop.wait(self.interval)

    def start(self) -> "QueueSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def __enter__(self) -> "QueueSampler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class WorkTracer:
    """Wraps a handler and records when its work ran (for concurrency, inside any work limit)."""

    def __init__(self, inner, record: Callable[[WorkRecord], None]) -> None:
        self.inner = inner
        self.record = record

    def __call__(self, w, r) -> None:
        start = time.monotonic()
        try:
            self.inner(w, r)
        finally:
            self.record(WorkRecord(r.header.get("X-Request-Id"), start, time.monotonic()))
