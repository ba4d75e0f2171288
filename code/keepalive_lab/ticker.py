"""``Ticker``: one background loop, written once.

A sampler of the accept queue, the idle culler, a health poller and a
progress bar all do the same thing: call a function every *interval*
seconds in a thread of their own until told to stop. :class:`Ticker` is that
loop (Go would use a ``time.Ticker`` in a goroutine). It is bounded like
every loop of the lab: it ends when :meth:`Ticker.stop` is called, when the
function returns ``False`` (its resource went away), or after ``max_ticks``.
"""

from __future__ import annotations

import threading
from typing import Callable, Self

__all__ = ["Ticker", "TickerBacked"]


class Ticker:
    """Call ``tick()`` every ``interval`` seconds in a daemon thread until :meth:`stop`.

    ``tick`` returns ``False`` to end the loop itself. With ``first_now`` the
    first call comes at once, else after one interval. Use it as a context
    manager so it stops even when the code around it fails.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        tick: Callable[[], bool | None],
        *,
        first_now: bool = True,
        max_ticks: int = 10_000_000,
    ) -> None:
        if interval <= 0:
            raise ValueError("a ticker needs a positive interval")
        self.name = name
        self.interval = interval
        self.ticks = 0
        self._tick = tick
        self._first_now = first_now
        self._max_ticks = max_ticks
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        if not self._first_now and self._stop.wait(self.interval):
            return
        while self.ticks < self._max_ticks and not self._stop.is_set():
            self.ticks += 1
            if self._tick() is False:
                return
            if self._stop.wait(self.interval):
                return

    def start(self) -> "Ticker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait (at most ``timeout`` seconds) for its thread to end."""
        self._stop.set()
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> "Ticker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Ticker {self.name} every {self.interval:g} s, {self.ticks} ticks{'' if self.running else ', stopped'}>"


class TickerBacked:
    """Base for an object whose work runs on a :class:`Ticker` it keeps as ``self._ticker``.

    Such an object (the accept-queue sampler, the idle culler) starts and stops with its ticker;
    this gives it ``start``, ``stop`` and the context-manager methods once, so that each
    subclass only builds its ticker and writes the work of one tick.
    """

    _ticker: Ticker

    def start(self) -> Self:
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._ticker.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
