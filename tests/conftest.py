"""Shared fixtures: a lab server on 127.0.0.1:0 and a raw-socket client that reads responses with h11."""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import h11
import pytest

from keepalive_lab.handlers import ArticleHandler
from keepalive_lab.limit import LimitListener
from keepalive_lab.netconn import listen
from keepalive_lab.recorder import Recorder
from keepalive_lab.server import ConnState, Server

WAIT = 5.0  # the longest any test waits for something that should happen promptly

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

    server: Server
    listener: object
    port: int
    states: Recorder
    access: Recorder
    errors: list = field(default_factory=list)
    _thread: threading.Thread | None = None

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

    def connect(self) -> "RawClient":
        return RawClient(self.port)


@pytest.fixture
def lab_factory():
    """Start lab servers on 127.0.0.1:0; stop them and check nothing is left behind."""
    labs: list[Lab] = []

    def start(handler=None, limit: int = 1, keep_alives: bool = True, **server_kwargs) -> Lab:
        states: Recorder = Recorder()
        access: Recorder = Recorder()
        errors: list = []
        server = Server(
            handler or ArticleHandler(latency=0.0),
            conn_state=states,
            access_log=access,
            error_log=errors.append,
            **server_kwargs,
        )
        if not keep_alives:
            server.set_keep_alives_enabled(False)
        tcp = listen()
        listener = LimitListener(tcp, limit) if limit else tcp
        thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
        thread.start()
        lab = Lab(server, listener, tcp.port, states, access, errors, thread)
        labs.append(lab)
        return lab

    yield start
    for lab in labs:
        lab.server.close()
        lab.listener.close()
        lab._thread.join(WAIT)
        assert not lab._thread.is_alive(), "the accept loop did not stop"
    leftover = [t.name for t in threading.enumerate() if t.name.startswith("http-conn-") and t.is_alive()]
    assert not leftover, f"connection threads left behind: {leftover}"


@dataclass
class Response:
    raw: bytes
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def header_names(self) -> list[str]:
        return [k for k, _ in self.headers]


class RawClient:
    """A blocking client socket that sends raw bytes and reads responses with h11."""

    def __init__(self, port: int, timeout: float = WAIT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._leftover = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, data: bytes, method: str = "GET") -> Response:
        self.send(data)
        return self.read_response(method)

    def read_response(self, method: str = "GET", timeout: float = WAIT) -> Response:
        """Read one whole response; raises TimeoutError if none comes within ``timeout``."""
        parser = h11.Connection(h11.CLIENT)
        parser.send(h11.Request(method=method, target="/", headers=[("Host", "lab")]))
        raw = bytearray()
        head = None
        body = bytearray()
        self.sock.settimeout(timeout)
        pending = self._leftover
        self._leftover = b""
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = pending or self.sock.recv(65536)
                pending = b""
                raw += data
                parser.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        self._leftover, _ = parser.trailing_data
        raw = raw[: len(raw) - len(self._leftover)]
        return Response(
            raw=bytes(raw),
            status=head.status_code,
            reason=head.reason.decode("latin-1"),
            http_version=head.http_version.decode("ascii"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers.raw_items()],
            body=bytes(body),
        )

    def read_raw_until_close(self, timeout: float = WAIT) -> bytes:
        """Everything until the server closes; raises TimeoutError if it does not close in time."""
        self.sock.settimeout(timeout)
        chunks = [self._leftover]
        self._leftover = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def wait_closed(self, timeout: float = WAIT) -> float:
        """Seconds until the server closed the connection (EOF or reset), reading nothing else."""
        start = time.monotonic()
        extra = self.read_raw_until_close(timeout)
        assert extra == b"", f"unexpected bytes before close: {extra[:80]!r}"
        return time.monotonic() - start

    def gets_nothing_for(self, seconds: float) -> bool:
        """True when no byte arrives (and no close) for ``seconds``: the request is not being served."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1, socket.MSG_PEEK)  # a byte or EOF: something happened
        except (TimeoutError, socket.timeout):
            return True
        return False

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0), as a client that aborts."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def get(target: str = "/", host: str = "lab", extra: str = "", version: str = "1.1") -> bytes:
    """A request head as bytes."""
    host_line = f"Host: {host}\r\n" if host is not None else ""
    return f"GET {target} HTTP/{version}\r\n{host_line}{extra}\r\n".encode("latin-1")
