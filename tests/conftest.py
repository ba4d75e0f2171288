"""Shared fixtures: a lab server on 127.0.0.1:0 and a raw-socket client that reads responses with h11;
a server-side ``Conn`` on a socketpair, and requests whose bodies come from fixed bytes."""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.goserver.header import Header
from keepalive_lab.goserver.net import Conn
from keepalive_lab.goserver.request import Request, RequestBody
from keepalive_lab.goserver.server import Server
from keepalive_lab.lab.launch import RunningServer, ServerConfig, start_server
from keepalive_lab.lab.rawclient import WAIT, RawClient, Response, request_bytes
from keepalive_lab.records import ConnState, Recorder

__all__ = ["WAIT", "BAD_SERVE_FLAGS", "Lab", "Lines", "RawClient", "Response", "get", "FakeSource", "fake_request"]

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


class Lines:
    """The lines a child process writes to one of its pipes, waited for with a deadline.

    A plain ``pipe.readline()`` waits forever on a child that hangs without a word; a daemon
    thread reads the pipe instead (it ends at EOF, when the child exits), and the test waits
    on what it hands over. Call :meth:`close` once the child has exited (reaped or killed).
    """

    def __init__(self, pipe: IO[str]) -> None:
        self.pipe = pipe
        self.seen: list[str] = []  # every line handed over so far, in order
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._eof = False
        self._thread = threading.Thread(target=self._pump, name="test-pipe-reader", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for line in self.pipe:
                self._lines.put(line)
        finally:
            self._lines.put(None)  # EOF

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = WAIT) -> str | None:
        """The first new line for which ``predicate`` holds; None at EOF or when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while not self._eof:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                self._eof = True
                break
            self.seen.append(line)
            if predicate(line):
                return line
        return None

    def until_eof(self, timeout: float = WAIT) -> str:
        """All the pipe carried, once it reaches EOF (the child is exiting); what came by ``timeout`` if not."""
        self.wait_for(lambda line: False, timeout)
        return "".join(self.seen)

    def close(self, timeout: float = WAIT) -> None:
        """Wait for the reader to reach EOF, then close the pipe; the child must be gone by now."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the pipe never reached EOF: is the child still running?"
        self.pipe.close()


@pytest.fixture
def connect_tcp():
    """``connect_tcp(port)``: a plain client socket connected to 127.0.0.1:port, with a deadline; every one
    is closed after the test, whatever happened."""
    clients: list[socket.socket] = []

    def connect(port: int) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


# -- the server's parts without a server: a Conn on a socketpair, requests over fixed bytes ------


@pytest.fixture
def conn_pair():
    """The server end of a socketpair as a ``Conn``, and the client end as a plain socket with a deadline."""
    ours, theirs = socket.socketpair()
    theirs.settimeout(WAIT)
    conn = Conn(ours, "127.0.0.1:2", "127.0.0.1:1")
    yield conn, theirs
    conn.close()
    theirs.close()


class FakeSource:
    """A BodySource over fixed bytes, counting the reads and the bytes served; ``fail`` raises instead
    once the bytes run out."""

    def __init__(self, data: bytes = b"", fail: Exception | None = None) -> None:
        self.data = data
        self.fail = fail
        self.served = 0
        self.calls = 0

    def read_body(self, max_bytes: int) -> tuple[bytes, bool]:
        self.calls += 1
        if self.served == len(self.data) and self.fail is not None:
            raise self.fail
        chunk = self.data[self.served : self.served + max_bytes]
        self.served += len(chunk)
        return chunk, False  # the end is found by an empty read, or by the body's declared length


def fake_request(
    method: str = "GET",
    target: str = "/",
    version: tuple[int, int] = (1, 1),
    header: Header | None = None,
    source: FakeSource | None = None,
    content_length: int = 0,
) -> Request:
    """A request as the reader hands it on (from 127.0.0.1:2, Host "lab"), its body read from ``source``."""
    header = Header() if header is None else header
    return Request(method, target, *version, header, "lab", content_length, "127.0.0.1:2",
                   body=RequestBody(source or FakeSource(), content_length))  # fmt: skip


def live_children() -> set[int]:
    """Live child processes of this test process (zombies excluded)."""
    me, out = str(os.getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited while we looked
        if fields[1] == me and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out
