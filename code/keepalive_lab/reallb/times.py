"""``RealLBTimes``: every duration of a run against real load balancers, in lab seconds.

One object for the server, the load balancers' configs and the traffic
patterns, so that their order cannot drift apart. In the earlier
observation Go's idle timeout (ReadTimeout 3 s) was longer than the load
balancer's server timeout (2 s) and the handler took 100 ms; here the order
is the same, with Go's idle timeout twice the load balancer's, so that a busy
machine cannot turn the race around. The client waits longer than the load
balancer so that the load balancer's own answer (504) reaches it. These are
wall-clock seconds: real load balancers run on their own clocks, so this
part of the lab is not scaled.

A scenario may set some durations itself (``Scenario.timers``):
:data:`ARTICLE_TIMERS` are the article's own, for the scenarios that ask
how long a load balancer keeps an idle server connection when nothing is
shortened (Go's ReadTimeout 30 s, so its idle timeout 30 s; the load
balancer's server/read timeout 60 s).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["RealLBTimes", "ARTICLE_TIMERS"]


@dataclass(frozen=True)
class RealLBTimes:
    """The run's durations in lab (wall-clock) seconds; counts where a name says so."""

    read_timeout: float = 2.0  # Go ReadTimeout, and so its idle timeout
    lb_timeout: float = 1.0  # HAProxy "timeout server", nginx proxy_read_timeout: 504 after it
    connect_timeout: float = 1.0  # HAProxy "timeout connect", nginx proxy_connect_timeout
    client_keepalive: float = 5.0  # how long the load balancer keeps an idle client connection
    client_timeout: float = 2.0
    handler_latency: float = 0.05
    gap: float = 0.3  # between client 1's and client 2's request
    check_inter: float = 0.5  # HAProxy health-check interval (also the check's own timeout)
    check_fall: int = 3  # consecutive failed checks before DOWN (HAProxy's default)
    check_rise: int = 2  # consecutive good checks before UP (HAProxy's default)
    hold_for: float = 3.0  # health pattern: how long the holder keeps sending
    hold_gap: float = 0.5  # the holder's pause between requests (shorter than the idle timeout)
    probe_until: float = 8.0  # health pattern: when the probe client stops
    probe_gap: float = 0.2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0 <= value <= 3600:  # also refuses NaN
                raise ValueError(f"{f.name} must be between 0 and 3600, not {value!r}")


# The article's timers, as overrides of RealLBTimes: Go's ReadTimeout 30 s (its idle timeout too), the load
# balancer's server/read timeout 60 s; it keeps an idle client connection as long, and clients wait longer than it does.
ARTICLE_TIMERS: tuple[tuple[str, float], ...] = (
    ("read_timeout", 30.0),
    ("lb_timeout", 60.0),
    ("client_keepalive", 60.0),
    ("client_timeout", 70.0),
)
