"""One mapping from the article's seconds to lab seconds.

The incident runs on minutes (ReadTimeout 30 s, the load balancer's idle
timeout 60 s); a chapter must run in seconds. Every duration is divided by
one factor, so the ratios between timeouts, which decide who wins each race,
stay what they were. Every result carries its :class:`TimeScale`, and tables
show both clocks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

__all__ = ["TimeScale", "ArticleTimes", "ARTICLE", "DEFAULT_SCALE"]


@dataclass(frozen=True)
class ArticleTimes:
    """The incident's durations, in article seconds.

    ``read_timeout``/``write_timeout`` are from the article's code;
    ``lb_idle_timeout`` is the ELB/ALB default; ``handler_latency`` is the
    article's "a few hundred ms"; ``client_timeout`` is how long the users'
    side waits. The article does not say; ten seconds is the lab's
    assumption, chosen shorter than the load balancer's sixty (Go's
    ``http.Client``, curl and Python's requests have no timeout by default).
    """

    read_timeout: float = 30.0
    write_timeout: float = 30.0
    lb_idle_timeout: float = 60.0
    handler_latency: float = 0.2
    client_timeout: float = 10.0

    def rows(self) -> list[tuple[str, float]]:
        return list(asdict(self).items())


ARTICLE = ArticleTimes()


@dataclass(frozen=True)
class TimeScale:
    """Divide article seconds by ``factor`` to get lab seconds."""

    factor: float = 20.0

    # Faster than x1000 the lab's own overhead (milliseconds a request) would swamp the handler's work;
    # slower than real time means nothing.
    MAX_FACTOR = 1000.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.factor <= self.MAX_FACTOR:  # also refuses NaN
            raise ValueError(f"the time scale must be between 1 and {self.MAX_FACTOR:g}, not {self.factor!r}")

    def lab(self, article_seconds: float) -> float:
        return article_seconds / self.factor

    def article(self, lab_seconds: float) -> float:
        return lab_seconds * self.factor

    def describe(self) -> str:
        return f"1 lab second = {self.factor:g} article seconds"

    def table(self, times: ArticleTimes = ARTICLE) -> pd.DataFrame:
        """The book's time-scale table: each duration in both clocks."""
        labels = {
            "read_timeout": "Go ReadTimeout (also the idle timeout)",
            "write_timeout": "Go WriteTimeout",
            "lb_idle_timeout": "load balancer idle timeout (504 after it)",
            "handler_latency": "handler work per request",
            "client_timeout": "client gives up after",
        }
        return pd.DataFrame(
            [
                {"duration": labels[name], "article (s)": value, "lab (s)": round(self.lab(value), 4)}
                for name, value in times.rows()
            ]
        )


DEFAULT_SCALE = TimeScale()
