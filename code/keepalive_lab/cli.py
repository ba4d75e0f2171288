"""The command line: ``python -m keepalive_lab serve|list|run``.

``list`` and ``run`` are in :mod:`keepalive_lab.runcli`.

``serve`` starts the lab server in its own process with the same flags as the
Go reference program, so tools and the book can drive either one. Its first
line on stdout is ``listening on 127.0.0.1:PORT``; SIGINT or SIGTERM stop it
cleanly (exit 0). A bad flag or value prints one line on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import sys
import threading
import time
from typing import NoReturn, Sequence

from . import runcli
from .durations import DurationError, parse_duration
from .handlers import ArticleHandler, ServeMux
from .limit import LimitListener
from .netconn import listen
from .server import AccessRecord, Server, serving

__all__ = ["main", "UsageError"]

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad command line; reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + error; we want one line
        raise UsageError(message)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value}")
    return value


def _loopback_addr(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise argparse.ArgumentTypeError(f"want HOST:PORT, got {text!r}")
    try:
        loopback = ipaddress.ip_address(host).is_loopback and ipaddress.ip_address(host).version == 4
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not an IPv4 loopback address; the lab listens on 127.0.0.1 only")
    return host, int(port_text)


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the lab server (Go's net/http + LimitListener)")
    p.add_argument("--addr", type=_loopback_addr, default=("127.0.0.1", 0), help="HOST:PORT (default 127.0.0.1:0)")
    p.add_argument("--limit", type=_non_negative_int, default=1, help="LimitListener n; 0 means no limit (default 1)")
    p.add_argument("--read-timeout", type=_duration, default=30.0, help="Go ReadTimeout (default 30s)")
    p.add_argument("--write-timeout", type=_duration, default=30.0, help="Go WriteTimeout (default 30s)")
    p.add_argument("--idle-timeout", type=_duration, default=0.0, help="Go IdleTimeout; 0 falls back to ReadTimeout")
    p.add_argument("--read-header-timeout", type=_duration, default=0.0, help="0 falls back to ReadTimeout")
    p.add_argument("--max-header-bytes", type=_non_negative_int, default=1 << 20, help="Go MaxHeaderBytes")
    p.add_argument("--latency", type=_duration, default=0.1, help="handler work per request (default 100ms)")
    p.add_argument("--body-bytes", type=_non_negative_int, default=3, help="response body size (default 3: ok\\n)")
    p.add_argument("--no-content-length", action="store_true", help="let Go frame the body (auto length/chunked)")
    p.add_argument("--no-keep-alives", action="store_true", help="SetKeepAlivesEnabled(false): the first fix")
    p.add_argument("--conn-close", action="store_true", help="handler sets Connection: close: the second fix")
    p.add_argument("--access-log", metavar="FILE", help="append one JSON line per handled request")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m keepalive_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_serve(sub)
    runcli.add_commands(sub, UsageError)
    return parser


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


def _serve(args: argparse.Namespace) -> int:
    # The article's program: its handler registered on an http.NewServeMux() under "/".
    handler = ServeMux(
        ArticleHandler(
            latency=args.latency,
            body_bytes=args.body_bytes,
            content_length=not args.no_content_length,
            conn_close=args.conn_close,
        )
    )
    try:
        access_log = _JsonLinesLog(args.access_log) if args.access_log else None
    except OSError as exc:
        raise UsageError(f"--access-log: {exc.strerror}: {args.access_log}") from None
    server = Server(
        handler,
        read_timeout=args.read_timeout,
        read_header_timeout=args.read_header_timeout,
        write_timeout=args.write_timeout,
        idle_timeout=args.idle_timeout,
        max_header_bytes=args.max_header_bytes,
        access_log=access_log,
        error_log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.no_keep_alives:
        server.set_keep_alives_enabled(False)
    try:
        tcp = listen(*args.addr)
    except OSError as exc:
        raise UsageError(f"--addr {args.addr[0]}:{args.addr[1]}: {exc.strerror}") from None
    listener = LimitListener(tcp, args.limit) if args.limit > 0 else tcp
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with serving(server, listener):
            print(f"listening on {tcp.addr}", flush=True)
            while not stop.wait(3600):
                pass  # the server runs in its own threads until a signal arrives
    finally:
        if access_log is not None:
            access_log.close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args, extra = _build_parser().parse_known_args(argv)
        if args.command == "run":
            args.params = extra  # the experiment's own --name value pairs
        elif extra:
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "list":
            return runcli.list_command(args)
        if args.command == "run":
            return runcli.run_command(args)
        return _serve(args)
    except UsageError as exc:
        print(f"keepalive_lab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("keepalive_lab: interrupted", file=sys.stderr)
        return 130
