"""``python -m keepalive_lab serve``: the lab server in its own process, with the Go program's flags.

The tools and the book drive the lab server and the Go reference program the
same way. The first line on stdout is ``listening on 127.0.0.1:PORT``;
SIGINT or SIGTERM stop it cleanly (exit 0). A bad flag or value prints one
line on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from keepalive_lab.cli.args import EXIT_OK, UsageError, duration, loopback_addr, non_negative_int
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.records import AccessRecord

__all__ = ["add_serve", "serve_command"]


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the lab server (Go's net/http + LimitListener)")
    p.add_argument("--addr", type=loopback_addr, default=("127.0.0.1", 0), help="HOST:PORT (default 127.0.0.1:0)")
    p.add_argument("--limit", type=non_negative_int, default=1, help="LimitListener n; 0 means no limit (default 1)")
    p.add_argument("--read-timeout", type=duration, default=30.0, help="Go ReadTimeout (default 30s)")
    p.add_argument("--write-timeout", type=duration, default=30.0, help="Go WriteTimeout (default 30s)")
    p.add_argument("--idle-timeout", type=duration, default=0.0, help="Go IdleTimeout; 0 falls back to ReadTimeout")
    p.add_argument("--read-header-timeout", type=duration, default=0.0, help="0 falls back to ReadTimeout")
    p.add_argument("--max-header-bytes", type=non_negative_int, default=1 << 20, help="Go MaxHeaderBytes")
    p.add_argument("--latency", type=duration, default=0.1, help="handler work per request (default 100ms)")
    p.add_argument("--body-bytes", type=non_negative_int, default=3, help="response body size (default 3: ok\\n)")
    p.add_argument("--no-content-length", action="store_true", help="let Go frame the body (auto length/chunked)")
    p.add_argument("--no-keep-alives", action="store_true", help="SetKeepAlivesEnabled(false): the first fix")
    p.add_argument("--conn-close", action="store_true", help="handler sets Connection: close: the second fix")
    p.add_argument("--access-log", metavar="FILE", help="append one JSON line per handled request")


class _JsonLinesLog:
    """A thread-safe JSON-lines access log that flushes every record."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, record: AccessRecord) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record.__dict__})
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def serve_command(args: argparse.Namespace) -> int:
    # The article's program: its handler registered on an http.NewServeMux() under "/".
    config = ServerConfig(
        limit=args.limit,
        read_timeout=args.read_timeout,
        read_header_timeout=args.read_header_timeout,
        write_timeout=args.write_timeout,
        idle_timeout=args.idle_timeout,
        max_header_bytes=args.max_header_bytes,
        keep_alives=not args.no_keep_alives,
        latency=args.latency,
        body_bytes=args.body_bytes,
        content_length=not args.no_content_length,
        conn_close=args.conn_close,
    )
    try:
        access_log = _JsonLinesLog(args.access_log) if args.access_log else None
    except OSError as exc:
        raise UsageError(f"--access-log: {exc.strerror}: {args.access_log}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            running = start_server(
                config, access_log=access_log, error_log=lambda line: print(line, file=sys.stderr, flush=True),
                host=args.addr[0], port=args.addr[1],
            )  # fmt: skip
        except OSError as exc:
            raise UsageError(f"--addr {args.addr[0]}:{args.addr[1]}: {exc.strerror}") from None
        with running:
            print(f"listening on {running.addr}", flush=True)
            while not stop.wait(3600):
                pass  # the server runs in its own threads until a signal arrives
    finally:
        if access_log is not None:
            access_log.close()
    return EXIT_OK
