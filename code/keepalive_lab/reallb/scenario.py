"""A real-load-balancer scenario, and what one run of it produced.

A :class:`Scenario` names the load-balancer instances (``"haproxy-1"``...),
the server's settings, a traffic *pattern* (:mod:`keepalive_lab.reallb.patterns`),
the durations it sets itself, and its expected verdict: what the same
packages did in front of a real Go program, which the lab measures again on
every run. A run of it is
a :class:`Trial`: its status (:class:`TrialStatus`), its observed verdict,
the claims it checked, the numbers a page quotes and its tables. A pattern
returns a :class:`Plan`: which requests needed a connection of their own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from keepalive_lab.lab.launch import ServerConfig
from keepalive_lab.lab.results import Claim
from keepalive_lab.reallb.config import LBSpec
from keepalive_lab.reallb.times import RealLBTimes

__all__ = ["Scenario", "Plan", "Trial", "TrialStatus"]


class TrialStatus(enum.StrEnum):
    RAN = "ran"
    SKIPPED = "skipped"  # a load balancer it needs is not installed
    ERROR = "error"  # something failed; the evidence says what


@dataclass(frozen=True)
class Scenario:
    """One configuration to run live, and the verdict expected of it (measured live on every run)."""

    key: str
    title: str
    lbs: tuple[tuple[str, LBSpec], ...]
    pattern: str
    expected: str
    fact: str  # the observation, in a sentence
    group: str  # a key of catalogue.GROUPS
    keep_alives: bool = True
    conn_close: bool = False
    extras: tuple[str, ...] = ()  # further claims: the EXTRAS of its pattern's judge (verdicts, health, lifetimes)
    timers: tuple[tuple[str, float], ...] = ()  # durations this scenario sets itself, over the run's RealLBTimes

    @property
    def kinds(self) -> list[str]:
        return sorted({spec.kind for _, spec in self.lbs})

    @property
    def nodes(self) -> list[str]:
        return [name for name, _ in self.lbs]

    def times(self, base: RealLBTimes) -> RealLBTimes:
        """The run's durations with this scenario's own :attr:`timers` in place."""
        return replace(base, **dict(self.timers)) if self.timers else base

    def floor(self, base: RealLBTimes) -> float:
        """The seconds of timers a run must wait out, whatever the machine: the timeouts it witnesses."""
        t = self.times(base)
        if self.pattern == "idle":
            return t.read_timeout
        if self.pattern == "health":
            return t.probe_until
        return t.read_timeout + t.lb_timeout

    def estimate(self, base: RealLBTimes) -> float:
        """Roughly how many wall-clock seconds a run takes at most (the longest runs start first)."""
        return self.floor(base) + 1.0

    def server(self, times: RealLBTimes) -> ServerConfig:
        """The lab server's settings for a run at ``times`` (this scenario's own, from :meth:`times`)."""
        return ServerConfig(
            read_timeout=times.read_timeout,
            write_timeout=times.read_timeout,
            latency=times.handler_latency,
            keep_alives=self.keep_alives,
            conn_close=self.conn_close,
        )

    def describe_lbs(self) -> str:
        return "; ".join(f"{name}: {spec.describe()}" for name, spec in self.lbs)


@dataclass
class Plan:
    """What a pattern did: the requests that needed a connection of their own, and notes."""

    victims: list[str]
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trial:
    """One scenario's run: tables, verdict, the claims it checked, numbers for the prose."""

    scenario: Scenario
    status: TrialStatus
    observed: str
    evidence: str
    wall_seconds: float = 0.0
    claims: list[Claim] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    output: dict[str, str] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)  # the load-balancer processes it started
    folder: str = ""  # its private folder (gone after the run)

    @property
    def matched(self) -> bool:
        return self.status is TrialStatus.RAN and self.observed == self.scenario.expected
