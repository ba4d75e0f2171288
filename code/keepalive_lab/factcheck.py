"""Live checks of the article's statements, and of what an operator can see from outside.

Each function starts its own server on 127.0.0.1, probes it with raw
sockets, and returns a table (or a small record) for the "Beyond the
article" chapter. Times are lab seconds unless a column says otherwise.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

import pandas as pd

from .handlers import ArticleHandler
from .kernel import accept_queue
from .limit import LimitListener
from .netconn import listen
from .server import Server, serving

__all__ = [
    "keepalive_by_framing",
    "idle_close_times",
    "StarvedHealth",
    "health_checks_while_starved",
    "ss_listen_line",
    "ss_while_starved",
    "SsSnapshot",
]


def _recv_some(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("the server closed the connection in the middle of a response")
    return data


def _read_response(sock: socket.socket) -> bytes:
    """One whole response, read by its framing (the few cases these probes use)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv_some(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" in head:
        while not body.endswith(b"0\r\n\r\n"):
            body += _recv_some(sock)
    elif b"Content-Length:" in head:
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += _recv_some(sock)
    else:  # delimited by the server's close
        while chunk := sock.recv(65536):
            body += chunk
    return head


@contextlib.contextmanager
def _server(handler, **kwargs):
    """The server with LimitListener(l, 1) on 127.0.0.1, for the ``with`` block; yields its port."""
    server = Server(handler, **kwargs)
    listener = LimitListener(listen(), 1)
    with serving(server, listener):
        yield listener.port


def _framing_of(head: bytes) -> str:
    if b"Transfer-Encoding: chunked" in head:
        return "chunked"
    if b"Content-Length:" in head:
        return "Content-Length"
    return "until close"


def keepalive_by_framing() -> pd.DataFrame:
    """Does the connection stay open after the response, for each way of framing the body?"""
    cases = [
        ("HTTP/1.1", "", "the handler sets Content-Length", ArticleHandler(latency=0, body_bytes=3, content_length=True)),
        ("HTTP/1.1", "", "no Content-Length, 3-byte body", ArticleHandler(latency=0, body_bytes=3, content_length=False)),
        ("HTTP/1.1", "", "no Content-Length, 5000-byte body", ArticleHandler(latency=0, body_bytes=5000, content_length=False)),
        ("HTTP/1.0", "Connection: keep-alive\r\n", "the handler sets Content-Length",
         ArticleHandler(latency=0, body_bytes=3, content_length=True)),
        ("HTTP/1.0", "Connection: keep-alive\r\n", "no Content-Length, 5000-byte body",
         ArticleHandler(latency=0, body_bytes=5000, content_length=False)),
    ]  # fmt: skip
    rows = []
    for version, extra, label, handler in cases:
        request = f"GET / {version}\r\nHost: lab\r\n{extra}\r\n".encode("ascii")
        with _server(handler, read_timeout=30) as port:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(request)
                head = _read_response(sock)
                kept = _served_again(sock, request)
        rows.append({"request": version + (" keep-alive" if extra else ""), "response body": label,
                     "framing Go chose": _framing_of(head), "connection kept alive": kept})  # fmt: skip
    return pd.DataFrame(rows)


def _served_again(sock: socket.socket, request: bytes) -> bool:
    """Send a second request on the same connection: answered means the connection was kept."""
    try:
        sock.sendall(request)
        sock.settimeout(2)
        return sock.recv(1) != b""
    except OSError:
        return False


def idle_close_times(read_timeout: float, idle_timeout: float) -> pd.DataFrame:
    """How long Go keeps an idle connection (lab seconds): IdleTimeout if set, else ReadTimeout."""
    rows = []
    for label, kwargs in (
        ("ReadTimeout only (the article)", {"read_timeout": read_timeout}),
        ("ReadTimeout and IdleTimeout", {"read_timeout": read_timeout, "idle_timeout": idle_timeout}),
    ):
        with _server(ArticleHandler(latency=0), **kwargs) as port:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
                _read_response(sock)
                answered = time.monotonic()
                sock.settimeout(read_timeout + idle_timeout + 5)
                sock.recv(1)  # b"" when Go closes the idle connection
                closed_after = time.monotonic() - answered
        rows.append({"configuration": label, "idle connection closed after": closed_after})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class StarvedHealth:
    """Two health checks against a server whose only slot is held by an idle connection."""

    tcp_check_connected: bool
    tcp_connect_seconds: float
    http_check_answered: bool
    http_check_waited: float
    accept_queue_after: int


def health_checks_while_starved(check_timeout: float) -> StarvedHealth:
    """A TCP check (connect, close) and an HTTP check (GET /, wait) while the slot is held."""
    with _server(ArticleHandler(latency=0), read_timeout=60) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as holder:
            holder.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
            _read_response(holder)  # the slot is now held by this idle connection
            start = time.monotonic()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=check_timeout).close()
                connected = True  # the kernel completed the handshake; nothing else was needed
            except OSError:
                connected = False
            tcp_seconds = time.monotonic() - start
            with socket.create_connection(("127.0.0.1", port), timeout=check_timeout) as http:
                http.sendall(b"GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n")
                start = time.monotonic()
                try:
                    answered = http.recv(1) != b""
                except (TimeoutError, socket.timeout):
                    answered = False
                waited = time.monotonic() - start
            queued = accept_queue(port)
    return StarvedHealth(connected, tcp_seconds, answered, waited, queued)


def ss_listen_line(port: int) -> str | None:
    """What ``ss -lnt`` prints for the listener on ``port`` (None when ss is not installed)."""
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(["ss", "-lnt", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout
    return "\n".join(line for line in out.splitlines() if line.strip())


@dataclass(frozen=True)
class SsSnapshot:
    """What ``ss -lnt`` printed for the listener (None without ss), and the queue length read directly."""

    text: str | None
    queue: int

    def __str__(self) -> str:
        return self.text if self.text is not None else f"(ss is not installed here; the accept queue held {self.queue})"


def ss_while_starved() -> SsSnapshot:
    """``ss -lnt`` output while two connections wait behind an idle one."""
    with _server(ArticleHandler(latency=0), read_timeout=60) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as holder:
            holder.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
            _read_response(holder)
            waiting = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
            try:
                return SsSnapshot(ss_listen_line(port), accept_queue(port))
            finally:
                for sock in waiting:
                    sock.close()
