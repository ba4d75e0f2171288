"""``Recordings``: the recorders of one run, the instant it started, and its tables.

A run (a testbed, a rig of real load balancers) hands each actor a
:class:`~keepalive_lab.records.Recorder` to append to; at the end
:meth:`Recordings.tables` turns each into a DataFrame whose time columns
(each record class names them) are seconds since the run started.
"""

from __future__ import annotations

import time

import pandas as pd

from keepalive_lab.records import Recorder

__all__ = ["Recordings"]


class Recordings:
    """Named recorders and the run's start instant ``t0`` (``time.monotonic()``)."""

    def __init__(self, *names: str) -> None:
        self.t0 = time.monotonic()
        self._recorders: dict[str, Recorder] = {name: Recorder() for name in names}

    def __getitem__(self, name: str) -> Recorder:
        return self._recorders[name]

    @property
    def names(self) -> list[str]:
        return list(self._recorders)

    def start_clock(self) -> float:
        """Make now the run's time zero (when the actors are ready); returns it."""
        self.t0 = time.monotonic()
        return self.t0

    def now(self) -> float:
        """Seconds since the run's time zero."""
        return time.monotonic() - self.t0

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every recorder as a DataFrame, times in seconds since ``t0``."""
        return {name: recorder.frame(self.t0) for name, recorder in self._recorders.items()}

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(rec)}" for name, rec in self._recorders.items())
        return f"<Recordings {counts}>"
