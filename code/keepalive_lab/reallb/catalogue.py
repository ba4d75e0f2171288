"""The catalogue of real-load-balancer scenarios: each configuration, its traffic, and its expected verdict.

:data:`SCENARIOS` lists configurations of Debian's HAProxy 2.6 and nginx 1.22
in front of a server with ``LimitListener(l, 1)`` and keep-alive on, each with
the verdict expected of it; :mod:`keepalive_lab.reallb.runner` plays them live
against the lab server, and every verdict a page states is the one measured
in that run. :data:`GROUPS` names the families the book shows one figure or
table each for; the ``timers`` group runs at the article's own timers
(:data:`~keepalive_lab.reallb.times.ARTICLE_TIMERS`), about 35 s each, so a
page can run it alongside the others.
"""

from __future__ import annotations

from keepalive_lab.reallb.config import HAProxySpec, NginxSpec
from keepalive_lab.reallb.scenario import Scenario
from keepalive_lab.reallb.times import ARTICLE_TIMERS

__all__ = ["SCENARIOS", "GROUPS", "scenario"]

_H = HAProxySpec()
_N_OLD = NginxSpec()
_N_KA = NginxSpec(keepalive=8)

GROUPS = {
    "haproxy": "HAProxy",
    "nginx": "nginx",
    "fix": "server-side fixes",
    "health": "health checks",
    "timers": "the article's timers",
}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "haproxy-two", "HAProxy x2, default", (("haproxy-1", _H), ("haproxy-2", _H)), "two_lbs", "starved",
        "the second instance's request gets 504 after its server timeout; its connect took no time; the first "
        "instance's idle connection holds the slot until Go's idle timeout",
        "haproxy", extras=("connect_instant", "queued", "invisible", "ghost", "held_until_idle", "signature"),
    ),
    Scenario(
        "haproxy-one", "HAProxy x1, default, 2 client conns", (("haproxy-1", _H),), "two_conns", "starved",
        "http-reuse safe sends a client connection's first request over a new server connection, which waits "
        "behind the instance's own idle one", "haproxy",
    ),
    Scenario(
        "haproxy-always", "HAProxy x1, http-reuse always", (("haproxy-1", HAProxySpec(reuse="always")),),
        "two_conns", "served", "the new client connection's request reuses the idle server connection", "haproxy",
        extras=("reused",),
    ),
    Scenario(
        "haproxy-maxconn", "HAProxy x1, server maxconn 1, 2 client conns", (("haproxy-1", HAProxySpec(maxconn=1)),),
        "two_conns", "starved", "maxconn counts requests in progress, not idle connections: the second client "
        "connection's request finds no request in progress, connects at once and waits behind the idle one",
        "haproxy", extras=("connect_instant", "queued", "signature"),
    ),
    Scenario(
        "haproxy-client-close", "HAProxy x2, client sends Connection: close", (("haproxy-1", _H), ("haproxy-2", _H)),
        "client_close", "starved", "HAProxy ends the client's connection but keeps its own to the server, idle: the "
        "client's Connection: close never reaches the server, and the second instance's request waits behind it",
        "haproxy", extras=("close_not_passed", "held_until_idle", "connect_instant", "queued"),
    ),
    Scenario(
        "haproxy-server-close", "HAProxy x2, http-server-close",
        (("haproxy-1", HAProxySpec(server_close=True)), ("haproxy-2", HAProxySpec(server_close=True))),
        "two_lbs", "served", "the server connection closes after each response: the load-balancer-side fix", "haproxy",
        extras=("one_per_conn",),
    ),
    Scenario(
        "haproxy-overlap", "HAProxy x1, http-reuse always, overlap", (("haproxy-1", HAProxySpec(reuse="always")),),
        "overlap", "starved", "a request that arrives while the only connection is busy needs a second one",
        "haproxy",
    ),
    Scenario(
        "nginx-old", "nginx x2, old default", (("nginx-1", _N_OLD), ("nginx-2", _N_OLD)), "two_lbs", "served",
        "HTTP/1.0 with Connection: close upstream: no idle connection is kept", "nginx", extras=("one_per_conn",),
    ),
    Scenario(
        "nginx-keepalive", "nginx x2, upstream keepalive", (("nginx-1", _N_KA), ("nginx-2", _N_KA)), "two_lbs",
        "starved", "504 \"upstream timed out\" after a connect of 0-1 ms", "nginx",
        extras=("connect_instant", "queued", "invisible", "ghost", "upstream_timed_out"),
    ),
    Scenario(
        "nginx-one-worker", "nginx x1, keepalive, 1 worker, 2 client conns", (("nginx-1", _N_KA),), "two_conns",
        "served", "one worker's pool serves all of its client connections: the new one reuses the idle "
        "connection, as measured here on every run", "nginx", extras=("reused",),
    ),
    Scenario(
        "nginx-workers", "nginx x1, keepalive, 2 workers", (("nginx-1", NginxSpec(keepalive=8, workers=2)),),
        "workers", "starved", "a connection that lands on the other worker finds that worker's own, empty pool",
        "nginx",
    ),
    Scenario(
        "nginx-mixed", "nginx keepalive + nginx default", (("nginx-1", _N_KA), ("nginx-2", _N_OLD)), "two_lbs",
        "starved", "the second instance's own settings do not protect it", "nginx",
    ),
    Scenario(
        "nginx-client-close", "nginx x2, keepalive, client sends Connection: close",
        (("nginx-1", _N_KA), ("nginx-2", _N_KA)), "client_close", "starved",
        "with upstream keepalive nginx clears the Connection header it sends upstream: the client's close stays "
        "on the client side, and the idle upstream connection holds the slot", "nginx",
        extras=("close_not_passed", "held_until_idle", "connect_instant", "queued"),
    ),
    Scenario(
        "nginx-overlap", "nginx x1, keepalive, overlap", (("nginx-1", _N_KA),), "overlap", "starved",
        "a request that arrives while the only connection is busy needs a second one", "nginx",
    ),
    Scenario(
        "fix-haproxy-nokeepalive", "HAProxy x2 + SetKeepAlivesEnabled(false)", (("haproxy-1", _H), ("haproxy-2", _H)),
        "two_lbs", "served", "the server-side fixes work behind real load balancers", "fix", keep_alives=False,
        extras=("one_per_conn",),
    ),
    Scenario(
        "fix-haproxy-connclose", "HAProxy x2 + handler Connection: close", (("haproxy-1", _H), ("haproxy-2", _H)),
        "two_lbs", "served", "the server-side fixes work behind real load balancers", "fix", conn_close=True,
        extras=("one_per_conn",),
    ),
    Scenario(
        "fix-nginx-nokeepalive", "nginx x2 keepalive + SetKeepAlivesEnabled(false)",
        (("nginx-1", _N_KA), ("nginx-2", _N_KA)), "two_lbs", "served",
        "the server-side fixes work behind real load balancers", "fix", keep_alives=False,
        extras=("one_per_conn",),
    ),
    Scenario(
        "fix-nginx-connclose", "nginx x2 keepalive + handler Connection: close",
        (("nginx-1", _N_KA), ("nginx-2", _N_KA)), "two_lbs", "served",
        "the server-side fixes work behind real load balancers", "fix", conn_close=True,
        extras=("one_per_conn",),
    ),
    Scenario(
        "check-tcp", "HAProxy TCP health check", (("haproxy-1", _H), ("haproxy-2", HAProxySpec(check="tcp"))),
        "health", "stays UP", "the check never reaches the application, nor even the accept queue (it resets its "
        "connection before the handshake's last ACK), while every request through that instance gets 504",
        "health", extras=("check_not_queued",),
    ),
    Scenario(
        "check-http", "HAProxy option httpchk", (("haproxy-1", _H), ("haproxy-2", HAProxySpec(check="http"))),
        "health", "DOWN, then UP", "marked DOWN a few check intervals after the slot was taken, 503 at once "
        "meanwhile, UP again soon after the slot frees (HAProxy marks the server DOWN, not itself)", "health",
    ),
    Scenario(
        "haproxy-article-timers", "HAProxy x1, default, the article's timers", (("haproxy-1", _H),), "idle",
        "closed by the load balancer after 15 s idle", "HAProxy purges an idle server connection on its own, by "
        "reset, three pool-purge-delay periods (5 s) after it went idle: long before Go's 30 s idle timeout, "
        "which its 60 s server timeout never reaches", "timers", extras=("closed_by", "pool_purge"),
        timers=ARTICLE_TIMERS,
    ),
    Scenario(
        "nginx-article-timers", "nginx x1, upstream keepalive, the article's timers", (("nginx-1", _N_KA),), "idle",
        "closed by the server after 30 s idle", "nginx keeps its cached upstream connection until Go closes it at "
        "its 30 s idle timeout (keepalive_timeout upstream defaults to 60 s)", "timers",
        extras=("closed_by", "held_until_idle"), timers=ARTICLE_TIMERS,
    ),
)  # fmt: skip


def scenario(key: str) -> Scenario:
    """The scenario named ``key``; KeyError lists the names."""
    for sc in SCENARIOS:
        if sc.key == key:
            return sc
    raise KeyError(f"no scenario {key!r}; there are {[s.key for s in SCENARIOS]}")
