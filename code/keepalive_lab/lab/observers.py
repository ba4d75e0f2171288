"""Observers for what no log shows: the accept queue over time, and when the work itself ran."""

from __future__ import annotations

import socket
import time
from typing import Callable

from keepalive_lab.kernel import accept_queue, listener_queue
from keepalive_lab.records import QueueSample, WorkRecord
from keepalive_lab.ticker import Ticker, TickerBacked

__all__ = ["QueueSampler", "WorkTracer"]


class QueueSampler(TickerBacked):
    """Samples a listener's accept-queue length every ``interval`` seconds until :meth:`stop`.

    Give it the listening socket when this process owns it (``TCP_INFO``,
    microseconds a sample), or a port (``/proc/net/tcp``, what ``ss -lnt``
    reads, milliseconds a sample). Use it as a context manager so it stops
    even when the experiment fails.
    """

    def __init__(
        self, listener: socket.socket | int, record: Callable[[QueueSample], None], interval: float = 0.01
    ) -> None:
        if isinstance(listener, socket.socket):
            self._measure = lambda: listener_queue(listener)[0]
            self.port = listener.getsockname()[1]
        else:
            self._measure = lambda: accept_queue(listener)
            self.port = listener
        self.record = record
        self.interval = interval
        self._ticker = Ticker(f"queue-sampler-{self.port}", interval, self._sample)

    def _sample(self) -> bool:
        try:
            length = self._measure()
        except OSError:
            # A socket we own raises once it is closed; a port read from /proc/net/tcp cannot tell a
            # closed listener from an empty queue, so that sampler runs until stop().
            return False
        self.record(QueueSample(time.monotonic(), length))
        return True


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
