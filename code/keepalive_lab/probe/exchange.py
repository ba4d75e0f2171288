"""One request on one connection, read with h11, with every wait bounded: what the probe sends.

A probe sees a server from outside, so it needs a real HTTP/1.1 client that
frames the response (length, chunked, or until close) and tells whether the
connection may stay open afterwards. h11's client role does both; this
module adds the deadline and the outcomes a probe cares about: answered,
no answer in time, closed or reset without an answer.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from dataclasses import dataclass
from enum import StrEnum

import h11

__all__ = ["Outcome", "Answer", "connect", "send_request", "read_answer", "closed_by_peer", "request_bytes"]

_MAX_BODY = 8 << 20  # a probe reads a small page; more than this is drained no further
_GRACE = 0.05  # how long to watch for a close right after a response that claims keep-alive


class Outcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no-answer"  # nothing before the deadline: the request waits somewhere
    CLOSED = "closed"  # the server closed the connection without a response
    RESET = "reset"  # the server reset the connection without a response
    REFUSED = "refused"  # nothing accepted the connection


@dataclass
class Answer:
    """What came back for one request: when, which status, and whether the connection stays open."""

    outcome: Outcome
    seconds: float  # from sending the request to the end of the response (or the deadline)
    status: int | None = None
    keeps_alive: bool = False  # the server left the connection open for another request
    server: str | None = None  # the Server header, when sent


def request_bytes(host_header: str, path: str = "/") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: keepalive-lab-check\r\nAccept: */*\r\n\r\n"
    ).encode("ascii")


def connect(address: tuple[str, int], timeout: float) -> socket.socket | Outcome:
    """A connected socket, or REFUSED/RESET/NO_ANSWER when the connection itself fails."""
    try:
        return socket.create_connection(address, timeout=timeout)
    except ConnectionRefusedError:
        return Outcome.REFUSED
    except ConnectionResetError:
        return Outcome.RESET
    except (TimeoutError, socket.timeout):
        return Outcome.NO_ANSWER


def send_request(sock: socket.socket, request: bytes) -> Outcome | None:
    """Send the request; an outcome when the server already closed or reset the connection."""
    try:
        sock.sendall(request)
    except (BrokenPipeError, ConnectionResetError):
        return Outcome.RESET
    return None


def _server_header(response: h11.Response) -> str | None:
    for name, value in response.headers:
        if name == b"server":
            return value.decode("latin-1")
    return None


def read_answer(sock: socket.socket, started: float, deadline: float) -> Answer:
    """Read one response until ``deadline`` (a ``time.monotonic()`` value)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))  # mirror what was sent
    conn.send(h11.EndOfMessage())
    response: h11.Response | None = None
    body = 0
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return _failed(sock, response, started, Outcome.CLOSED)
        if event is h11.NEED_DATA:
            data = _recv(sock, deadline)
            if isinstance(data, Outcome):
                return _failed(sock, response, started, data)
            conn.receive_data(data)
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += len(event.data)
            if body > _MAX_BODY:
                return Answer(Outcome.ANSWERED, time.monotonic() - started, response.status_code, False,
                              _server_header(response))  # fmt: skip
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            seconds = time.monotonic() - started
            keeps = conn.their_state is h11.DONE and not closed_by_peer(sock, _GRACE)
            return Answer(Outcome.ANSWERED, seconds, response.status_code, keeps, _server_header(response))
        elif isinstance(event, h11.ConnectionClosed):
            return _failed(sock, response, started, Outcome.CLOSED)
        # h11.InformationalResponse (100 Continue and the like): keep reading


def _failed(sock: socket.socket, response: h11.Response | None, started: float, outcome: Outcome) -> Answer:
    seconds = time.monotonic() - started
    if response is not None:  # a head arrived, then the body broke off: it was answered, not kept
        return Answer(Outcome.ANSWERED, seconds, response.status_code, False, _server_header(response))
    return Answer(outcome, seconds)


def _recv(sock: socket.socket, deadline: float) -> bytes | Outcome:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return Outcome.NO_ANSWER
    sock.settimeout(remaining)
    try:
        return sock.recv(65536)  # b"" is the server's FIN: h11 turns it into ConnectionClosed
    except (TimeoutError, socket.timeout):
        return Outcome.NO_ANSWER
    except ConnectionResetError:
        return Outcome.RESET
    except OSError as exc:
        if exc.errno in (errno.ECONNABORTED, errno.EPIPE):
            return Outcome.RESET
        raise


def closed_by_peer(sock: socket.socket, wait: float = 0.0) -> bool:
    """Whether the server closed (FIN or RST) the connection, watching for up to ``wait`` seconds."""
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        if not sel.select(wait):
            return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True
