"""``Server``: Go's ``net/http`` HTTP/1.1 server on raw sockets, one thread per connection.

Theory of operation
-------------------
:meth:`Server.serve` mirrors ``Server.Serve`` (server.go): it loops on
``listener.accept()`` and starts one thread per accepted connection (Go starts
a goroutine). Nothing is logged, and no hook runs, before ``accept`` returns:
a connection waiting in the kernel's queue behind a full
:class:`~keepalive_lab.limit.LimitListener` leaves no trace in the server.

Each connection thread runs :meth:`Server._serve_conn`, Go's ``conn.serve``:

1. Read a request head with deadline ``t0 + ReadHeaderTimeout`` (falling back
   to ``ReadTimeout``), then give the body ``t0 + ReadTimeout``; set the write
   deadline to ``now + WriteTimeout``.
2. Run the handler, finish the response (:mod:`keepalive_lab.response`),
   write the access-log record.
3. If the response allows reuse: state *idle*, then wait for the first four
   bytes of the next request with deadline ``now + IdleTimeout`` (falling back
   to ``ReadTimeout``). Any error there closes the connection, which gives the
   ``LimitListener`` slot back.

``ConnState`` transitions (new, active, idle, closed) go to the
``conn_state`` hook with a ``time.monotonic()`` stamp, as Go's
``Server.ConnState`` hook sees them.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Protocol

from .limit import LimitListenerConn
from .netconn import Conn, ListenerClosed, NetError
from .replies import global_options_handler, is_global_options, read_error_reply
from .request import Request, RequestError, RequestReader
from .response import ConnWriter, ResponseWriter

__all__ = [
    "ConnState",
    "ConnStateChange",
    "AccessRecord",
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



class ConnState(enum.Enum):
    """Go's ``http.ConnState``."""

    NEW = "new"
    ACTIVE = "active"
    IDLE = "idle"
    CLOSED = "closed"


@dataclass(frozen=True)
class ConnStateChange:
    """A connection changed state at monotonic time ``at``."""

    conn_id: int
    remote_addr: str
    state: ConnState
    at: float


@dataclass(frozen=True)
class AccessRecord:
    """One request the handler actually ran; emitted when its response is finished."""

    conn_id: int
    remote_addr: str
    method: str
    target: str
    proto: str
    status: int
    body_bytes: int
    request_id: str  # the request's X-Request-Id, "" when absent
    handler_start: float
    handler_end: float
    write_error: str  # "" when the response reached the socket


class Handler(Protocol):
    def __call__(self, w: ResponseWriter, r: Request) -> None: ...


