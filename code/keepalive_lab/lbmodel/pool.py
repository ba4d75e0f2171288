"""A load-balancer node's own pool of connections to the server.

Theory of operation
-------------------
A pooling L7 load balancer (ALB, ingress-nginx, HAProxy in its default mode)
keeps HTTP/1.1 connections to each backend open between requests and sends
one request at a time over each (no pipelining). For every request it takes
an idle pooled connection if it has one, and opens a new one when all are
busy. An idle connection is closed by the node after its idle timeout (ALB's
default is 60 s), and dropped when the server has closed it meanwhile (the
node sees EOF on it; httpcore asks ``is_readable``, nginx has a close handler).

Each connection here goes NEW -> ACTIVE -> IDLE -> ... -> CLOSED (the same
lifecycle as Go's ``ConnState``, seen from the client side), with an
``expire_at`` instant, as in httpcore's pool; bookkeeping happens under a lock
and sockets are closed outside it. A reaper thread closes idle connections at
their expiry. Connection names are the node's local address, which is the
``remote_addr`` the server logs for the same connection.

Requests are written as plain heads (HTTP/1.1, or HTTP/1.0 with
``Connection: close`` for a node without upstream keep-alive, like nginx
before 1.29.7); responses are read with h11.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

import h11

from keepalive_lab.goserver.net import Conn, NetError, Timeout
from keepalive_lab.records import ConnState, UpstreamEvent, UpstreamEventKind

__all__ = ["UpstreamConnection", "UpstreamPool", "UpstreamResponse", "UpstreamTimeout", "UpstreamFailed"]


class UpstreamTimeout(Exception):
    """No byte of the response came within the node's timeout (the node answers 504)."""


class UpstreamFailed(Exception):
    """The connection broke or the response was not HTTP (the node answers 502)."""


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reusable: bool  # the server keeps the connection open for another request


