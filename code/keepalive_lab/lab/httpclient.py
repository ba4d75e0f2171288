"""``KeepAliveClient``: the users' HTTP/1.1 client, lean enough that its own time stays out of the results.

The experiments' users behave like any keep-alive HTTP client (httpx,
requests, a browser): one connection per destination, reused for the next
request while the server keeps it open, a new one when the server has
closed it (the client notices before sending, as httpcore does by checking
whether an idle connection has become readable), and a timeout on every
wait. A general-purpose client spends about a millisecond of Python on each
request; at a time scale of x20 that is 20 ms of article time, a tenth of
the handler's 200 ms. This one writes the request head itself and lets h11
frame the response, in a fraction of that.

Errors: :class:`ClientTimeout` when nothing came in time (connect, or the
next byte of the response), :class:`ClientError` when the connection broke
or the response was not HTTP. Either way the connection is dropped.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from urllib.parse import urlsplit

import h11

__all__ = ["KeepAliveClient", "ClientTimeout", "ClientError"]

_MAX_BODY = 16 << 20  # the lab's pages are a few bytes; a runaway body is an error, not a hang


class ClientTimeout(TimeoutError):
    """Nothing arrived within the client's timeout."""


class ClientError(ConnectionError):
    """The connection failed, broke, or carried something that is not an HTTP response."""


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.CLIENT)

    def stale(self) -> bool:
        """An idle connection with something to read has been closed (or spoken to) by the server."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        self.sock.close()


class KeepAliveClient:
    """``with KeepAliveClient(timeout) as http: status = http.get(url, headers)``.

    Requests go one at a time (a user waits for each answer); :meth:`close` may come from another
    thread, and then also ends a request in flight, so that tearing a run down never waits for a
    starved request's timeout.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, int], _Connection] = {}
        self._busy: set[_Connection] = set()
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> "KeepAliveClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle.values()), {}
            busy = list(self._busy)
        for conn in idle:
            conn.close()
        for conn in busy:  # wakes the thread blocked on it: its recv returns at once
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def get(self, url: str, headers: dict[str, str] | None = None) -> int:
        """Send ``GET url`` and read the whole response; return its status code."""
        return self.fetch(url, headers)[0]

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send ``GET url`` and read the whole response; return its status code and body."""
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or 80)
        conn = self._connection(address)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        fields = [("Host", parts.netloc), ("Accept", "*/*"), *(headers or {}).items()]
        with self._lock:
            self._busy.add(conn)
        try:
            status, body, reusable = self._exchange(conn, target, fields)
        except BaseException:
            conn.close()
            raise
        finally:
            with self._lock:
                self._busy.discard(conn)
        with self._lock:
            keep = reusable and not self._closed
            if keep:
                conn.h11.start_next_cycle()
                self._idle[address] = conn
        if not keep:
            conn.close()
        return status, body

    def _connection(self, address: tuple[str, int]) -> _Connection:
        with self._lock:
            if self._closed:
                raise ClientError("the client is closed")
            conn = self._idle.pop(address, None)
        if conn is not None and not conn.stale():
            return conn
        if conn is not None:
            conn.close()
        try:
            sock = socket.create_connection(address, timeout=self.timeout)
        except (TimeoutError, socket.timeout) as exc:
            raise ClientTimeout(f"connect to {address[0]}:{address[1]}: timed out") from exc
        except OSError as exc:
            raise ClientError(f"connect to {address[0]}:{address[1]}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(sock)

    def _exchange(self, conn: _Connection, target: str, fields: list[tuple[str, str]]) -> tuple[int, bytes, bool]:
        head = conn.h11.send(h11.Request(method="GET", target=target, headers=fields))
        head += conn.h11.send(h11.EndOfMessage())
        try:
            conn.sock.sendall(head)
        except OSError as exc:
            raise ClientError(f"send: {exc}") from exc
        status, body = None, bytearray()
        deadline_each = self.timeout  # like httpx's read timeout: the wait for each next piece
        while True:
            try:
                event = conn.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise ClientError(f"bad response: {exc}") from exc
            if event is h11.NEED_DATA:
                conn.h11.receive_data(self._recv(conn, deadline_each))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > _MAX_BODY:
                    raise ClientError(f"response body over {_MAX_BODY} bytes")
            elif isinstance(event, h11.EndOfMessage):
                assert status is not None
                return status, bytes(body), conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE
            elif isinstance(event, h11.ConnectionClosed):
                raise ClientError("server disconnected without sending a response")
            # h11.InformationalResponse: keep reading

    @staticmethod
    def _recv(conn: _Connection, timeout: float) -> bytes:
        conn.sock.settimeout(timeout)
        started = time.monotonic()
        try:
            return conn.sock.recv(65536)  # b"" tells h11 that the server closed
        except (TimeoutError, socket.timeout) as exc:
            raise ClientTimeout(f"read: nothing for {time.monotonic() - started:.3f} s") from exc
        except OSError as exc:
            raise ClientError(f"read: {exc}") from exc
