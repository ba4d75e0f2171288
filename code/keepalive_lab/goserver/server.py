"""``Server``: Go's ``net/http`` HTTP/1.1 server on raw sockets, one thread per connection.

Theory of operation
-------------------
:meth:`Server.serve` mirrors ``Server.Serve`` (server.go): it loops on
``listener.accept()`` and starts one thread per accepted connection (Go starts
a goroutine), which runs :meth:`~keepalive_lab.goserver.conn.ServerConn.serve`.
Nothing is logged, and no hook runs, before ``accept`` returns: a connection
waiting in the kernel's queue behind a full
:class:`~keepalive_lab.goserver.netutil.LimitListener` leaves no trace in the
server.

The server keeps Go's settings (``ReadTimeout``... with Go's fallbacks), the
registry of live connections that ``Close``, ``Shutdown`` and
``SetKeepAlivesEnabled(false)`` act on, and the ``ConnState`` hook: each
transition (new, active, idle, closed) goes to it with a ``time.monotonic()``
stamp, as Go's ``Server.ConnState`` hook sees them.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from typing import Callable, Optional, Protocol

from keepalive_lab.goserver.conn import ServerConn
from keepalive_lab.goserver.net import Conn, ListenerClosed
from keepalive_lab.goserver.request import Request
from keepalive_lab.goserver.response import ResponseWriter
from keepalive_lab.records import AccessRecord, ConnState, ConnStateChange

__all__ = [
    "Handler",
    "Server",
    "DEFAULT_MAX_HEADER_BYTES",
    "RST_AVOIDANCE_DELAY",
    "serving",
]

DEFAULT_MAX_HEADER_BYTES = 1 << 20  # server.go: DefaultMaxHeaderBytes
RST_AVOIDANCE_DELAY = 0.5  # server.go: rstAvoidanceDelay, before closing after a FIN
# server.go closeIdleConns: a StateNew connection silent this long counts as idle (golang/go#22682).
NEW_CONN_IDLE_AFTER = 5.0


class Handler(Protocol):
    def __call__(self, w: ResponseWriter, r: Request) -> None: ...


class Server:
    """Go's ``http.Server`` over a listener; durations in seconds, 0 meaning "none"."""

    def __init__(
        self,
        handler: Handler,
        *,
        read_timeout: float = 0.0,
        read_header_timeout: float = 0.0,
        write_timeout: float = 0.0,
        idle_timeout: float = 0.0,
        max_header_bytes: int = 0,
        conn_state: Optional[Callable[[ConnStateChange], None]] = None,
        access_log: Optional[Callable[[AccessRecord], None]] = None,
        error_log: Optional[Callable[[str], None]] = None,
        rst_avoidance_delay: float = RST_AVOIDANCE_DELAY,
    ) -> None:
        self.handler = handler
        self.read_timeout = read_timeout
        self.read_header_timeout = read_header_timeout
        self.write_timeout = write_timeout
        self.idle_timeout = idle_timeout
        self.max_header_bytes = max_header_bytes if max_header_bytes > 0 else DEFAULT_MAX_HEADER_BYTES
        self.conn_state = conn_state
        self.access_log = access_log
        self.error_log = error_log
        self.rst_avoidance_delay = rst_avoidance_delay
        self._lock = threading.Lock()
        self._conns: dict[int, ServerConn] = {}
        self._listeners: set = set()
        self._ids = itertools.count(1)
        self._disable_keep_alives = False
        self._in_shutdown = False

    # -- Go's timeout fallbacks ----------------------------------------------

    def effective_idle_timeout(self) -> float:
        """``idleTimeout()``: IdleTimeout if set, else ReadTimeout."""
        return self.idle_timeout if self.idle_timeout != 0 else self.read_timeout

    def effective_read_header_timeout(self) -> float:
        """``readHeaderTimeout()``: ReadHeaderTimeout if set, else ReadTimeout."""
        return self.read_header_timeout if self.read_header_timeout != 0 else self.read_timeout

    def do_keep_alives(self) -> bool:
        return not self._disable_keep_alives and not self._in_shutdown

    # -- public control --------------------------------------------------------

    def set_keep_alives_enabled(self, enabled: bool) -> None:
        """Go's ``SetKeepAlivesEnabled``; disabling also closes connections idle right now."""
        self._disable_keep_alives = not enabled
        if not enabled:
            self._close_idle_conns()

    def serve(self, listener) -> None:
        """Accept connections until the listener closes; Go's ``Server.Serve``.

        Returns normally after :meth:`close` or :meth:`shutdown` (Go returns
        ``ErrServerClosed``); other accept errors propagate.
        """
        with self._lock:
            if self._in_shutdown:
                return
            self._listeners.add(listener)
        backoff = 0.0
        try:
            while True:
                try:
                    rwc = listener.accept()
                except ListenerClosed:
                    if self._in_shutdown or listener.closed:
                        return
                    raise
                except OSError as exc:
                    if self._in_shutdown:
                        return
                    # Go retries temporary accept errors (EMFILE...) with a 5 ms..1 s backoff.
                    backoff = min(max(backoff * 2, 0.005), 1.0)
                    self.log(f"http: Accept error: {exc}; retrying in {backoff * 1000:.0f}ms")
                    time.sleep(backoff)
                    continue
                backoff = 0.0
                self._start_conn(rwc)
        finally:
            with self._lock:
                self._listeners.discard(listener)

    def close(self, join_timeout: float = 5.0) -> None:
        """Close listeners and every connection now (Go's ``Server.Close``), then join the threads."""
        with self._lock:
            self._in_shutdown = True
            listeners = list(self._listeners)
            conns = list(self._conns.values())
        for listener in listeners:
            listener.close()
        for c in conns:
            c.rwc.interrupt()  # each connection's own thread then closes it (see ServerConn.close_from_outside)
        self._join(conns, join_timeout)

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop accepting, close idle connections as they become idle; Go's ``Server.Shutdown``.

        Returns whether every connection finished within ``timeout``; the rest are then closed.
        """
        with self._lock:
            self._in_shutdown = True
            listeners = list(self._listeners)
        for listener in listeners:
            listener.close()
        deadline = time.monotonic() + timeout
        interval = 0.001
        while time.monotonic() < deadline:
            if self._close_idle_conns() and not self.connections():
                return True
            time.sleep(interval)  # Go polls with the same doubling interval, capped at 500 ms
            interval = min(interval * 2, 0.5)
        self.close()
        return False

    def close_longest_idle(self) -> bool:
        """Close the connection that has been idle the longest; False when none is idle.

        Not a Go API: the building block of "culling", which nginx
        (``ngx_drain_connections``) and h2o do when they run out of
        connections. Like Go's ``closeIdleConns``, it can race a request that
        arrives on that connection at the same instant.
        """
        with self._lock:
            idle = [c for c in self._conns.values() if c.state is ConnState.IDLE]
            victim = min(idle, key=lambda c: c.state_since, default=None)
        if victim is None:
            return False
        victim.close_from_outside()
        return True

    def connections(self) -> dict[int, ConnState]:
        """Tracked connections and their states, for tests and observers."""
        with self._lock:
            return {c.id: c.state for c in self._conns.values()}

    def threads(self) -> list[threading.Thread]:
        with self._lock:
            return [c.thread for c in self._conns.values() if c.thread is not None]

    # -- connections -----------------------------------------------------------

    def _start_conn(self, rwc: Conn) -> None:
        c = ServerConn(self, next(self._ids), rwc)
        with self._lock:
            # Registered and started under the lock, so that close() either finds a running
            # thread to join or no connection at all; after close(), refuse the connection.
            closing = self._in_shutdown
            if not closing:
                self._conns[c.id] = c
                c.thread = threading.Thread(target=c.serve, name=f"http-conn-{c.id}", daemon=True)
                c.thread.start()
        if closing:
            rwc.close()

    def set_state(self, c: ServerConn, state: ConnState) -> None:
        now = time.monotonic()
        with self._lock:
            c.state = state
            c.state_since = now
            if state is ConnState.CLOSED:
                self._conns.pop(c.id, None)
        if self.conn_state is not None:
            self.conn_state(ConnStateChange(c.id, c.rwc.remote_addr, state, now))

    def _close_idle_conns(self) -> bool:
        """Close idle connections; True when no connection is busy (Go's ``closeIdleConns``)."""
        quiescent = True
        to_close = []
        now = time.monotonic()
        with self._lock:
            for c in self._conns.values():
                idle = c.state is ConnState.IDLE
                stale_new = c.state is ConnState.NEW and now - c.state_since > NEW_CONN_IDLE_AFTER
                if idle or stale_new:
                    to_close.append(c)
                else:
                    quiescent = False
        for c in to_close:
            c.close_from_outside()
        return quiescent

    def _join(self, conns: list[ServerConn], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for c in conns:
            # A thread not started yet (accepted an instant ago) finds its connection closed and ends.
            started = c.thread is not None and c.thread.ident is not None
            if started and c.thread is not threading.current_thread():
                c.thread.join(max(0.0, deadline - time.monotonic()))

    def log(self, message: str) -> None:
        if self.error_log is not None:
            self.error_log(message)



@contextlib.contextmanager
def serving(server: Server, listener, join_timeout: float = 5.0):
    """Run ``server.serve(listener)`` in a thread for the ``with`` block; close everything after."""
    thread = threading.Thread(target=server.serve, args=(listener,), name="http-serve", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close(join_timeout)
        listener.close()
        thread.join(join_timeout)