class UpstreamConnection:
    """One connection from a node to the server."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.name = conn.local_addr
        self.state = ConnState.NEW
        self.expire_at: float | None = None
        self.requests = 0

    def is_idle(self) -> bool:
        return self.state is ConnState.IDLE

    def has_expired(self, now: float) -> bool:
        return self.expire_at is not None and now >= self.expire_at

    def server_closed(self) -> bool:
        """An idle connection that is readable has been closed (or spoken to) by the server."""
        try:
            readable, _, _ = select.select([self.conn.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def exchange(self, method: str, head: bytes, body: bytes, timeout: float) -> UpstreamResponse:
        """Send one request and read its response; each read must bring bytes within ``timeout``."""
        self.requests += 1
        try:
            self.conn.set_write_deadline(time.monotonic() + timeout)
            self.conn.sendall(head + body)
        except NetError as exc:
            raise UpstreamFailed(f"write: {exc}") from exc
        parser = h11.Connection(h11.CLIENT)
        # Tell h11 what was sent, so that it frames the response (HEAD has no body) and
        # judges keep-alive from the response's version and Connection header.
        parser.send(h11.Request(method=method, target="/", headers=[("Host", "backend")]))
        parser.send(h11.EndOfMessage())
        status, headers, chunks = 0, [], []
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as exc:
                raise UpstreamFailed(f"bad response: {exc}") from exc
            if event is h11.NEED_DATA:
                parser.receive_data(self._read(timeout))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()]
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        reusable = parser.their_state is h11.DONE and parser.our_state is h11.DONE
        return UpstreamResponse(status, headers, b"".join(chunks), reusable)

    def _read(self, timeout: float) -> bytes:
        # ALB's idle timeout: the wait ends when no byte has arrived for `timeout`.
        self.conn.set_read_deadline(time.monotonic() + timeout)
        try:
            data = self.conn.recv(64 * 1024)
        except Timeout as exc:
            raise UpstreamTimeout() from exc
        except NetError as exc:
            raise UpstreamFailed(f"read: {exc}") from exc
        return data  # b"" is EOF: h11 decides whether the response was complete

    def close(self) -> None:
        """Close it; only the thread using it, or the pool while nobody uses it, may do this."""
        self.state = ConnState.CLOSED
        self.conn.close()

    def wake(self) -> None:
        """Make a thread blocked on this connection return (EOF); that thread then closes it."""
        self.conn.interrupt()

    def __repr__(self) -> str:
        return f"<UpstreamConnection {self.name} {self.state.value} requests={self.requests}>"


class UpstreamPool:
    """A node's connections to one server: reuse an idle one, else open a new one."""

    def __init__(
        self,
        node: str,
        host: str,
        port: int,
        *,
        keep_alive: bool,
        idle_timeout: float,
        max_idle: int | None,
        on_event: Callable[[UpstreamEvent], None],
        connect_timeout: float = 10.0,
    ) -> None:
        self.node = node
        self.address = (host, port)
        self.keep_alive = keep_alive
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.on_event = on_event
        self.connect_timeout = connect_timeout
        self._lock = threading.Condition()
        self._connections: list[UpstreamConnection] = []
        self._closed = False
        self._reaper = threading.Thread(target=self._reap, name=f"reaper-{node}", daemon=True)
        self._reaper.start()

    def acquire(self) -> tuple[UpstreamConnection, bool]:
        """An idle connection (most recently used first) or a new one; ``(connection, reused)``."""
        stale: list[tuple[UpstreamConnection, UpstreamEventKind]] = []
        chosen = None
        with self._lock:
            for c in sorted(self._idle(), key=lambda c: c.expire_at or 0, reverse=True):
                if c.server_closed():
                    stale.append((c, UpstreamEventKind.SERVER_CLOSED))
                    self._connections.remove(c)
                elif chosen is None:
                    chosen = c
                    c.state = ConnState.ACTIVE
                    c.expire_at = None
        self._close_all(stale)
        if chosen is not None:
            return chosen, True
        return self._connect(), False

    def release(self, c: UpstreamConnection, reusable: bool) -> None:
        """Return a connection after a complete response; close it when it cannot be reused."""
        with self._lock:
            keep = reusable and self.keep_alive and not self._closed
            if keep and self.max_idle is not None and len(self._idle()) >= self.max_idle:
                keep = False  # nginx's keepalive N: beyond N idle connections, close
            if keep:
                c.state = ConnState.IDLE
                c.expire_at = time.monotonic() + self.idle_timeout
                self._lock.notify_all()
            elif c in self._connections:
                self._connections.remove(c)
        if not keep:
            self._close_all([(c, UpstreamEventKind.CLOSE)])

    def discard(self, c: UpstreamConnection, why: UpstreamEventKind) -> None:
        """Close a connection whose exchange failed (timeout, reset)."""
        with self._lock:
            if c in self._connections:
                self._connections.remove(c)
        self._close_all([(c, why)])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [(c, UpstreamEventKind.CLOSE) for c in self._connections if c.is_idle()]
            busy = [c for c in self._connections if not c.is_idle()]
            self._connections.clear()
            self._lock.notify_all()
        self._close_all(idle)
        for c in busy:
            c.wake()  # its proxy thread fails the exchange and closes it (discard)
        self._reaper.join(5.0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {s.value: sum(c.state is s for c in self._connections) for s in ConnState}

    def _idle(self) -> list[UpstreamConnection]:
        return [c for c in self._connections if c.is_idle()]

    def _connect(self) -> UpstreamConnection:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        host, port = sock.getsockname()[:2]
        c = UpstreamConnection(Conn(sock, f"{self.address[0]}:{self.address[1]}", f"{host}:{port}"))
        c.state = ConnState.ACTIVE
        with self._lock:
            self._connections.append(c)
        self.on_event(UpstreamEvent(self.node, c.name, UpstreamEventKind.OPEN, time.monotonic()))
        return c

    def _close_all(self, victims: list[tuple[UpstreamConnection, UpstreamEventKind]]) -> None:
        for c, why in victims:
            c.close()
            self.on_event(UpstreamEvent(self.node, c.name, why, time.monotonic()))

    def _reap(self) -> None:
        """Close idle connections at their expiry (the node's idle timeout)."""
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                expired = [c for c in self._idle() if c.has_expired(now)]
                for c in expired:
                    self._connections.remove(c)
                if expired:
                    self._lock.release()
                    try:
                        self._close_all([(c, UpstreamEventKind.EXPIRE) for c in expired])
                    finally:
                        self._lock.acquire()
                    continue
                next_expiry = min((c.expire_at for c in self._idle() if c.expire_at), default=None)
                self._lock.wait(None if next_expiry is None else max(0.0, next_expiry - now))

    def __repr__(self) -> str:
        counts = self.snapshot()
        return f"<UpstreamPool {self.node} -> {self.address[1]} idle={counts['idle']} active={counts['active']}>"
