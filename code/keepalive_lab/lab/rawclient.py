"""``RawClient``: one HTTP/1.1 client on a raw socket, for probes and tests that need the wire.

httpx hides what these need to see: whether a connection stays open, when
the server closes it, whether a request is answered at all while its bytes
wait in the kernel. :class:`RawClient` sends exact bytes and reads responses
with h11 (which frames them: length, chunked, or until close), and answers
those small questions with a deadline on every wait.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

import h11

__all__ = ["RawClient", "Response", "request_bytes", "NoAnswer"]

WAIT = 5.0  # how long a probe waits for something that should happen promptly


class NoAnswer(TimeoutError):
    """No whole response arrived in time."""


@dataclass
class Response:
    """One response as it came off the wire."""

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

    @property
    def head(self) -> str:
        """The status line and header lines, as text."""
        return self.raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def request_bytes(target: str = "/", host: str | None = "lab", extra: str = "", version: str = "1.1",
                  method: str = "GET") -> bytes:  # fmt: skip
    """A request head as bytes (no Host line when ``host`` is None)."""
    host_line = f"Host: {host}\r\n" if host is not None else ""
    return f"{method} {target} HTTP/{version}\r\n{host_line}{extra}\r\n".encode("latin-1")


class RawClient:
    """A blocking TCP connection to ``host:port`` that sends raw bytes and reads responses with h11."""

    def __init__(self, port: int, timeout: float = WAIT, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._leftover = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, data: bytes, method: str = "GET", timeout: float = WAIT) -> Response:
        self.send(data)
        return self.read_response(method, timeout)

    def read_response(self, method: str = "GET", timeout: float = WAIT) -> Response:
        """Read one whole response; raises :class:`NoAnswer` if none comes within ``timeout``."""
        parser = h11.Connection(h11.CLIENT)
        parser.send(h11.Request(method=method, target="/", headers=[("Host", "lab")]))
        raw = bytearray()
        head = None
        body = bytearray()
        deadline = time.monotonic() + timeout
        pending, self._leftover = self._leftover, b""
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = pending or self._recv(deadline)
                pending = b""
                raw += data
                parser.receive_data(data)
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        self._leftover, _ = parser.trailing_data
        raw = raw[: len(raw) - len(self._leftover)]
        if head is None:
            raise ConnectionError("the server closed the connection without a response")
        return Response(
            raw=bytes(raw),
            status=head.status_code,
            reason=head.reason.decode("latin-1"),
            http_version=head.http_version.decode("ascii"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers.raw_items()],
            body=bytes(body),
        )

    def _recv(self, deadline: float) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoAnswer("no whole response in time")
        self.sock.settimeout(left)
        try:
            return self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            raise NoAnswer("no whole response in time") from None

    def read_raw_until_close(self, timeout: float = WAIT) -> bytes:
        """Everything until the server closes; raises TimeoutError if it does not close in time."""
        deadline = time.monotonic() + timeout
        chunks = [self._leftover]
        self._leftover = b""
        while True:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
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
        if extra:
            raise AssertionError(f"unexpected bytes before close: {extra[:80]!r}")
        return time.monotonic() - start

    def answered_within(self, seconds: float) -> bool:
        """True when a byte (or the close) arrives within ``seconds``; reads nothing."""
        if self._leftover:
            return True
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except (TimeoutError, socket.timeout):
            return False
        except ConnectionResetError:
            return True
        return True

    def gets_nothing_for(self, seconds: float) -> bool:
        """True when no byte arrives (and no close) for ``seconds``: the request is not being served."""
        return not self.answered_within(seconds)

    def time_to_answer(self, limit: float) -> float:
        """Seconds until the first byte (or close) arrives; ``inf`` when nothing comes within ``limit``."""
        start = time.monotonic()
        return time.monotonic() - start if self.answered_within(limit) else float("inf")

    def served_again(self, data: bytes, timeout: float = 2.0) -> bool:
        """Send another request on this connection: answered means the connection was kept."""
        try:
            self.send(data)
        except OSError:
            return False
        try:
            self.read_response(timeout=timeout)
        except (OSError, ConnectionError, h11.RemoteProtocolError):
            return False
        return True

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
