"""Shared fixtures: a lab server on 127.0.0.1:0 and a raw-socket client that reads responses with h11."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.goserver.server import Server
from keepalive_lab.lab.launch import RunningServer, ServerConfig, start_server
from keepalive_lab.lab.rawclient import WAIT, RawClient, Response, request_bytes
from keepalive_lab.records import ConnState, Recorder

__all__ = ["WAIT", "BAD_SERVE_FLAGS", "Lab", "RawClient", "Response", "get"]

# Bad `serve` command lines, with a phrase the one-line error must contain; both the lab server and
# the Go reference program must reject each of them the same way.
BAD_SERVE_FLAGS = [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--read-timeout", "3x"], "invalid duration"),
    (["--limit", "-1"], "must be >= 0"),
    (["--addr", "0.0.0.0:8080"], "not an IPv4 loopback address"),
    (["--addr", "nonsense"], "want HOST:PORT"),
    (["--access-log", "/nonexistent/dir/log"], "--access-log"),
]


@dataclass
class Lab:
    """A running server and what it recorded."""

    running: RunningServer
    states: Recorder
    access: Recorder
    errors: list = field(default_factory=list)

    @property
    def server(self) -> Server:
        return self.running.server

    @property
    def listener(self):
        return self.running.listener

    @property
    def port(self) -> int:
        return self.running.port

    def closed_count(self) -> int:
        return sum(1 for e in self.states.records() if e.state is ConnState.CLOSED)

    def wait_closed(self, n: int, timeout: float = WAIT) -> bool:
        """Wait until ``n`` connections have reached StateClosed."""
        return self.states.wait_for(lambda rs: sum(r.state is ConnState.CLOSED for r in rs) >= n, timeout)

    def wait_state(self, state: ConnState, n: int = 1, timeout: float = WAIT) -> bool:
        return self.states.wait_for(lambda rs: sum(r.state is state for r in rs) >= n, timeout)

    def logged(self, n: int, timeout: float = WAIT) -> list:
        """The access log once it holds ``n`` records: a record is written just after its response,
        so a client can read the response a moment before the record exists."""
        assert self.access.wait_for(lambda rs: len(rs) >= n, timeout), f"fewer than {n} access records"
        return self.access.records()

    def connect(self) -> RawClient:
        return RawClient(self.port)


@pytest.fixture
def lab_factory():
    """Start lab servers on 127.0.0.1:0; stop them and check nothing is left behind.

    Unlike the article's program, a test server has no timeouts unless the test sets them (Go's
    zero ``http.Server``) and answers with the handler it is given (no ``ServeMux``).
    """
    labs: list[Lab] = []

    def start(handler=None, limit: int = 1, keep_alives: bool = True, rst_avoidance_delay: float | None = None,
              **config) -> Lab:  # fmt: skip
        states: Recorder = Recorder()
        access: Recorder = Recorder()
        errors: list = []
        settings = {"read_timeout": 0.0, "write_timeout": 0.0, **config}
        extra = {} if rst_avoidance_delay is None else {"rst_avoidance_delay": rst_avoidance_delay}
        running = start_server(
            ServerConfig(limit=limit, keep_alives=keep_alives, **settings),
            handler=handler or ArticleHandler(latency=0.0),
            conn_state=states,
            access_log=access,
            error_log=errors.append,
            **extra,
        )
        lab = Lab(running, states, access, errors)
        labs.append(lab)
        return lab

    yield start
    for lab in labs:
        lab.running.close()
        assert lab.listener.closed, "the listener is still open"
    leftover = [t.name for t in threading.enumerate() if t.name.startswith(("http-conn-", "http-serve")) and t.is_alive()]
    assert not leftover, f"threads left behind: {leftover}"


def get(target: str = "/", host: str | None = "lab", extra: str = "", version: str = "1.1") -> bytes:
    """A request head as bytes."""
    return request_bytes(target, host, extra, version)
