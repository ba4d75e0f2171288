"""One way to start the article's program: ``ServerConfig`` and ``start_server``.

Theory of operation
-------------------
The article's service is a few lines of Go: an ``http.Server`` with its
timeouts, a handler on an ``http.NewServeMux()``, ``net.Listen`` wrapped in
``netutil.LimitListener(l, 1)``, and ``server.Serve(listener)``.
:class:`ServerConfig` holds those settings with Go's names (keyword-only,
durations in seconds), plus the lab's alternatives (a work limit, idle
culling). :func:`start_server` assembles the program from the Go model's
parts and runs ``Serve`` in a thread; the :class:`RunningServer` it returns
stops everything it started, in reverse order, when closed (also as a context
manager, also after an error).

Every part of the lab that needs the server uses this: the testbed, the
real-load-balancer rig, the ``serve`` command, the book's probes and the
tests. The load-balancer nodes' own front ends are plain ``Server`` objects
without a listener limit, one floor down.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields, replace
from typing import Callable, ClassVar, Optional

from keepalive_lab.goserver.culling import IdleCuller
from keepalive_lab.goserver.durations import MAX_DURATION_SECONDS
from keepalive_lab.goserver.handlers import ArticleHandler, ServeMux, WorkLimitedHandler
from keepalive_lab.goserver.net import TCPListener, listen
from keepalive_lab.goserver.netutil import LimitListener
from keepalive_lab.goserver.server import DEFAULT_MAX_HEADER_BYTES, RST_AVOIDANCE_DELAY, Handler, Server, serving
from keepalive_lab.records import AccessRecord, ConnStateChange

__all__ = ["ServerConfig", "RunningServer", "start_server", "build_handler"]


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """The article's program as settings, with Go's names; durations in seconds.

    ``limit`` is ``LimitListener``'s *n* (0: the plain listener); the
    ``http.Server`` fields follow, then the handler's (``latency`` of work,
    ``body_bytes`` of text, an explicit ``Content-Length``, a
    ``Connection: close`` answer) and the lab's alternatives to the limit.
    """

    DURATIONS: ClassVar[tuple[str, ...]] = (
        "read_timeout", "read_header_timeout", "write_timeout", "idle_timeout", "latency",
    )  # fmt: skip

    limit: int = 1
    read_timeout: float = 30.0
    read_header_timeout: float = 0.0  # 0: falls back to read_timeout, as in Go
    write_timeout: float = 30.0
    idle_timeout: float = 0.0  # 0: falls back to read_timeout, as in Go
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    keep_alives: bool = True  # False: SetKeepAlivesEnabled(false)
    latency: float = 0.1  # the handler's work per request
    body_bytes: int = 3
    content_length: bool = True  # the handler sets Content-Length itself, as the article's did
    conn_close: bool = False  # the handler answers Connection: close
    work_limit: int = 0  # > 0: a semaphore of this size around the handler's work
    cull_idle: bool = False  # close the longest-idle connection while another waits (not Go)

    def __post_init__(self) -> None:
        if self.limit < 0 or self.work_limit < 0 or self.body_bytes < 0 or self.max_header_bytes < 0:
            raise ValueError("limit, work_limit, body_bytes and max_header_bytes must not be negative")
        for name in self.DURATIONS:
            if not 0 <= getattr(self, name) <= MAX_DURATION_SECONDS:  # also refuses NaN
                raise ValueError(f"{name} must be a finite duration >= 0, at most Go's longest "
                                 f"(2562047h47m16.854775807s), not {getattr(self, name)!r}")  # fmt: skip

    def with_(self, **changes) -> "ServerConfig":
        return replace(self, **changes)

    def scaled(self, convert: Callable[[float], float]) -> "ServerConfig":
        """The same settings with every duration passed through ``convert`` (article to lab seconds)."""
        return replace(self, **{name: convert(getattr(self, name)) for name in self.DURATIONS})

    def describe(self) -> str:
        """How this server closes connections, in the book's words."""
        if not self.keep_alives:
            return "SetKeepAlivesEnabled(false)"
        if self.conn_close:
            return "handler Connection: close"
        return "keep-alive (as in the incident)"

    @classmethod
    def settings(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def build_handler(config: ServerConfig, wrap: Optional[Callable[[Handler], Handler]] = None) -> Handler:
    """The article's handler on a ``ServeMux``; ``wrap`` goes around the work, inside any work limit."""
    handler: Handler = ArticleHandler(
        latency=config.latency,
        body_bytes=config.body_bytes,
        content_length=config.content_length,
        conn_close=config.conn_close,
    )
    if wrap is not None:
        handler = wrap(handler)
    if config.work_limit:
        handler = WorkLimitedHandler(handler, config.work_limit)
    return ServeMux(handler)


class RunningServer:
    """The program, serving in a thread: its ``Server``, listeners and port; ``close()`` stops it all."""

    def __init__(self, server: Server, tcp: TCPListener, listener, stack: contextlib.ExitStack) -> None:
        self.server = server
        self.tcp = tcp
        self.listener = listener  # the LimitListener, or the TCP listener itself
        self._stack = stack

    @property
    def port(self) -> int:
        return self.tcp.port

    @property
    def addr(self) -> str:
        return self.tcp.addr

    @property
    def url(self) -> str:
        return f"http://{self.tcp.addr}/"

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RunningServer {self.addr} {self.listener!r}>"


def start_server(
    config: ServerConfig = ServerConfig(),
    *,
    handler: Optional[Handler] = None,
    wrap: Optional[Callable[[Handler], Handler]] = None,
    conn_state: Optional[Callable[[ConnStateChange], None]] = None,
    access_log: Optional[Callable[[AccessRecord], None]] = None,
    error_log: Optional[Callable[[str], None]] = None,
    host: str = "127.0.0.1",
    port: int = 0,
    join_timeout: float = 5.0,
    rst_avoidance_delay: float = RST_AVOIDANCE_DELAY,
) -> RunningServer:
    """Listen on ``host:port`` (0: a free port), wrap the listener, and serve in a thread.

    ``handler`` replaces the article's handler (tests use their own); ``wrap``
    goes around the article's work (a tracer, a hold). ``rst_avoidance_delay``
    is Go's constant, shortened by tests. Raises ``OSError`` when the address
    cannot be bound; nothing is left running then.
    """
    server = Server(
        handler if handler is not None else build_handler(config, wrap),
        read_timeout=config.read_timeout,
        read_header_timeout=config.read_header_timeout,
        write_timeout=config.write_timeout,
        idle_timeout=config.idle_timeout,
        max_header_bytes=config.max_header_bytes,
        conn_state=conn_state,
        access_log=access_log,
        error_log=error_log,
        rst_avoidance_delay=rst_avoidance_delay,
    )
    if not config.keep_alives:
        server.set_keep_alives_enabled(False)
    stack = contextlib.ExitStack()
    try:
        tcp = listen(host, port)
        stack.callback(tcp.close)
        listener = LimitListener(tcp, config.limit) if config.limit else tcp
        stack.enter_context(serving(server, listener, join_timeout))
        if config.cull_idle:
            stack.callback(IdleCuller(server, tcp.sock).start().stop)
    except BaseException:
        stack.close()
        raise
    return RunningServer(server, tcp, listener, stack)


