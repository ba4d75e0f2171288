"""The command line: ``python -m keepalive_lab serve|list|run|doctor|check|queue``.

``serve`` (:mod:`.serve`) runs the lab server with the Go program's flags;
``list`` and ``run`` (:mod:`.run`) run every experiment, real-load-balancer
scenario and the fidelity matrix; ``doctor`` (:mod:`.doctor`) checks that
this machine can run the lab; ``check`` (:mod:`.check`) probes any running
server for the pitfall; ``queue`` (:mod:`.queue`) shows accept queues. A
bad command line prints one line on stderr and exits 2 (:mod:`.args`).
"""

from __future__ import annotations

import os
import select
import sys
from typing import Sequence

from keepalive_lab.cli import check, doctor, queue, run, serve
from keepalive_lab.cli.args import EXIT_USAGE, Parser, UsageError

__all__ = ["main", "UsageError"]


def _build_parser() -> Parser:
    parser = Parser(prog="python -m keepalive_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    serve.add_serve(sub)
    run.add_commands(sub)
    doctor.add_doctor(sub)
    check.add_check(sub)
    queue.add_queue(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args, extra = _build_parser().parse_known_args(argv)
        if args.command == "run":
            args.params = extra  # the experiment's own --name value pairs
        elif extra:
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "list":
            return run.list_command(args)
        if args.command == "run":
            return run.run_command(args)
        if args.command == "doctor":
            return doctor.doctor_command(args)
        if args.command == "check":
            return check.check_command(args)
        if args.command == "queue":
            return queue.queue_command(args)
        return serve.serve_command(args)
    except UsageError as exc:
        print(f"keepalive_lab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("keepalive_lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # some other pipe: a real error
        # What is still buffered would fail again as the interpreter exits, with a message: drop it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


# Whoever read stdout has gone (`list | head -1`): stop quietly with the status of a process that
# SIGPIPE ended, as a Go program would end.
EXIT_BROKEN_PIPE = 128 + 13


def _stdout_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more (poll says POLLERR)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no stdout, or no poll here
        return False
