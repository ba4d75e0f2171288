"""``python -m keepalive_lab serve``: the lab server in its own process, with the Go program's flags.

The tools and the book drive the lab server and the Go reference program the
same way. The first line on stdout is ``listening on 127.0.0.1:PORT``;
SIGINT or SIGTERM stop it at once (exit 0): like the Go program's
``srv.Close()``, the listener and every connection close and the process
exits without waiting for handlers still at work. A bad flag or value prints
one line on stderr and exits 2. Durations are read by Go's rules
(:mod:`~keepalive_lab.goserver.durations`), negative ones included, which
net/http takes as "no timeout". The access log, like the Go program's,
never holds a request up: a record it cannot write is lost, and the first
such failure is reported on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Callable

from keepalive_lab.cli.args import EXIT_OK, UsageError, duration, loopback_addr, non_negative_int
from keepalive_lab.goserver.durations import MAX_DURATION_SECONDS
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.records import AccessRecord

__all__ = ["add_serve", "serve_command", "STOP_GRACE"]

# On SIGINT/SIGTERM, how long connections get to finish closing once they are told to (an idle one
# takes microseconds). Go's srv.Close() waits for nothing, and a handler still at work is not waited
# for: its thread is a daemon and the process exits without it.
STOP_GRACE = 0.05
# The handler builds its body in memory for each request: a larger one only exhausts memory.
MAX_BODY_BYTES = 1 << 30


def _body_size(text: str) -> int:
    value = non_negative_int(text)
    if value > MAX_BODY_BYTES:
        raise argparse.ArgumentTypeError(f"at most {MAX_BODY_BYTES} bytes (1 GiB), not {text}")
    return value


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
    p.add_argument("--body-bytes", type=_body_size, default=3, help="response body size (default 3: ok\\n)")
    p.add_argument("--no-content-length", action="store_true", help="let Go frame the body (auto length/chunked)")
    p.add_argument("--no-keep-alives", action="store_true", help="SetKeepAlivesEnabled(false): the first fix")
    p.add_argument("--conn-close", action="store_true", help="handler sets Connection: close: the second fix")
    p.add_argument("--access-log", metavar="FILE", help="append one JSON line per handled request")


def _go_durations(args: argparse.Namespace) -> dict[str, float]:
    """The duration flags as ServerConfig holds them (>= 0), with the meaning net/http gives negative ones.

    net/http arms a deadline only for a timeout > 0, and falls back from IdleTimeout and
    ReadHeaderTimeout to ReadTimeout only when they are exactly 0. So a negative ReadTimeout,
    WriteTimeout or latency (the handler sleeps only for > 0) is the same as 0, while a negative
    IdleTimeout or ReadHeaderTimeout means no deadline even when ReadTimeout is set: the longest Go
    duration here, a deadline 292 years away.
    """
    no_deadline = MAX_DURATION_SECONDS
    return {
        "read_timeout": max(args.read_timeout, 0.0),
        "write_timeout": max(args.write_timeout, 0.0),
        "latency": max(args.latency, 0.0),
        "idle_timeout": no_deadline if args.idle_timeout < 0 else args.idle_timeout,
        "read_header_timeout": no_deadline if args.read_header_timeout < 0 else args.read_header_timeout,
    }


class _JsonLinesLog:
    """A thread-safe JSON-lines access log; each record goes to the file at once, in one write.

    Like the Go program, whose ``f.Write`` result is ignored, the log never holds a request up: a
    record that cannot be written (a full disk, a reader gone from a pipe) is lost, ``report`` hears
    of the first such failure only, and the server serves on. Records that arrive after ``close``
    (a handler finishing as the server stops) are dropped.
    """

    def __init__(self, path: str, report: Callable[[str], None]) -> None:
        # Go: os.OpenFile(path, O_APPEND|O_CREATE|O_WRONLY, 0o644), unbuffered.
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._path = path
        self._report = report
        self._lock = threading.Lock()
        self._failed = False
        self._closed = False

    def __call__(self, record: AccessRecord) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record.__dict__}) + "\n"
        data = memoryview(line.encode("utf-8"))
        with self._lock:
            if self._closed:
                return
            try:
                while data:
                    data = data[os.write(self._fd, data):]
            except OSError as exc:
                self._failed_with(exc)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                os.close(self._fd)
            except OSError as exc:
                self._failed_with(exc)

    def _failed_with(self, exc: OSError) -> None:
        if not self._failed:
            self._failed = True
            reason = exc.strerror or str(exc)
            self._report(f"keepalive_lab: --access-log {self._path}: {reason}; records that cannot be written "
                         "are lost (reported once)")  # fmt: skip


def _stderr_line(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone: nothing is left to tell


def serve_command(args: argparse.Namespace) -> int:
    # The article's program: its handler registered on an http.NewServeMux() under "/".
    try:
        config = ServerConfig(
            limit=args.limit,
            max_header_bytes=args.max_header_bytes,
            keep_alives=not args.no_keep_alives,
            body_bytes=args.body_bytes,
            content_length=not args.no_content_length,
            conn_close=args.conn_close,
            **_go_durations(args),
        )
    except ValueError as exc:  # a value the flags' own checks let through
        raise UsageError(str(exc)) from None
    try:
        access_log = _JsonLinesLog(args.access_log, _stderr_line) if args.access_log else None
    except OSError as exc:
        raise UsageError(f"--access-log: {exc.strerror}: {args.access_log}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            running = start_server(
                config, access_log=access_log, error_log=_stderr_line, host=args.addr[0], port=args.addr[1],
                join_timeout=STOP_GRACE,
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
