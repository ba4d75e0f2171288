"""Connections with Go's deadlines, and the TCP listener beneath everything.

Theory of operation
-------------------
Go's ``net.Conn`` carries absolute read and write deadlines
(``SetReadDeadline``/``SetWriteDeadline``): a blocked ``Read`` or ``Write``
fails with a timeout once the deadline passes, and a deadline already in the
past fails at once. Python sockets have a relative timeout instead, so
:class:`Conn` turns the time left into a socket timeout just before each
system call. Deadlines are ``time.monotonic()`` instants, or ``None`` for none.

Errors are mapped here, at the socket edge, into a small hierarchy:
:class:`Timeout` (a deadline passed), :class:`ConnReset` (the peer reset or
the pipe broke) and :class:`UseOfClosed` (we closed the socket ourselves,
Go's "use of closed network connection"). Nothing above this module catches
``OSError``.

A socket closed by one thread while another is blocked in ``recv`` or
``accept`` does not wake the blocked thread on Linux (Go's netpoller does).
:meth:`Conn.interrupt` and :meth:`TCPListener.close` therefore call
``shutdown(2)`` first, which does wake it.
"""

from __future__ import annotations

import socket
import threading
import time

from keepalive_lab.goserver.durations import LONGEST_WAIT
from keepalive_lab.kernel import somaxconn

__all__ = [
    "NetError",
    "Timeout",
    "ConnReset",
    "UseOfClosed",
    "ListenerClosed",
    "Conn",
    "TCPListener",
    "listen",
]


class NetError(Exception):
    """A network operation failed; the subclasses say how."""


class Timeout(NetError):
    """A read or write deadline passed (Go: a net.Error whose Timeout() is true)."""


class ConnReset(NetError):
    """The peer reset the connection, or the pipe is broken."""


class UseOfClosed(NetError):
    """The operation ran on a socket that this side already closed."""


class ListenerClosed(NetError):
    """Accept on a closed listener (Go: net.ErrClosed)."""


def _time_left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise Timeout("i/o timeout")
    return min(left, LONGEST_WAIT)  # a deadline as far off as Go allows is more than a socket timeout holds


class Conn:
    """A connected TCP socket with Go-style absolute deadlines (Go's ``net.TCPConn``)."""

    def __init__(self, sock: socket.socket, remote_addr: str, local_addr: str) -> None:
        self.sock = sock
        self.remote_addr = remote_addr
        self.local_addr = local_addr
        self.read_deadline: float | None = None
        self.write_deadline: float | None = None
        self._close_lock = threading.Lock()
        self._closed = False

    def set_read_deadline(self, deadline: float | None) -> None:
        self.read_deadline = deadline

    def set_write_deadline(self, deadline: float | None) -> None:
        self.write_deadline = deadline

    @property
    def closed(self) -> bool:
        return self._closed

    def recv(self, max_bytes: int) -> bytes:
        """Read up to ``max_bytes``; ``b""`` means the peer closed its side (EOF)."""
        try:
            self.sock.settimeout(_time_left(self.read_deadline))
            return self.sock.recv(max_bytes)
        except OSError as exc:
            raise self._map(exc) from exc

    def sendall(self, data: bytes) -> None:
        """Write all of ``data`` before the write deadline (Python bounds the whole call)."""
        try:
            self.sock.settimeout(_time_left(self.write_deadline))
            self.sock.sendall(data)
        except OSError as exc:
            raise self._map(exc) from exc

    def close_write(self) -> None:
        """Send FIN but keep reading (Go's ``TCPConn.CloseWrite``)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # already closed or reset: nothing left to half-close

    def interrupt(self) -> None:
        """Wake a thread blocked on this socket, so that a close from outside takes effect."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # not connected any more: nobody can be blocked on it

    def close(self) -> bool:
        """Close the socket; only the first call does anything. Returns whether it did."""
        with self._close_lock:
            if self._closed:
                return False
            self._closed = True
        self.sock.close()
        return True

    def _map(self, exc: OSError) -> NetError:
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return Timeout("i/o timeout")
        if self._closed:
            return UseOfClosed("use of closed network connection")
        return ConnReset(str(exc) or type(exc).__name__)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Conn {self.local_addr} <- {self.remote_addr} {state}>"


def _addr_text(addr: tuple) -> str:
    return f"{addr[0]}:{addr[1]}"


class TCPListener:
    """A listening TCP socket with Go's backlog (``somaxconn``) and a wakeable close."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.host = host
        self.port = port
        self._close_lock = threading.Lock()
        self._closed = False

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    def accept(self) -> Conn:
        """Block until the kernel hands over a queued connection (``accept(2)``)."""
        try:
            sock, addr = self.sock.accept()
        except OSError as exc:
            if self._closed:
                raise ListenerClosed("use of closed network connection") from exc
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # Go's default
        return Conn(sock, _addr_text(addr), self.addr)

    def close(self) -> None:
        """Close the listener and wake a thread blocked in ``accept``."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept(2) with EINVAL on Linux
        except OSError:
            pass  # never listened, or already shut: nothing to wake
        self.sock.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"<TCPListener {self.addr}{' closed' if self._closed else ''}>"


def listen(host: str = "127.0.0.1", port: int = 0, backlog: int | None = None) -> TCPListener:
    """Listen on ``host:port`` (port 0 picks a free one), with Go's backlog by default.

    Go passes ``/proc/sys/net/core/somaxconn`` as the backlog
    (``net/sock_linux.go``, ``maxListenerBacklog``); so do we.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # Go sets it too
        sock.bind((host, port))
        sock.listen(somaxconn() if backlog is None else backlog)
    except BaseException:
        sock.close()
        raise
    return TCPListener(sock)
