"""The records every part of the lab emits, and the recorder that collects them.

Theory of operation
-------------------
Everything that moves in time (connection states, access-log lines, load
balancer log lines, client requests, accept-queue samples) is a frozen
dataclass stamped with ``time.monotonic()``, appended to a thread-safe
:class:`Recorder` from whatever thread sees it. Tables and plots are built
from records only, never from prints. Each record class names its time
fields in ``TIMES``, so a run can shift them to "seconds since the start"
without a table of its own.

Addresses are ``"127.0.0.1:PORT"`` strings, so a load balancer's upstream
connection (its local address) matches the server's ``remote_addr`` for the
same socket pair.

Vocabularies are :class:`enum.StrEnum`: a member *is* its string, so tables,
JSON output and comparisons with plain strings keep working.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import time
from dataclasses import dataclass
from typing import Callable, ClassVar, Generic, Iterable, TypeVar

import pandas as pd

__all__ = [
    "ConnState",
    "ConnStateChange",
    "AccessRecord",
    "Outcome",
    "RequestRecord",
    "BalancerRecord",
    "UpstreamEventKind",
    "UpstreamEvent",
    "QueueSample",
    "WorkRecord",
    "Recorder",
    "to_frame",
]


class ConnState(enum.StrEnum):
    """Go's ``http.ConnState``: what the server's ``ConnState`` hook is told."""

    NEW = "new"
    ACTIVE = "active"
    IDLE = "idle"
    CLOSED = "closed"


@dataclass(frozen=True)
class ConnStateChange:
    """A server connection changed state at monotonic time ``at``."""

    TIMES: ClassVar[tuple[str, ...]] = ("at",)

    conn_id: int
    remote_addr: str
    state: ConnState
    at: float


@dataclass(frozen=True)
class AccessRecord:
    """One request the handler actually ran; emitted when its response is finished."""

    TIMES: ClassVar[tuple[str, ...]] = ("handler_start", "handler_end")

    conn_id: int
    remote_addr: str
    method: str
    target: str
    proto: str
    status: int
    body_bytes: int
    request_id: str  # the request's X-Request-Id, "" when absent
    handler_start: float
    handler_end: float
    write_error: str  # "" when the response reached the socket


class Outcome(enum.StrEnum):
    """What a client can see happen to one request."""

    OK = "ok"
    TIMEOUT = "timeout"  # the client gave up waiting
    GATEWAY_TIMEOUT = "504"  # the load balancer gave up waiting
    UNAVAILABLE = "503"  # no healthy backend, or a limit answered at once
    BAD_GATEWAY = "502"  # the backend connection broke
    ERROR = "error"  # anything else: a reset, another status


@dataclass(frozen=True)
class RequestRecord:
    """One request, seen from the client that sent it."""

    TIMES: ClassVar[tuple[str, ...]] = ("start", "end")

    request_id: str
    client: str
    node: str  # the load-balancer node it went to ("" when sent to the server directly)
    start: float
    end: float
    outcome: Outcome
    status: int  # 0 when no response arrived
    detail: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class BalancerRecord:
    """One request as a load-balancer node logged it (an ALB access-log line, roughly)."""

    TIMES: ClassVar[tuple[str, ...]] = ("start", "end")

    node: str
    request_id: str
    upstream_conn: str  # local address of the node's connection to the server; "" if none was used
    reused: bool  # the connection came from the node's idle pool
    start: float  # the node received the request
    end: float  # the node answered its client (a 504 after its timeout)
    status: int
    detail: str = ""


class UpstreamEventKind(enum.StrEnum):
    """What happened to a load-balancer node's connection to the server."""

    OPEN = "open"
    CLOSE = "close"  # the node closed it (not reusable, or the node stopped)
    EXPIRE = "expire"  # the node's idle timeout
    SERVER_CLOSED = "server_closed"  # found closed by the server when the node wanted it
    TIMEOUT = "timeout"  # no response in time: the node answered 504 and dropped it
    FAILED = "failed"  # the exchange broke: the node answered 502 and dropped it


@dataclass(frozen=True)
class UpstreamEvent:
    """A load-balancer node's connection to the server changed."""

    TIMES: ClassVar[tuple[str, ...]] = ("at",)

    node: str
    conn: str  # local address of the connection
    event: UpstreamEventKind
    at: float


@dataclass(frozen=True)
class QueueSample:
    """The server's accept-queue length (``ss -lnt`` Recv-Q) at one instant."""

    TIMES: ClassVar[tuple[str, ...]] = ("at",)

    at: float
    length: int


@dataclass(frozen=True)
class WorkRecord:
    """The handler's own work on one request: inside any work limit, unlike the access log's times."""

    TIMES: ClassVar[tuple[str, ...]] = ("start", "end")

    request_id: str
    start: float
    end: float


T = TypeVar("T")


class Recorder(Generic[T]):
    """Append-only, thread-safe record list; call it to append.

    Tests and experiments wait on a recorder instead of sleeping:
    :meth:`wait_for` returns as soon as a condition over the records holds,
    or ``False`` at its deadline.
    """

    def __init__(self) -> None:
        self._items: list[T] = []
        self._cond = threading.Condition()

    def __call__(self, record: T) -> None:
        with self._cond:
            self._items.append(record)
            self._cond.notify_all()

    def records(self) -> list[T]:
        with self._cond:
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def wait_for(self, predicate: Callable[[list[T]], bool], timeout: float) -> bool:
        """Block until ``predicate(records)`` holds; False if ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._items):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def frame(self, t0: float = 0.0) -> pd.DataFrame:
        return to_frame(self.records(), t0)


def to_frame(records: Iterable, t0: float = 0.0) -> pd.DataFrame:
    """Dataclass records as a DataFrame; enums become their values, time fields become ``t - t0``."""
    rows = []
    times: tuple[str, ...] = ()
    for record in records:
        times = getattr(record, "TIMES", ())
        row = {k: getattr(v, "value", v) for k, v in dataclasses.asdict(record).items()}
        for name in times:
            row[name] -= t0
        rows.append(row)
    return pd.DataFrame(rows)
