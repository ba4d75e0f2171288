"""``python -m keepalive_lab queue [--watch]``: each listening socket's accept queue and backlog.

What ``ss -lnt`` shows as Recv-Q and Send-Q for LISTEN sockets (read as
``ss`` reads it, :mod:`keepalive_lab.sockdiag`), with the process that
owns each socket. ``--watch`` samples for ``--seconds`` and reports every
queue that stays non-empty for ``--stuck`` seconds or more: connections the
kernel completed and the application is not accepting, the signature of the
incident. Exit status: 0, or 1 when ``--watch`` saw a queue stay non-empty.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

from keepalive_lab import sockdiag
from keepalive_lab.cli.args import EXIT_FAILED, EXIT_OK
from keepalive_lab.cli.check import seconds

__all__ = ["add_queue", "queue_command"]

_MAX_SAMPLES = 100_000


def add_queue(sub) -> None:
    p = sub.add_parser("queue", help="accept-queue length and backlog of each listening TCP socket")
    p.add_argument("--port", type=_port, help="only the sockets listening on this port")
    p.add_argument("--watch", action="store_true", help="sample for --seconds and report queues that stay non-empty")
    p.add_argument("--seconds", type=_watch_seconds, default=10.0, help="how long --watch samples (default 10)")
    p.add_argument("--interval", type=_watch_seconds, default=0.2, help="time between samples (default 0.2)")
    p.add_argument("--stuck", type=_watch_seconds, default=1.0, help="non-empty this long counts as stuck (default 1)")


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 65536):
        raise argparse.ArgumentTypeError(f"want a port from 1 to 65535, got {text!r}")
    return int(text)


def _watch_seconds(text: str) -> float:
    value = seconds(text)
    if value > 86400:
        raise argparse.ArgumentTypeError(f"at most a day (86400 s), got {text!r}")
    return value


def _table(found: list[sockdiag.Listener]) -> str:
    owners = sockdiag.owners({x.inode for x in found})
    rows = [("LISTEN", "QUEUED (Recv-Q)", "BACKLOG (Send-Q)", "PROCESS")]
    for x in found:
        pid, name = owners.get(x.inode, (None, ""))
        rows.append((x.address, str(x.queued), "?" if x.backlog is None else str(x.backlog),
                     f"{name} (pid {pid})" if pid else "-"))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


@dataclass
class _Streak:
    since: float
    peak: int
    reported: bool = False


def _watch(args: argparse.Namespace) -> int:
    streaks: dict[str, _Streak] = {}
    stuck_seen: set[str] = set()
    began = time.monotonic()
    samples = min(_MAX_SAMPLES, max(1, math.ceil(args.seconds / args.interval)))
    for _ in range(samples):
        now = time.monotonic()
        for x in sockdiag.listeners(args.port):
            if x.queued == 0:
                streaks.pop(x.address, None)
                continue
            streak = streaks.setdefault(x.address, _Streak(now, 0))
            streak.peak = max(streak.peak, x.queued)
            if not streak.reported and now - streak.since >= args.stuck:
                streak.reported = True
                stuck_seen.add(x.address)
                print(f"{now - began:5.1f} s  {x.address}: {x.queued} connection(s) waiting to be accepted "
                      f"for {now - streak.since:.1f} s", flush=True)  # fmt: skip
        time.sleep(max(0.0, args.interval - (time.monotonic() - now)))
    if stuck_seen:
        print(f"stuck accept queues on {', '.join(sorted(stuck_seen))}:")
        print("  the application is not accepting connections the kernel has completed")
        print("  (a full connection limit, or an accept loop that is blocked)")
        return EXIT_FAILED
    print(f"no accept queue stayed non-empty for {args.stuck:g} s in {args.seconds:g} s of watching")
    return EXIT_OK


def queue_command(args: argparse.Namespace) -> int:
    found = sockdiag.listeners(args.port)
    print(_table(found) if found else "no listening TCP socket" + (f" on port {args.port}" if args.port else ""))
    return _watch(args) if args.watch else EXIT_OK
