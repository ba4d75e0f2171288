"""The zoo's catalogue: each server set to its closest "one at a time", and the verdict its documentation predicts.

Every :class:`ZooServer` says, before anything runs:

* what it is and how it is set (``settings``; ``{idle}`` stands for the idle
  keep-alive timeout of the run, which :class:`ZooTimes` sets longer than the
  probe's timeout wherever the server lets it be set, so that the pitfall
  shows itself instead of being hidden by an early close);
* the three answers the book's rule asks for: what the limit ``counts``, what
  happens ``at_limit``, and what closes an idle connection (``idle_closer``);
* the ``expected`` verdict of :func:`keepalive_lab.probe.check`, with
  ``expected_idle`` (the number of idle connections open at the verdict, where
  the documentation predicts it), the reason (``why``) and the ``source`` that
  the reason rests on.

``kind`` and ``options`` tell :mod:`keepalive_lab.zoo.launch` how to start it.
Rows with ``defaults=True`` run the package with its own defaults: no limit
set, no timeout changed. Nothing here is measured: :mod:`.runner` measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

__all__ = ["VERDICTS", "FAMILIES", "ZooTimes", "ZooServer", "SERVERS", "server", "family_of"]

VERDICTS = ("starves", "delays", "rejects", "ok")  # keepalive_lab.probe.Verdict's values
FAMILIES = ("Go", "Python", "Apache httpd", "nginx", "HAProxy", "Node.js")


@dataclass(frozen=True)
class ZooTimes:
    """The probe's settings and the idle timeout given to every server that lets it be set (seconds)."""

    prompt: float = 1.0  # an answer within this is "at once"
    timeout: float = 2.0  # no answer within this: the fresh connection starves
    idle: int = 20  # servers' idle keep-alive timeout, where configurable: far longer than the probe waits
    max_idle: int = 6  # idle connections the probe opens at most

    def __post_init__(self) -> None:
        if not 0 < self.prompt < self.timeout:
            raise ValueError("the prompt must be positive and shorter than the timeout")
        if self.idle < 4 * self.timeout:
            raise ValueError("the servers' idle timeout must be well beyond the probe's timeout, or an early close "
                             "would hide the pitfall")  # fmt: skip
        if not 1 <= self.max_idle <= 16:
            raise ValueError("max_idle must be between 1 and 16")


@dataclass(frozen=True)
class ZooServer:
    key: str
    family: str
    name: str
    kind: str  # the launcher: go, lab, uvicorn, gunicorn, apache, nginx, haproxy, node
    settings: str
    counts: str
    at_limit: str
    idle_closer: str
    expected: str
    why: str
    source: str
    expected_idle: int | None = None  # idle connections open at the verdict, where the documentation says
    defaults: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self, times: ZooTimes = ZooTimes()) -> str:
        """The settings with this run's idle timeout filled in."""
        return self.settings.format(idle=times.idle)

    def with_options(self, **changes: Any) -> "ZooServer":
        """The same server launched with some options changed (an exercise's variant)."""
        unknown = set(changes) - set(self.options)
        if unknown:
            raise KeyError(f"{self.key} has no option {', '.join(sorted(unknown))}; it has {sorted(self.options)}")
        return replace(self, options={**self.options, **changes})


_NETUTIL = "https://pkg.go.dev/golang.org/x/net/netutil#LimitListener"
_APACHE = "https://httpd.apache.org/docs/2.4/mod/"
_HAPROXY = "https://docs.haproxy.org/2.6/configuration.html"
_GUNICORN = "https://docs.gunicorn.org/en/stable/"