class _ServerConn:
    """Server-side bookkeeping for one accepted connection (Go's ``conn``)."""

    def __init__(self, conn_id: int, rwc: Conn) -> None:
        self.id = conn_id
        self.rwc = rwc
        self.state = ConnState.NEW
        self.state_since = time.monotonic()
        self.thread: threading.Thread | None = None


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
        self._conns: dict[int, _ServerConn] = {}
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
                    self._log(f"http: Accept error: {exc}; retrying in {backoff * 1000:.0f}ms")
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
            c.rwc.interrupt()  # each connection's own thread then closes it (see _close_from_outside)
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
        _close_from_outside(victim)
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
        c = _ServerConn(next(self._ids), rwc)
        with self._lock:
            # Registered and started under the lock, so that close() either finds a running
            # thread to join or no connection at all; after close(), refuse the connection.
            closing = self._in_shutdown
            if not closing:
                self._conns[c.id] = c
                c.thread = threading.Thread(target=self._serve_conn, args=(c,), name=f"http-conn-{c.id}", daemon=True)
                c.thread.start()
        if closing:
            rwc.close()

    def _set_state(self, c: _ServerConn, state: ConnState) -> None:
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
            _close_from_outside(c)
        return quiescent

    def _serve_conn(self, c: _ServerConn) -> None:
        self._set_state(c, ConnState.NEW)  # Go's Serve does this just before `go c.serve()`
        try:
            self._conn_loop(c)
        except _HandlerPanic:
            pass  # logged where it happened; Go closes without flushing the response
        except Exception as exc:  # a bug here must not leak the slot or the thread
            self._log(f"http: internal error serving {c.rwc.remote_addr}: {exc!r}")
        finally:
            c.rwc.close()
            self._set_state(c, ConnState.CLOSED)

    def _conn_loop(self, c: _ServerConn) -> None:
        reader = RequestReader(c.rwc, self.max_header_bytes)
        out = ConnWriter(c.rwc)
        while True:
            request = self._read_request(c, reader)
            if request is None:
                return
            w = ResponseWriter(out, request, self.do_keep_alives)
            if not self._check_expect(c, request, w, out):
                return
            self._run_handler(c, request, w, out)
            c.rwc.set_write_deadline(None)
            if not w.should_reuse_connection():
                if w.request_body_limit_hit or w.closed_request_body_early:
                    self._close_write_and_wait(c)
                return
            self._set_state(c, ConnState.IDLE)
            if not self.do_keep_alives():
                return
            idle = self.effective_idle_timeout()
            c.rwc.set_read_deadline(time.monotonic() + idle if idle > 0 else None)
            if not reader.peek(4):
                return
            c.rwc.set_read_deadline(None)

    def _read_request(self, c: _ServerConn, reader: RequestReader) -> Request | None:
        """Go's ``conn.readRequest`` plus the error replies of ``conn.serve``; None means close."""
        t0 = time.monotonic()
        header_timeout = self.effective_read_header_timeout()
        c.rwc.set_read_deadline(t0 + header_timeout if header_timeout > 0 else None)
        try:
            request = reader.read_request()
        except RequestError as exc:
            if reader.bytes_read:
                self._set_state(c, ConnState.ACTIVE)
            self._set_write_deadline(c)
            self._reply_error(c, exc)
            return None
        self._set_state(c, ConnState.ACTIVE)
        c.rwc.set_read_deadline(t0 + self.read_timeout if self.read_timeout > 0 else None)
        self._set_write_deadline(c)
        return request

    def _set_write_deadline(self, c: _ServerConn) -> None:
        if self.write_timeout > 0:
            c.rwc.set_write_deadline(time.monotonic() + self.write_timeout)

    def _reply_error(self, c: _ServerConn, exc: RequestError) -> None:
        reply, close_write = read_error_reply(exc)
        if reply:
            try:
                c.rwc.sendall(reply)
            except NetError:
                pass  # the client is gone; Go ignores this write's error too
        if close_write:
            self._close_write_and_wait(c)

    def _close_write_and_wait(self, c: _ServerConn) -> None:
        """Go's ``closeWriteAndWait``: FIN, then give the client time to read before closing.

        Go half-closes only a connection that has ``CloseWrite``
        (``c.rwc.(closeWriter)``, server.go). x/net's ``limitListenerConn``
        embeds the ``net.Conn`` interface (netutil/listen.go), which hides
        ``*TCPConn``'s ``CloseWrite``: behind a ``LimitListener`` no FIN goes
        out, and the client learns of the close only after the delay, as an
        RST when its unread bytes are still in our receive buffer.
        """
        if not isinstance(c.rwc, LimitListenerConn):
            c.rwc.close_write()
        time.sleep(self.rst_avoidance_delay)

    def _check_expect(self, c: _ServerConn, request: Request, w: ResponseWriter, out: ConnWriter) -> bool:
        expect = request.header.get("Expect")
        if request.expects_continue():
            if request.proto_at_least(1, 1) and request.content_length != 0:
                request.body.on_first_read = lambda: (out.write(b"HTTP/1.1 100 Continue\r\n\r\n"), out.flush())
            return True
        if expect:
            # Go's sendExpectationFailed: 417 and close.
            w.header().set("Connection", "close")
            w.write_header(417)
            w.finish_request()
            return False
        return True

    def _run_handler(self, c: _ServerConn, request: Request, w: ResponseWriter, out: ConnWriter) -> None:
        # serverHandler.ServeHTTP: the server answers "OPTIONS *" itself; the handler never sees it.
        global_options = is_global_options(request)
        handler = global_options_handler if global_options else self.handler
        start = time.monotonic()
        try:
            handler(w, request)
        except Exception as exc:
            # Go recovers a handler panic, logs it and closes the connection unflushed.
            self._log(f"http: panic serving {c.rwc.remote_addr}: {exc!r}")
            raise _HandlerPanic() from exc
        w.finish_request()
        end = time.monotonic()
        if self.access_log is not None and not global_options:
            self.access_log(
                AccessRecord(
                    conn_id=c.id,
                    remote_addr=c.rwc.remote_addr,
                    method=request.method,
                    target=request.target,
                    proto=request.proto,
                    status=w.status,
                    body_bytes=w.written,
                    request_id=request.header.get("X-Request-Id"),
                    handler_start=start,
                    handler_end=end,
                    write_error="" if out.error is None else str(out.error) or type(out.error).__name__,
                )
            )

    def _join(self, conns: list[_ServerConn], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for c in conns:
            # A thread not started yet (accepted an instant ago) finds its connection closed and ends.
            started = c.thread is not None and c.thread.ident is not None
            if started and c.thread is not threading.current_thread():
                c.thread.join(max(0.0, deadline - time.monotonic()))

    def _log(self, message: str) -> None:
        if self.error_log is not None:
            self.error_log(message)


def _close_from_outside(c: _ServerConn) -> None:
    """Go's ``c.rwc.Close()`` from another goroutine, done safely with threads.

    ``shutdown(2)`` makes the connection's own thread return from its blocked
    read at once (EOF), and that thread closes the socket, which gives the
    ``LimitListener`` slot back. Closing the descriptor from here instead
    would let the kernel hand its number to the next accepted connection
    while the owner is still about to read from it.
    """
    c.rwc.interrupt()


class _HandlerPanic(Exception):
    """The handler raised; the connection closes without its buffered response."""


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
