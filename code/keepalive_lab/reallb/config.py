"""Configurations for real HAProxy and nginx instances in front of the lab server.

Theory of operation
-------------------
A spec (:class:`HAProxySpec`, :class:`NginxSpec`) names the few settings that
decide whether a load balancer keeps idle connections to the server; a
:class:`~keepalive_lab.reallb.times.RealLBTimes` holds the durations, in lab seconds. :func:`render` writes
the config text for one instance: loopback addresses only, the ports chosen
for this run, and every path (pid file, logs, sockets, temp folders) inside
the run's private folder. Everything else stays at the package's defaults, so
that the lab measures what an operator gets out of the box.

Both load balancers log one ``key=value`` line per request carrying the
client's ``X-Request-Id``, the status, and the upstream connect and response
times (:mod:`keepalive_lab.reallb.logs` reads them):

* HAProxy logs to its stdout (``log stdout``), with the local address of its
  connection to the server (``%bi:%bp``), so a log line joins the server's
  record of the same connection;
* nginx logs to a file in its prefix, with the worker's pid; it has no
  variable for the local port of its upstream connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keepalive_lab.reallb.times import RealLBTimes

__all__ = ["HAProxySpec", "NginxSpec", "LBSpec", "render", "HAPROXY_FORMAT", "NGINX_FORMAT"]

# One line per request; logs.parse_fields reads "key=value" pairs after the "lab" tag.
HAPROXY_FORMAT = (
    "lab id=%[capture.req.hdr(0)] st=%ST tc=%Tc tr=%Tr ta=%Ta bi=%bi bp=%bp term=%tsc at=%[date(0,ms)] thr=%[thread]"
)
NGINX_FORMAT = (
    "lab id=$http_x_request_id st=$status rt=$request_time uct=$upstream_connect_time "
    "uht=$upstream_header_time ust=$upstream_status msec=$msec worker=$pid conn=$connection"
)


@dataclass(frozen=True)
class HAProxySpec:
    """An HAProxy instance: defaults unless a field says otherwise."""

    reuse: str = ""  # "" keeps the default ("safe"); else "always", "aggressive", "never"
    server_close: bool = False  # option http-server-close: close the server connection after each response
    check: str = ""  # "" no health check; "tcp": plain connect check; "http": option httpchk
    # Each HAProxy thread keeps its own idle server connections and borrows another thread's only when
    # it can take it over at that instant; one thread makes connection reuse independent of which
    # thread a client connection lands on. 0 keeps HAProxy's default (one thread per CPU).
    threads: int = 1
    # > 0: "maxconn N" on the server line. In HTTP mode it limits the requests in progress on the server,
    # not its connections: an idle keep-alive connection does not count (configuration manual, "maxconn").
    maxconn: int = 0

    kind = "haproxy"

    def describe(self) -> str:
        parts = [f"http-reuse {self.reuse}" if self.reuse else "default (http-reuse safe)"]
        if self.server_close:
            parts.append("option http-server-close")
        if self.maxconn:
            parts.append(f"server maxconn {self.maxconn}")
        if self.check == "tcp":
            parts.append("TCP health check")
        elif self.check == "http":
            parts.append("option httpchk")
        return ", ".join(parts)


@dataclass(frozen=True)
class NginxSpec:
    """An nginx instance. ``keepalive`` 0 is the proxy default of nginx before 1.29.7."""

    keepalive: int = 0  # > 0: upstream keepalive N, proxy_http_version 1.1, Connection ""
    workers: int = 1

    kind = "nginx"

    def describe(self) -> str:
        if self.keepalive:
            base = f"upstream keepalive {self.keepalive}, HTTP/1.1"
        else:
            base = "default (HTTP/1.0, no keepalive)"
        return base + (f", {self.workers} workers" if self.workers != 1 else "")


LBSpec = HAProxySpec | NginxSpec


def _ms(seconds: float) -> str:
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _haproxy(spec: HAProxySpec, listen_port: int, server_port: int, folder: Path, node: str, t: RealLBTimes) -> str:
    backend = []
    if spec.reuse:
        backend.append(f"    http-reuse {spec.reuse}")
    if spec.server_close:
        backend.append("    option http-server-close")
    if spec.check == "http":
        backend.append("    option httpchk")
    server = f" maxconn {spec.maxconn}" if spec.maxconn else ""
    if spec.check:
        server += f" check inter {_ms(t.check_inter)} fall {t.check_fall} rise {t.check_rise}"
    lines = [
        f"# {node}: {spec.describe()}; written by keepalive_lab for one run",
        "global",
        "    log stdout format raw local0 info",
        *([f"    nbthread {spec.threads}"] if spec.threads else []),
        f"    pidfile {folder / (node + '.pid')}",
        f"    stats socket {folder / (node + '.sock')} mode 600 level user",
        "",
        "defaults",
        "    mode http",
        "    log global",
        f"    timeout connect {_ms(t.connect_timeout)}",
        f"    timeout client {_ms(t.client_keepalive)}",
        f"    timeout http-keep-alive {_ms(t.client_keepalive)}",
        f"    timeout server {_ms(t.lb_timeout)}",
        "",
        "frontend lab_front",
        f"    bind 127.0.0.1:{listen_port}",
        "    http-request capture req.hdr(X-Request-Id) len 64",
        f'    log-format "{HAPROXY_FORMAT}"',
        "    default_backend lab_back",
        "",
        "backend lab_back",
        *backend,
        f"    server lab 127.0.0.1:{server_port}{server}",
        "",
    ]
    return "\n".join(lines)


def _nginx(spec: NginxSpec, listen_port: int, server_port: int, prefix: Path, node: str, t: RealLBTimes) -> str:
    upstream_keepalive = f"        keepalive {spec.keepalive};\n" if spec.keepalive else ""
    http11 = ""
    if spec.keepalive:
        http11 = "            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n"
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temps = "".join(f"    {kind}_temp_path {prefix / ('tmp-' + kind)};\n" for kind in kinds)
    return f"""# {node}: {spec.describe()}; written by keepalive_lab for one run
daemon off;
master_process on;
worker_processes {spec.workers};
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} info;

events {{
    worker_connections 256;
}}

http {{
    log_format lab '{NGINX_FORMAT}';
    access_log {prefix / 'access.log'} lab;
{temps}
    upstream lab_back {{
        server 127.0.0.1:{server_port};
{upstream_keepalive}    }}

    server {{
        listen 127.0.0.1:{listen_port};
        keepalive_timeout {_ms(t.client_keepalive)};

        # Which worker holds this client connection (the lab asks before it sends a request).
        location = /lab-worker {{
            access_log off;
            return 200 "$pid\\n";
        }}

        location / {{
            proxy_pass http://lab_back;
{http11}            proxy_connect_timeout {_ms(t.connect_timeout)};
            proxy_send_timeout {_ms(t.lb_timeout)};
            proxy_read_timeout {_ms(t.lb_timeout)};
        }}
    }}
}}
"""


def render(spec: LBSpec, *, node: str, listen_port: int, server_port: int, folder: Path, times: RealLBTimes) -> str:
    """The config text of one instance; ``folder`` is where its files live (nginx: its prefix)."""
    if isinstance(spec, HAProxySpec):
        return _haproxy(spec, listen_port, server_port, folder, node, times)
    if isinstance(spec, NginxSpec):
        return _nginx(spec, listen_port, server_port, folder, node, times)
    raise TypeError(f"not a load-balancer spec: {spec!r}")
