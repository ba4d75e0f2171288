"""The registry of runnable things: experiments register here, and everything that runs them looks here.

An :class:`Experiment` is a function from a frozen parameter object (article
seconds) and a :class:`~keepalive_lab.lab.timescale.TimeScale` to an
:class:`~keepalive_lab.lab.results.ExperimentResult`, with a *floor*: the
lab seconds of timeouts it must witness, so a progress bar and the build can
say how long it should take. Parameter classes check themselves with
:func:`check_param`; results carry :func:`claim` objects.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from typing import Callable

from keepalive_lab.lab.results import Claim, ExperimentResult
from keepalive_lab.lab.timescale import TimeScale

__all__ = ["Experiment", "EXPERIMENTS", "register", "claim", "check_param", "check_durations", "MAX_ARTICLE_SECONDS",
           "MIN_ARTICLE_SECONDS", "FLOOR_LOG", "note_floor"]  # fmt: skip

# The book's build sets this to a file per chapter; every run appends when it started and its floor,
# so the build can say how much of a chapter's time was waiting it could not avoid.
FLOOR_LOG = "KEEPALIVE_FLOOR_LOG"


def note_floor(name: str, started: float, floor: float) -> None:
    """Append ``started`` (``time.monotonic()``, the same clock in every process) and ``floor`` seconds."""
    path = os.environ.get(FLOOR_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{started:.6f} {floor:.6f} {name}\n")


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its function, its parameters, and the least wall time it needs."""

    name: str
    title: str
    params: type
    run: Callable[..., ExperimentResult]
    floor: Callable[[object, TimeScale], float]  # lab seconds of timeouts it must witness


EXPERIMENTS: dict[str, Experiment] = {}


def register(name: str, title: str, params: type, floor: Callable[[object, TimeScale], float]):
    """Decorator: add the experiment function to :data:`EXPERIMENTS` under ``name``."""

    def wrap(fn):
        @functools.wraps(fn)
        def run(p, scale: TimeScale) -> ExperimentResult:
            started = time.monotonic()
            result = fn(p, scale)
            note_floor(name, started, floor(p, scale))
            return result

        EXPERIMENTS[name] = Experiment(name, title, params, run, floor)
        return fn

    return wrap


def claim(name: str, text: str, held: bool, evidence: str) -> Claim:
    return Claim(name, text, bool(held), evidence)


def check_param(condition: bool, message: str) -> None:
    """Parameter validation: a clear ValueError instead of a run that cannot mean anything."""
    if not condition:
        raise ValueError(message)


# Longer than any experiment could sensibly run: a day of article time.
MAX_ARTICLE_SECONDS = 86_400.0
# Shorter than the lab can time (at x1000 it is a microsecond of lab time): a duration is 0 or at least this.
MIN_ARTICLE_SECONDS = 0.001


def check_durations(**durations: float | tuple[float, ...]) -> None:
    """Every duration (article seconds) is finite, not negative, at most a day, and 0 or at least a millisecond."""
    for name, value in durations.items():
        flag = name.replace("_", "-")
        for v in value if isinstance(value, tuple) else (value,):  # NaN fails every comparison: refused
            check_param(0 <= v <= MAX_ARTICLE_SECONDS, f"{flag} must be between 0 and "
                        f"{MAX_ARTICLE_SECONDS:g} article seconds, not {v!r}")  # fmt: skip
            check_param(v == 0 or v >= MIN_ARTICLE_SECONDS, f"{flag} must be 0 or at least "
                        f"{MIN_ARTICLE_SECONDS:g} article seconds (a millisecond), not {v!r}")  # fmt: skip
