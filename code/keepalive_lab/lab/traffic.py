"""The users behind the load balancer: keep-alive HTTP clients that record every request.

Theory of operation
-------------------
A :class:`SerialClient` sends one request, waits for its answer or for its
timeout, pauses, and sends the next: the article's clients worked this way.
An :class:`OpenLoopClient` starts requests at a fixed rate whatever happens to
earlier ones, so a stall cannot hide by slowing the load down (coordinated
omission). Both ask a *router* where to send each request (a load-balancer
fleet, as DNS spreads clients over its nodes), tag it with an
``X-Request-Id`` that the load balancers and the server log too, and append
one :class:`~keepalive_lab.records.RequestRecord` per request.

Every loop is bounded by a request count and an end time, and stops early
when its ``stop`` event is set.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass
from typing import Callable, Iterable, Protocol

from keepalive_lab.lab.httpclient import ClientError, ClientTimeout, KeepAliveClient
from keepalive_lab.records import Outcome, RequestRecord

__all__ = ["Router", "Direct", "SerialClient", "OpenLoopClient", "send_one", "outcome_of_status", "jittered"]


class Router(Protocol):
    """Where a client sends its next request."""

    def pick(self) -> tuple[str, str]:
        """``(node name, base URL)`` for the next request."""

    def report(self, node: str, outcome: Outcome) -> None:
        """What happened to a request sent to ``node`` (routing may demote a failing node)."""


class Direct:
    """A router with one destination (a server or a single node)."""

    def __init__(self, url: str, name: str = "") -> None:
        self.url = url
        self.name = name

    def pick(self) -> tuple[str, str]:
        return self.name, self.url

    def report(self, node: str, outcome: Outcome) -> None:
        pass


def outcome_of_status(status: int) -> Outcome:
    if status == 200:
        return Outcome.OK
    if status in (502, 503, 504):  # bad gateway, no healthy backend, gateway timeout
        return Outcome(str(status))
    return Outcome.ERROR


def send_one(
    http: KeepAliveClient,
    client: str,
    request_id: str,
    node: str,
    url: str,
    record: Callable[[RequestRecord], None],
    headers: dict[str, str] | None = None,
) -> Outcome:
    """Send one GET (with ``headers`` besides its ``X-Request-Id``), append its record, return its outcome."""
    start = time.monotonic()
    status, detail = 0, ""
    try:
        status = http.get(url, headers={**(headers or {}), "X-Request-Id": request_id})
        outcome = outcome_of_status(status)
    except ClientTimeout as exc:
        outcome, detail = Outcome.TIMEOUT, str(exc)
    except ClientError as exc:
        outcome, detail = Outcome.ERROR, str(exc)
    record(RequestRecord(request_id, client, node, start, time.monotonic(), outcome, status, detail))
    return outcome


def _client(timeout: float) -> KeepAliveClient:
    # One attempt per request, straight to loopback, one kept-alive connection per destination.
    return KeepAliveClient(timeout)


@dataclass(eq=False)
class _Client:
    """What both kinds of client share: a name, a router, a record sink, a timeout, a duration, a stop event.

    A dataclass, so that each kind of client declares only its own parameters (keywords, like
    these after ``record``) and gets one ``__init__`` taking the shared ones too.
    """

    name: str
    router: Router
    record: Callable[[RequestRecord], None]
    _: KW_ONLY
    timeout: float
    duration: float
    stop: threading.Event | None = None  # None: an event of its own

    def __post_init__(self) -> None:
        self.stop = self.stop or threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"client-{self.name}", daemon=True)

    def start(self):  # each kind of client defines run(), its loop
        self.thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)


@dataclass(eq=False, kw_only=True)
class SerialClient(_Client):
    """One user: a request, its answer or timeout, a pause, the next request."""

    gaps: Iterable[float]
    max_requests: int = 10_000

    def __post_init__(self) -> None:
        super().__post_init__()
        self.gaps = iter(self.gaps)  # consumed one pause a request

    def run(self) -> None:
        with _client(self.timeout) as http:
            end = time.monotonic() + self.duration  # from the first request, not from set-up
            for n in range(self.max_requests):
                if self.stop.is_set() or time.monotonic() >= end:
                    return
                node, url = self.router.pick()
                outcome = send_one(http, self.name, f"{self.name}-{n}", node, url, self.record)
                self.router.report(node, outcome)
                gap = next(self.gaps, None)
                if gap is None or self.stop.wait(gap):
                    return


@dataclass(eq=False, kw_only=True)
class OpenLoopClient(_Client):
    """Requests started at a fixed rate, each in a worker thread, whatever became of earlier ones."""

    rate: float
    max_in_flight: int = 64

    def run(self) -> None:
        count = int(self.rate * self.duration)
        start = time.monotonic()
        local = threading.local()
        clients: list[KeepAliveClient] = []
        lock = threading.Lock()

        def http() -> KeepAliveClient:
            if not hasattr(local, "client"):
                local.client = _client(self.timeout)
                with lock:
                    clients.append(local.client)
            return local.client

        def one(n: int) -> None:
            node, url = self.router.pick()
            outcome = send_one(http(), self.name, f"{self.name}-{n}", node, url, self.record)
            self.router.report(node, outcome)

        try:
            with ThreadPoolExecutor(self.max_in_flight, thread_name_prefix=f"client-{self.name}") as pool:
                for n in range(count):
                    if self.stop.wait(max(0.0, start + n / self.rate - time.monotonic())):
                        break
                    pool.submit(one, n)
        finally:
            for c in clients:
                c.close()


def jittered(mean: float, spread: float, seed: int) -> Iterable[float]:
    """Endless pauses uniformly in ``mean ± spread``, reproducible from ``seed``."""
    rng = random.Random(seed)
    while True:
        yield max(0.0, rng.uniform(mean - spread, mean + spread))
