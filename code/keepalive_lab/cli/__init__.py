"""The command line: ``python -m keepalive_lab serve|list|run``.

``serve`` (:mod:`.serve`) runs the lab server with the Go program's flags;
``list`` and ``run`` (:mod:`.run`) run every experiment, real-load-balancer
scenario and the fidelity matrix. A bad command line prints one line on
stderr and exits 2 (:mod:`.args`).
"""

from __future__ import annotations

import sys
from typing import Sequence

from keepalive_lab.cli import run, serve
from keepalive_lab.cli.args import EXIT_USAGE, Parser, UsageError

__all__ = ["main", "UsageError"]


def _build_parser() -> Parser:
    parser = Parser(prog="python -m keepalive_lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    serve.add_serve(sub)
    run.add_commands(sub)
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
        return serve.serve_command(args)
    except UsageError as exc:
        print(f"keepalive_lab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("keepalive_lab: interrupted", file=sys.stderr)
        return 130
