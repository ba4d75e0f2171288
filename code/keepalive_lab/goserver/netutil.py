"""``LimitListener``: at most *n* connections at a time, the way x/net does it.

Theory of operation
-------------------
This mirrors ``golang.org/x/net/netutil/listen.go`` (v0.32.0):

* ``acquire`` takes a slot of a semaphore of size *n* **before** ``accept(2)``.
  While every slot is taken, the application does not call ``accept`` at all;
  the kernel keeps completing handshakes into the listen queue, so clients
  believe they are connected while nobody reads their requests.
* A failed ``accept`` gives the slot back.
* The slot comes back exactly once, when the *server side* closes the
  accepted connection (``limitListenerConn.Close`` with ``releaseOnce``). A
  client that hangs up frees nothing until the server notices and closes.
* ``close`` closes the inner listener and signals ``done``, which wakes an
  ``accept`` blocked in ``acquire`` (golang/go#24458).

Go's ``acquire`` is a ``select`` over the semaphore channel and ``done``; a
condition variable plays both roles here.
"""

from __future__ import annotations

import threading

from keepalive_lab.goserver.net import Conn, ListenerClosed, TCPListener

__all__ = ["LimitListener", "LimitListenerConn"]


class LimitListenerConn(Conn):
    """An accepted connection that gives its slot back when the server closes it."""

    def __init__(self, conn: Conn, release) -> None:
        super().__init__(conn.sock, conn.remote_addr, conn.local_addr)
        self._release = release

    def close_write(self) -> None:
        """Nothing: behind a ``LimitListener`` Go cannot half-close.

        Go's ``closeWriteAndWait`` half-closes only a connection that has
        ``CloseWrite`` (``c.rwc.(closeWriter)``, server.go). x/net's
        ``limitListenerConn`` embeds the ``net.Conn`` interface
        (netutil/listen.go), which hides ``*TCPConn``'s ``CloseWrite``: no FIN
        goes out, and the client learns of the close only after the delay,
        as an RST when its unread bytes are still in our receive buffer.
        """

    def close(self) -> bool:
        # listen.go: close the socket, then releaseOnce.Do(l.release).
        closed_now = super().close()
        if closed_now:
            self._release()
        return closed_now


class LimitListener:
    """Accept at most ``n`` simultaneous connections from ``listener`` (x/net ``LimitListener``)."""

    def __init__(self, listener: TCPListener, n: int) -> None:
        if n < 1:
            raise ValueError("LimitListener needs n >= 1 (no limit: use the listener itself)")
        self.listener = listener
        self.n = n
        self._cond = threading.Condition()
        self._in_use = 0  # len(l.sem) in Go: includes an accept waiting in the kernel
        self._open = 0  # accepted connections the server has not closed yet
        self._done = False

    @property
    def addr(self) -> str:
        return self.listener.addr

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def in_use(self) -> int:
        """Slots taken right now, counting the one an ``accept`` waiting in the kernel holds (Go's ``len(sem)``)."""
        with self._cond:
            return self._in_use

    @property
    def connections(self) -> int:
        """Accepted connections that the server has not closed yet."""
        with self._cond:
            return self._open

    def _acquire(self) -> bool:
        with self._cond:
            while self._in_use >= self.n and not self._done:
                self._cond.wait()
            if self._done:
                return False
            self._in_use += 1
            return True

    def _release(self) -> None:
        with self._cond:
            self._in_use -= 1
            self._cond.notify()

    def _release_conn(self) -> None:
        with self._cond:
            self._open -= 1
        self._release()

    def accept(self) -> LimitListenerConn:
        """Wait for a free slot, then for a connection; Go's ``limitListener.Accept``."""
        if not self._acquire():
            # Go drains the inner listener until it errors (golang/go#50216); ours is
            # closed by then, so the drain is just the error.
            raise ListenerClosed("use of closed network connection")
        try:
            conn = self.listener.accept()
        except BaseException:
            self._release()
            raise
        with self._cond:
            self._open += 1
        return LimitListenerConn(conn, self._release_conn)

    def close(self) -> None:
        """Close the inner listener and wake an ``accept`` waiting for a slot."""
        self.listener.close()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self.listener.closed

    def __repr__(self) -> str:
        return f"<LimitListener {self.addr} {self.connections} open, {self.in_use}/{self.n} slots taken>"
