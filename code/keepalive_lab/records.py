"""The records that the lab's actors emit, all stamped with ``time.monotonic()``.

The server's own records (:class:`~keepalive_lab.server.ConnStateChange`,
:class:`~keepalive_lab.server.AccessRecord`) live beside the server. The ones
here come from the clients, the load balancers and the kernel probe.
Addresses are ``"127.0.0.1:PORT"`` strings, so a load balancer's upstream
connection (its local address) matches the server's ``remote_addr`` for the
same socket pair.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestRecord", "BalancerRecord", "UpstreamEvent", "QueueSample", "WorkRecord", "OUTCOMES"]

# What a client can see happen to one request.
OUTCOMES = ("ok", "timeout", "504", "503", "502", "error")


@dataclass(frozen=True)
class RequestRecord:
    """One request, seen from the client that sent it."""

    request_id: str
    client: str
    node: str  # the load-balancer node it went to ("" when sent to the server directly)
    start: float
    end: float
    outcome: str  # one of OUTCOMES
    status: int  # 0 when no response arrived
    detail: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class BalancerRecord:
    """One request as a load-balancer node logged it (an ALB access-log line, roughly)."""

    node: str
    request_id: str
    upstream_conn: str  # local address of the node's connection to the server; "" if none was used
    reused: bool  # the connection came from the node's idle pool
    start: float  # the node received the request
    end: float  # the node answered its client (a 504 after its timeout)
    status: int
    detail: str = ""


@dataclass(frozen=True)
class UpstreamEvent:
    """A load-balancer node's connection to the server changed: opened, closed, expired..."""

    node: str
    conn: str  # local address of the connection
    event: str  # "open", "close", "expire" (node's idle timeout), "server_closed", "timeout"
    at: float


@dataclass(frozen=True)
class QueueSample:
    """The server's accept-queue length (``ss -lnt`` Recv-Q) at one instant."""

    at: float
    length: int


@dataclass(frozen=True)
class WorkRecord:
    """The handler's own work on one request: inside any work limit, unlike the access log's times."""

    request_id: str
    start: float
    end: float