SERVERS: tuple[ZooServer, ...] = (
    # -- Go 1.23.4: the incident's service and its variants (code/go-fixes) ----------------------------
    ZooServer(
        "go-limitlistener", "Go", "LimitListener(l, 1)", "go", options={"program": "incident"},
        settings="netutil.LimitListener(l, 1); ReadTimeout 30 s, IdleTimeout unset",
        counts="connections", at_limit="waits in the kernel", idle_closer="ReadTimeout (30 s), as IdleTimeout is unset",
        expected="starves", expected_idle=1,
        why="A slot is taken before Accept and given back only when the connection closes, so an idle keep-alive "
            "connection keeps it and the next connection stays in the kernel's accept queue.",
        source=_NETUTIL,
    ),
    ZooServer(
        "go-no-keepalives", "Go", "LimitListener + keep-alives off", "go", options={"program": "no-keepalives"},
        settings="netutil.LimitListener(l, 1); SetKeepAlivesEnabled(false)",
        counts="connections", at_limit="waits in the kernel",
        idle_closer="nothing stays idle: closed after each response",
        expected="ok",
        why="net/http closes every connection after its response, so no connection ever sits idle on the slot.",
        source="https://pkg.go.dev/net/http#Server.SetKeepAlivesEnabled",
    ),
    ZooServer(
        "go-work-semaphore", "Go", "semaphore around the work", "go", options={"program": "work-semaphore"},
        settings="no listener limit; semaphore.NewWeighted(1) in the handler; ReadTimeout 30 s",
        counts="requests", at_limit="waits in the program (until its client leaves)",
        idle_closer="ReadTimeout (30 s)", expected="ok",
        why="Every connection is accepted and only the handler's work waits for the semaphore; an idle connection "
            "runs no handler, so it holds nothing.",
        source="https://pkg.go.dev/golang.org/x/sync/semaphore",
    ),
    ZooServer(
        "go-defaults", "Go", "net/http, no limit", "go", options={"program": "no-limit"}, defaults=True,
        settings="net/http's defaults: no limit; ReadTimeout 30 s",
        counts="nothing", at_limit="no limit", idle_closer="ReadTimeout (30 s)", expected="ok",
        why="net/http limits neither connections nor requests: an idle connection costs memory, not service.",
        source="https://pkg.go.dev/net/http#Server",
    ),
    # -- Python ------------------------------------------------------------------------------------------
    ZooServer(
        "lab-limit", "Python", "the lab server, --limit 1", "lab", options={"limit": 1},
        settings="serve --limit 1 --read-timeout {idle}s",
        counts="connections", at_limit="waits in the kernel", idle_closer="--read-timeout ({idle} s)",
        expected="starves", expected_idle=1,
        why="The lab server models LimitListener: it stops calling accept while an open connection, idle or not, "
            "holds the slot.",
        source=_NETUTIL,
    ),
    ZooServer(
        "uvicorn-limit-1", "Python", "uvicorn --limit-concurrency 1", "uvicorn", options={"limit": 1},
        settings="--limit-concurrency 1 --timeout-keep-alive {idle}",
        counts="connections and tasks", at_limit="fails fast (503)", idle_closer="--timeout-keep-alive ({idle} s)",
        expected="rejects",
        why="uvicorn counts open connections, idle ones included, and answers 503 at the limit instead of "
            "leaving anyone waiting.",
        source="https://www.uvicorn.org/settings/#resource-limits",
    ),
    ZooServer(
        "uvicorn-limit-2", "Python", "uvicorn --limit-concurrency 2", "uvicorn", options={"limit": 2},
        settings="--limit-concurrency 2 --timeout-keep-alive {idle}",
        counts="connections and tasks", at_limit="fails fast (503)", idle_closer="--timeout-keep-alive ({idle} s)",
        expected="rejects", expected_idle=1,
        why="Two connections reach the limit: one idle connection and the fresh one, which gets 503 at once.",
        source="https://www.uvicorn.org/settings/#resource-limits",
    ),
    ZooServer(
        "uvicorn-defaults", "Python", "uvicorn, defaults", "uvicorn", options={"limit": 0}, defaults=True,
        settings="no --limit-concurrency; --timeout-keep-alive 5 (default)",
        counts="nothing", at_limit="no limit", idle_closer="--timeout-keep-alive (5 s)", expected="ok",
        why="Without --limit-concurrency uvicorn accepts every connection.",
        source="https://www.uvicorn.org/settings/#resource-limits",
    ),
    ZooServer(
        "gunicorn-sync", "Python", "gunicorn sync worker (defaults)", "gunicorn", defaults=True,
        options={"worker_class": "sync", "threads": 1, "worker_connections": 0},
        settings="--workers 1, sync worker (gunicorn's defaults)",
        counts="connections (one worker serves one)", at_limit="waits in the kernel",
        idle_closer="nothing stays idle: closed after each response", expected="ok",
        why="The sync worker does not keep connections alive: it closes each one after its response, so the "
            "only worker is never held by an idle connection.",
        source=_GUNICORN + "design.html#sync-workers",
    ),
    ZooServer(
        "gunicorn-gthread", "Python", "gunicorn gthread, 1 thread", "gunicorn",
        options={"worker_class": "gthread", "threads": 1, "worker_connections": 0},
        settings="--workers 1 --worker-class gthread --threads 1 --keep-alive {idle}",
        counts="requests (threads); connections up to --worker-connections (1000)",
        at_limit="waits in the worker's poller", idle_closer="--keep-alive ({idle} s)", expected="ok",
        why="After each response gthread puts a keep-alive connection back in its poller, so an idle connection "
            "does not occupy the thread.",
        source=_GUNICORN + "design.html",
    ),
    ZooServer(
        "gunicorn-gthread-connections", "Python", "gunicorn gthread, 2 connections", "gunicorn",
        options={"worker_class": "gthread", "threads": 1, "worker_connections": 2},
        settings="--workers 1 --worker-class gthread --threads 1 --worker-connections 2 --keep-alive {idle}",
        counts="connections", at_limit="makes room: stops keeping connections alive",
        idle_closer="--keep-alive ({idle} s), or Connection: close near the limit", expected="ok", expected_idle=1,
        why="gthread keeps at most worker_connections minus threads connections alive (here one) and closes the "
            "others after their response, so a connection is always left for the thread.",
        source="https://github.com/benoitc/gunicorn/blob/master/gunicorn/workers/gthread.py",
    ),
    # -- Apache httpd 2.4 (Debian's package; the MPMs are modules) -------------------------------------------
    ZooServer(
        "apache-prefork", "Apache httpd", "prefork, MaxRequestWorkers 1", "apache",
        options={"mpm": "prefork", "async_factor": 0},
        settings="prefork: StartServers 1, ServerLimit 1, MaxRequestWorkers 1; KeepAlive On, KeepAliveTimeout {idle}",
        counts="connections (a process each, idle ones included)", at_limit="waits in the kernel",
        idle_closer="KeepAliveTimeout ({idle} s)", expected="starves", expected_idle=1,
        why="A prefork child serves one connection until it closes, keep-alive included; connections beyond "
            "MaxRequestWorkers are queued by the kernel until a child is free.",
        source=_APACHE + "mpm_common.html#maxrequestworkers",
    ),
    ZooServer(
        "apache-event", "Apache httpd", "event, 1 worker thread", "apache",
        options={"mpm": "event", "async_factor": 0},  # 0: AsyncRequestWorkerFactor left at its default (2)
        settings="event: ServerLimit 1, ThreadsPerChild 1, MaxRequestWorkers 1, AsyncRequestWorkerFactor 2 "
                 "(default); KeepAlive On, KeepAliveTimeout {idle}",
        counts="connections, up to ThreadsPerChild + AsyncRequestWorkerFactor × idle workers (1 + 2 × 1 = 3)",
        at_limit="waits in the kernel (idle connections are closed early only when every worker is busy)",
        idle_closer="KeepAliveTimeout ({idle} s)", expected="starves", expected_idle=3,
        why="Idle keep-alive connections move to the listener thread and free the worker, but a process accepts "
            "new connections only below ThreadsPerChild + AsyncRequestWorkerFactor × idle workers; its worker "
            "is idle, so none is closed early and the fourth connection waits.",
        source=_APACHE + "event.html#asyncrequestworkerfactor",
    ),
    ZooServer(
        "apache-defaults", "Apache httpd", "event, defaults", "apache", options={"mpm": "event", "async_factor": 0},
        defaults=True,
        settings="event with its compiled-in defaults: MaxRequestWorkers 400 (16 × 25 threads); KeepAliveTimeout 5",
        counts="connections, per process as above", at_limit="waits in the kernel",
        idle_closer="KeepAliveTimeout (5 s)",
        expected="ok", why="Hundreds of connections fit before any limit applies.",
        source=_APACHE + "mpm_common.html#maxrequestworkers",
    ),
    # -- nginx 1.22 --------------------------------------------------------------------------------------------
    ZooServer(
        "nginx-limit-conn", "nginx", "limit_conn 1", "nginx", options={"limit_conn": 1, "worker_connections": 0},
        settings="limit_conn (one zone for the server) 1; worker_processes 1; keepalive_timeout {idle}s",
        counts="requests in progress", at_limit="fails fast (503)", idle_closer="keepalive_timeout ({idle} s)",
        expected="ok",
        why="limit_conn counts a connection only while it has a request being processed, so idle keep-alive "
            "connections never count.",
        source="https://nginx.org/en/docs/http/ngx_http_limit_conn_module.html",
    ),
    ZooServer(
        "nginx-worker-connections", "nginx", "worker_connections 4", "nginx",
        options={"limit_conn": 0, "worker_connections": 4},
        settings="worker_processes 1; worker_connections 4 (the listening socket takes one); keepalive_timeout {idle}s",
        counts="connections", at_limit="makes room: closes idle keep-alive connections",
        idle_closer="keepalive_timeout ({idle} s), or the need for room", expected="ok", expected_idle=2,
        why="When a worker runs out of connections it closes reusable ones (idle keep-alive connections) to "
            "accept the new one (ngx_drain_connections).",
        source="https://github.com/nginx/nginx/blob/release-1.22.1/src/core/ngx_connection.c",
    ),
    ZooServer(
        "nginx-defaults", "nginx", "defaults", "nginx", options={"limit_conn": 0, "worker_connections": 0},
        defaults=True, settings="worker_processes 1, worker_connections 512, keepalive_timeout 75s (defaults)",
        counts="connections", at_limit="makes room", idle_closer="keepalive_timeout (75 s)", expected="ok",
        why="A worker takes 512 connections by default, and makes room from idle ones when they run out.",
        source="https://nginx.org/en/docs/ngx_core_module.html#worker_connections",
    ),
    # -- HAProxy 2.6, in front of a backend with no limit --------------------------------------------------------
    ZooServer(
        "haproxy-frontend-maxconn", "HAProxy", "frontend maxconn 1", "haproxy",
        options={"frontend_maxconn": 1, "server_maxconn": 0},
        settings="frontend maxconn 1; timeout client {idle}s, timeout http-keep-alive {idle}s",
        counts="client connections", at_limit="waits in the kernel",
        idle_closer="timeout http-keep-alive ({idle} s)", expected="starves", expected_idle=1,
        why="At its maxconn a frontend stops accepting, and the system queues excess connections in the "
            "listening socket until a connection closes.",
        source=_HAPROXY + "#4.2-maxconn",
    ),
    ZooServer(
        "haproxy-server-maxconn", "HAProxy", "server maxconn 1", "haproxy",
        options={"frontend_maxconn": 0, "server_maxconn": 1},
        settings="server ... maxconn 1, timeout queue {idle}s; timeout http-keep-alive {idle}s",
        counts="requests in progress on the server", at_limit="waits in HAProxy's queue (503 after timeout queue)",
        idle_closer="timeout http-keep-alive ({idle} s)", expected="ok",
        why="In HTTP mode a server's maxconn limits concurrent requests, and an idle client connection has none.",
        source=_HAPROXY + "#5.2-maxconn",
    ),
    ZooServer(
        "haproxy-defaults", "HAProxy", "defaults", "haproxy", options={"frontend_maxconn": 0, "server_maxconn": 0},
        defaults=True, settings="no maxconn (the global default, from the file-descriptor limit); timeout client 30s",
        counts="client connections", at_limit="waits in the kernel",
        idle_closer="timeout client (30 s), as http-keep-alive and http-request are unset",
        expected="ok", why="Without its own maxconn a frontend takes the global one, which HAProxy derives from the "
                            "file-descriptor limit: thousands of connections.",
        source=_HAPROXY + "#3.2-maxconn",
    ),
    # -- Node.js -------------------------------------------------------------------------------------------------
    ZooServer(
        "node-maxconnections", "Node.js", "server.maxConnections = 1", "node", options={"max_connections": 1},
        settings="server.maxConnections = 1; server.keepAliveTimeout {idle} s",
        counts="connections", at_limit="fails fast (closes the new connection)",
        idle_closer="keepAliveTimeout ({idle} s)", expected="rejects", expected_idle=1,
        why="Once the count reaches maxConnections, Node.js closes each new connection instead of serving it.",
        source="https://nodejs.org/api/net.html#servermaxconnections",
    ),
    ZooServer(
        "node-defaults", "Node.js", "defaults", "node", options={"max_connections": 0}, defaults=True,
        settings="no maxConnections; keepAliveTimeout 5 s (default)",
        counts="nothing", at_limit="no limit", idle_closer="keepAliveTimeout (5 s)", expected="ok",
        why="An http.Server accepts every connection unless maxConnections is set.",
        source="https://nodejs.org/api/http.html#serverkeepalivetimeout",
    ),
)  # fmt: skip

_BY_KEY = {s.key: s for s in SERVERS}


def server(key: str) -> ZooServer:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no zoo server {key!r}; there are {', '.join(_BY_KEY)}") from None


def family_of(key: str) -> str:
    return server(key).family
