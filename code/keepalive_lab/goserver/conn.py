"""``ServerConn``: one accepted connection and the thread that serves it (Go's ``conn.serve``).

Theory of operation
-------------------
:meth:`ServerConn.serve` mirrors ``conn.serve`` in net/http's server.go:

1. Read a request head with deadline ``t0 + ReadHeaderTimeout`` (falling back
   to ``ReadTimeout``), then give the body ``t0 + ReadTimeout``; set the write
   deadline to ``now + WriteTimeout``.
2. Run the handler, finish the response (:mod:`.response`), write the
   access-log record.
3. If the response allows reuse: state *idle*, then wait for the first four
   bytes of the next request with deadline ``now + IdleTimeout`` (falling back
   to ``ReadTimeout``). Any error there closes the connection, which gives the
   ``LimitListener`` slot back.

A failed read gets Go's own reply (:mod:`.replies`); a handler that raises is
Go's recovered panic: logged, and the connection closes without its buffered
response.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Protocol

from keepalive_lab.goserver.net import Conn, NetError
from keepalive_lab.goserver.reader import RequestReader
from keepalive_lab.goserver.replies import global_options_handler, is_global_options, read_error_reply
from keepalive_lab.goserver.request import Request, RequestError
from keepalive_lab.goserver.response import ConnWriter, ResponseWriter
from keepalive_lab.records import AccessRecord, ConnState

__all__ = ["ServerConn", "ConnOwner"]


class ConnOwner(Protocol):
    """What a connection needs from its server (Go's ``c.server``): settings, the hooks, the state registry."""

    handler: Callable
    read_timeout: float
    write_timeout: float
    max_header_bytes: int
    rst_avoidance_delay: float
    access_log: Optional[Callable[[AccessRecord], None]]

    def effective_idle_timeout(self) -> float: ...

    def effective_read_header_timeout(self) -> float: ...

    def do_keep_alives(self) -> bool: ...

    def set_state(self, c: "ServerConn", state: ConnState) -> None: ...

    def log(self, message: str) -> None: ...


class _HandlerPanic(Exception):
    """The handler raised; the connection closes without its buffered response."""


class ServerConn:
    """Server-side state of one accepted connection (Go's ``conn``)."""

    def __init__(self, server: ConnOwner, conn_id: int, rwc: Conn) -> None:
        self.server = server
        self.id = conn_id
        self.rwc = rwc
        self.state = ConnState.NEW
        self.state_since = time.monotonic()
        self.thread: threading.Thread | None = None

    def close_from_outside(self) -> None:
        """Go's ``c.rwc.Close()`` from another goroutine, done safely with threads.

        ``shutdown(2)`` makes this connection's own thread return from its
        blocked read at once (EOF), and that thread closes the socket, which
        gives the ``LimitListener`` slot back. Closing the descriptor from
        another thread instead would let the kernel hand its number to the
        next accepted connection while the owner is still about to read.
        """
        self.rwc.interrupt()

    # -- the connection's thread ---------------------------------------------

    def serve(self) -> None:
        self.server.set_state(self, ConnState.NEW)  # Go's Serve does this just before `go c.serve()`
        try:
            self._loop()
        except _HandlerPanic:
            pass  # logged where it happened; Go closes without flushing the response
        except Exception as exc:  # a bug here must not leak the slot or the thread
            self.server.log(f"http: internal error serving {self.rwc.remote_addr}: {exc!r}")
        finally:
            self.rwc.close()
            self.server.set_state(self, ConnState.CLOSED)

    def _loop(self) -> None:
        server = self.server
        reader = RequestReader(self.rwc, server.max_header_bytes)
        out = ConnWriter(self.rwc)
        while True:
            request = self._read_request(reader)
            if request is None:
                return
            w = ResponseWriter(out, request, server.do_keep_alives)
            if not self._check_expect(request, w, out):
                return
            self._run_handler(request, w, out)
            self.rwc.set_write_deadline(None)
            if not w.should_reuse_connection():
                if w.request_body_limit_hit or w.closed_request_body_early:
                    self._close_write_and_wait()
                return
            server.set_state(self, ConnState.IDLE)
            # Go checks again here: keep-alives may have been switched off while the handler ran.
            if not server.do_keep_alives():
                return
            idle = server.effective_idle_timeout()
            self.rwc.set_read_deadline(time.monotonic() + idle if idle > 0 else None)
            if not reader.peek(4):
                return
            self.rwc.set_read_deadline(None)

    def _read_request(self, reader: RequestReader) -> Request | None:
        """Go's ``conn.readRequest`` plus the error replies of ``conn.serve``; None means close."""
        server = self.server
        t0 = time.monotonic()
        header_timeout = server.effective_read_header_timeout()
        self.rwc.set_read_deadline(t0 + header_timeout if header_timeout > 0 else None)
        try:
            request = reader.read_request()
        except RequestError as exc:
            if reader.bytes_read:
                server.set_state(self, ConnState.ACTIVE)
            self._set_write_deadline()
            self._reply_error(exc)
            return None
        server.set_state(self, ConnState.ACTIVE)
        self.rwc.set_read_deadline(t0 + server.read_timeout if server.read_timeout > 0 else None)
        self._set_write_deadline()
        return request

    def _set_write_deadline(self) -> None:
        if self.server.write_timeout > 0:
            self.rwc.set_write_deadline(time.monotonic() + self.server.write_timeout)

    def _reply_error(self, exc: RequestError) -> None:
        reply, close_write = read_error_reply(exc)
        if reply:
            try:
                self.rwc.sendall(reply)
            except NetError:
                pass  # the client is gone; Go ignores this write's error too
        if close_write:
            self._close_write_and_wait()

    def _close_write_and_wait(self) -> None:
        """Go's ``closeWriteAndWait``: FIN (where the connection can), then give the client time to read."""
        self.rwc.close_write()
        time.sleep(self.server.rst_avoidance_delay)

    def _check_expect(self, request: Request, w: ResponseWriter, out: ConnWriter) -> bool:
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

    def _run_handler(self, request: Request, w: ResponseWriter, out: ConnWriter) -> None:
        server = self.server
        # serverHandler.ServeHTTP: the server answers "OPTIONS *" itself; the handler never sees it.
        global_options = is_global_options(request)
        handler = global_options_handler if global_options else server.handler
        start = time.monotonic()
        try:
            handler(w, request)
        except Exception as exc:
            # Go recovers a handler panic, logs it and closes the connection unflushed.
            server.log(f"http: panic serving {self.rwc.remote_addr}: {exc!r}")
            raise _HandlerPanic() from exc
        w.finish_request()
        end = time.monotonic()
        if server.access_log is not None and not global_options:
            server.access_log(
                AccessRecord(
                    conn_id=self.id,
                    remote_addr=self.rwc.remote_addr,
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

    def __repr__(self) -> str:
        return f"<ServerConn {self.id} {self.rwc.remote_addr} {self.state.value}>"
