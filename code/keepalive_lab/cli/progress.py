"""A progress bar on stderr, against the wall time a run is expected to need.

On a terminal it redraws a bar every 0.2 s; otherwise (CI, a pipe) it prints
one line at the start, so logs stay readable.
"""

from __future__ import annotations

import sys
import time

from keepalive_lab.ticker import Ticker

__all__ = ["Progress"]


class Progress:
    """``with Progress(name, expected_seconds): ...``"""

    def __init__(self, name: str, expected: float) -> None:
        self.name = name
        self.expected = max(expected, 0.1)
        self.tty = sys.stderr.isatty()
        self._ticker = Ticker(f"progress-{name}", 0.2, self._draw, first_now=False)

    def __enter__(self) -> "Progress":
        self.start = time.monotonic()
        if self.tty:
            self._ticker.start()
        else:
            print(f"running {self.name} (about {self.expected:.0f} s)...", file=sys.stderr, flush=True)
        return self

    def _draw(self) -> None:
        elapsed = time.monotonic() - self.start
        done = min(1.0, elapsed / self.expected)
        bar = "#" * int(30 * done) + "." * (30 - int(30 * done))
        print(f"\r{self.name} [{bar}] {elapsed:5.1f} s", end="", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self.tty:
            self._ticker.stop(1.0)
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)
