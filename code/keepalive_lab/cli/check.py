"""``python -m keepalive_lab check HOST:PORT``: does a running server starve new connections?

A black-box probe (:mod:`keepalive_lab.probe`), safe to point at a server
you own: at most ``--max-idle`` + 1 connections, each request a plain
``GET``, every wait bounded. It prints a short report, and with ``--json``
one JSON object on the last line. Exit status: 0 for ``ok`` and
``rejects``, 1 for ``starves`` and ``delays``, 2 for a bad command line or
when there is nothing to judge (nothing listening, no answer at all).
"""

from __future__ import annotations

import argparse
import math
import sys

from keepalive_lab.cli.args import EXIT_USAGE, UsageError
from keepalive_lab.goserver.durations import DurationError, parse_duration
from keepalive_lab.probe import MAX_IDLE_LIMIT, ProbeError, check, report

__all__ = ["add_check", "check_command", "target", "seconds"]


def target(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (meaning 127.0.0.1)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise argparse.ArgumentTypeError(f"want HOST:PORT with a port from 1 to 65535, got {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "127.0.0.1", int(port_text)


def seconds(text: str) -> float:
    """A number of seconds (``2.5``) or a Go duration (``500ms``), finite and positive."""
    try:
        value = float(text) if text.isascii() and text.replace(".", "", 1).isdigit() else parse_duration(text)
    except (ValueError, DurationError):
        raise argparse.ArgumentTypeError(f"want seconds (2.5) or a duration (500ms), got {text!r}") from None
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"must be more than 0 s, got {text!r}")
    return value


def idle_count(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_IDLE_LIMIT):
        raise argparse.ArgumentTypeError(f"want a whole number from 1 to {MAX_IDLE_LIMIT}, got {text!r}")
    return int(text)


def add_check(sub) -> None:
    p = sub.add_parser("check", help="probe a running server: do idle keep-alive connections starve new ones?")
    p.add_argument("target", type=target, metavar="HOST:PORT", help="the server to probe (one you own)")
    p.add_argument("--prompt", type=seconds, default=1.0, help="an answer within this counts as at once (default 1s)")
    p.add_argument("--timeout", type=seconds, default=10.0, help="how long a fresh request waits at most (default 10s)")
    p.add_argument("--max-idle", type=idle_count, default=8, help="stop after this many idle connections (default 8)")
    p.add_argument("--path", default="/", help="the path to GET (default /)")
    p.add_argument("--json", action="store_true", help="also print one JSON object on the last line")


def check_command(args: argparse.Namespace) -> int:
    if not args.path.startswith("/") or not args.path.isascii() or any(c in args.path for c in " \r\n\t"):
        raise UsageError(f"--path must start with / and hold no spaces or control characters, got {args.path!r}")
    host, port = args.target
    try:
        result = check(host, port, prompt=args.prompt, timeout=args.timeout, max_idle=args.max_idle, path=args.path)
    except ProbeError as exc:
        print(f"keepalive_lab check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report(result))
    if args.json:
        print(result.to_json())
    return result.exit_code
