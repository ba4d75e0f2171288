"""Configuration files for the zoo's Apache httpd, nginx and HAProxy: the fewest lines that set the limit.

Each function returns the text of one file for one run. Every path in it is
inside the run's private folder, every address is 127.0.0.1, and nothing
refers to the system's own configuration (/etc/apache2, /etc/nginx,
/etc/haproxy): the lab never uses the packages' services. A directive that a
row of the catalogue does not set is left out, so the package's compiled-in
default applies.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["apache", "nginx", "haproxy", "APACHE_MODULES", "APACHE_USER"]

APACHE_MODULES = Path("/usr/lib/apache2/modules")  # Debian's apache2-bin
# Started as root, httpd serves from children that drop to this user (Debian's web-server user); when the lab
# does not run as root, httpd keeps the lab's user and ignores the directives.
APACHE_USER = "www-data"

_MPM = {
    # The closest to "one at a time" each MPM allows; the keys are the catalogue's `mpm` option.
    "prefork": ["StartServers 1", "ServerLimit 1", "MaxRequestWorkers 1", "MinSpareServers 1", "MaxSpareServers 1"],
    "event": ["StartServers 1", "ServerLimit 1", "ThreadLimit 1", "ThreadsPerChild 1", "MaxRequestWorkers 1",
              "MinSpareThreads 1", "MaxSpareThreads 2"],
}  # fmt: skip


def apache(*, mpm: str, port: int, folder: Path, idle: int | None, as_root: bool, async_factor: int = 0) -> str:
    """httpd.conf for ``apache2 -DFOREGROUND -f FILE``: one MPM, two modules, a folder with ``index.html``.

    ``idle`` None keeps every default (the catalogue's defaults row): no MPM
    directive, no keep-alive directive. ``async_factor`` > 0 sets the event
    MPM's AsyncRequestWorkerFactor (an exercise's variant).
    """
    if mpm not in _MPM:
        raise ValueError(f"unknown MPM {mpm!r}")
    docs = folder / "docs"
    lines = [
        f"# Apache httpd, {mpm} MPM; written by keepalive_lab for one run",
        f"ServerRoot {folder}",
        f"DefaultRuntimeDir {folder}",
        f"PidFile {folder / 'httpd.pid'}",
        f"LoadModule mpm_{mpm}_module {APACHE_MODULES / f'mod_mpm_{mpm}.so'}",
        f"LoadModule authz_core_module {APACHE_MODULES / 'mod_authz_core.so'}",
        f"LoadModule dir_module {APACHE_MODULES / 'mod_dir.so'}",
        *([f"User {APACHE_USER}", f"Group {APACHE_USER}"] if as_root else []),
        "ServerName 127.0.0.1",
        f"Listen 127.0.0.1:{port}",
        "ErrorLog /proc/self/fd/2",
        "LogLevel notice",
        f"DocumentRoot {docs}",
        "DirectoryIndex index.html",
        f"<Directory {docs}>",
        "    Require all granted",
        "</Directory>",
    ]
    if idle is not None:
        lines += _MPM[mpm] + ["KeepAlive On", f"KeepAliveTimeout {idle}"]
    if async_factor:
        if mpm != "event":
            raise ValueError("AsyncRequestWorkerFactor belongs to the event MPM")
        lines.append(f"AsyncRequestWorkerFactor {async_factor}")
    return "\n".join(lines) + "\n"


def nginx(*, port: int, folder: Path, idle: int | None, limit_conn: int, worker_connections: int) -> str:
    """nginx.conf for ``nginx -p FOLDER -c FILE``: one worker, in the foreground, serving ``index.html``.

    The page is a static file, not ``return 200``: ``return`` answers in the
    rewrite phase, before the preaccess phase where ``limit_conn`` counts, so
    a limit on such a location would never apply. 0 leaves a setting at its
    default; ``idle`` None keeps the default keep-alive timeout.
    """
    events = f"    worker_connections {worker_connections};\n" if worker_connections else ""
    zone = "    limit_conn_zone $server_name zone=one_at_a_time:1m;\n" if limit_conn else ""
    limit = f"        limit_conn one_at_a_time {limit_conn};\n" if limit_conn else ""
    keepalive = f"    keepalive_timeout {idle}s;\n" if idle is not None else ""
    temps = "".join(f"    {kind}_temp_path {folder / ('tmp-' + kind)};\n"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    return f"""# nginx; written by keepalive_lab for one run
daemon off;
master_process on;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log stderr notice;

events {{
{events}}}

http {{
    access_log off;
{temps}{keepalive}{zone}
    server {{
        listen 127.0.0.1:{port};
        root {folder / 'docs'};
{limit}    }}
}}
"""


def haproxy(*, port: int, backend_port: int, folder: Path, idle: int | None, frontend_maxconn: int,
            server_maxconn: int) -> str:  # fmt: skip
    """haproxy.cfg for ``haproxy -db -f FILE``, in front of a backend with no limit on ``backend_port``.

    ``idle`` None writes only the timeouts HAProxy warns about when missing
    (connect, client, server), at 30 s for client and server.
    """
    if idle is None:
        timeouts = ["timeout connect 5s", "timeout client 30s", "timeout server 30s"]
    else:
        timeouts = ["timeout connect 5s", f"timeout client {idle}s", f"timeout server {idle}s",
                    f"timeout http-keep-alive {idle}s", f"timeout queue {idle}s"]  # fmt: skip
    server = f"    server app 127.0.0.1:{backend_port}" + (f" maxconn {server_maxconn}" if server_maxconn else "")
    lines = [
        "# HAProxy; written by keepalive_lab for one run",
        "global",
        f"    pidfile {folder / 'haproxy.pid'}",
        "",
        "defaults",
        "    mode http",
        *(f"    {t}" for t in timeouts),
        "",
        "frontend zoo",
        f"    bind 127.0.0.1:{port}",
        *([f"    maxconn {frontend_maxconn}"] if frontend_maxconn else []),
        "    default_backend app",
        "",
        "backend app",
        server,
        "",
    ]
    return "\n".join(lines)
