"""``python -m keepalive_lab.fidelity record|compare``: record the Go side, or compare with it.

``record`` runs the matrix against the Go reference binary and writes
``data/go-fidelity.json``; ``compare`` prints the comparison (live when the Go
reference is built, else against the recording) and exits 1 on any
unexplained difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from keepalive_lab.fidelity.process import find_go_reference
from keepalive_lab.fidelity.report import RECORDING, fidelity_report, record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keepalive_lab.fidelity", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run the matrix against the Go reference and save it")
    rec.add_argument("--out", type=Path, default=RECORDING)
    cmp_ = sub.add_parser("compare", help="compare our server with Go (live, or the recording)")
    cmp_.add_argument("--recording", type=Path, default=RECORDING)
    for p in (rec, cmp_):
        p.add_argument("--go", type=Path, default=None, help="the Go reference binary")
        p.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args(argv)
    ref = find_go_reference(args.go) if args.go else find_go_reference()
    if args.command == "record":
        if ref is None:
            print("no Go reference binary: run tools/go_reference.sh first", file=sys.stderr)
            return 1
        data = record(ref, args.out, jobs=args.jobs)
        print(f"recorded {len(data['scenarios'])} scenarios, {ref.go_version}, x/net {ref.x_net_version}: {args.out}")
        return 0
    report = fidelity_report(ref, args.recording, jobs=args.jobs)
    with pd.option_context("display.max_colwidth", 90, "display.width", 250):
        print(f"Go {report.go_version} ({report.source}, {report.go_ran_utc}) against ours")
        print(f"run again: {', '.join(report.retried) or 'none'}\n")
        print(report.table().drop(columns="what").to_string())
    for c in report.comparisons:
        for where, g, o in c.unexplained:
            print(f"\nDIFFERENCE {c.scenario} {where}\n  go:   {g}\n  ours: {o}")
    return 1 if report.unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
