"""``python -m keepalive_lab.fidelity record|compare|hostile|routes``: record the Go side, or compare with it.

``record`` runs the matrix against the Go reference binary and writes
``data/go-fidelity.json``; ``compare`` prints the comparison (live when the Go
reference is built, else against the recording) and exits 1 on any
unexplained difference. ``hostile`` compares our server with the recorded Go
run of the hostile corpus (``--live``: with the Go binary, now) and keeps the
result for the fidelity appendix; ``hostile --record`` rewrites
``data/go-hostile.json`` from the Go binary. ``routes`` compares our
``ServeMux`` answers to request targets of every shape with the recorded Go
ones (``--live``: a fresh sweep of ``--count`` targets against the Go binary,
now); ``routes --record`` rewrites ``data/go-routes.json``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
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
    hostile = sub.add_parser("hostile", help="the hostile corpus: compare with the recorded Go run, or record it")
    hostile.add_argument("--record", action="store_true", help="run the corpus against the Go binary and save it")
    hostile.add_argument("--live", action="store_true", help="run the Go binary now instead of using the recording")
    hostile.add_argument("--recording", type=Path, default=None)
    routes = sub.add_parser("routes", help="ServeMux routing: compare with the recorded Go answers, or record them")
    routes.add_argument("--record", action="store_true", help="play the routes against the Go binary and save them")
    routes.add_argument("--live", action="store_true", help="play the Go binary now instead of using the recording")
    routes.add_argument("--count", type=int, default=None, help="with --live or --record: how many routes")
    routes.add_argument("--seed", type=int, default=None, help="with --live: another seed")
    routes.add_argument("--recording", type=Path, default=None)
    for p in (rec, cmp_, hostile, routes):
        p.add_argument("--go", type=Path, default=None, help="the Go reference binary")
        p.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args(argv)
    ref = find_go_reference(args.go) if args.go else find_go_reference()
    if args.command == "hostile":
        return _hostile(args, ref)
    if args.command == "routes":
        return _routes(args, ref)
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


def _reference_missing(args: argparse.Namespace, ref) -> bool:
    """Recording or a live run needs the Go binary: say so when it is not there."""
    if (args.record or args.live) and ref is None:
        print("no Go reference binary: run tools/go_reference.sh first", file=sys.stderr)
        return True
    return False


def _hostile(args: argparse.Namespace, ref) -> int:
    from keepalive_lab.fidelity.hostile import compare, corpus, recording

    path = args.recording or recording.RECORDING
    if _reference_missing(args, ref):
        return 1
    if args.record:
        data = recording.record(ref, path, jobs=args.jobs)
        print(f"recorded {len(data['cases'])} hostile cases, {ref.go_version}, x/net {ref.x_net_version}: {path}")
        return 0
    result = compare.hostile_comparison(ref if args.live else None, path, jobs=args.jobs)
    recording.save_last_run(result.summary())
    counts = ", ".join(f"{k} {n}" for k, n in corpus.classes_of().items())
    print(f"{result.cases} cases ({counts})\nour server took {result.seconds:.1f} s\n")
    print(result.report())
    return 1 if result.unexplained or result.missing or result.stale else 0


def _routes(args: argparse.Namespace, ref) -> int:
    from keepalive_lab.fidelity import routes
    from keepalive_lab.fidelity.process import python_server_command

    path = args.recording or routes.RECORDING
    if _reference_missing(args, ref):
        return 1
    if args.record:
        data = routes.record(ref, path, count=args.count or routes.COUNT, jobs=args.jobs)
        print(f"recorded {len(data['routes'])} routes, {ref.go_version}: {path}")
        return 0
    if args.live:
        cases = routes.routes(args.count or routes.COUNT, routes.SEED if args.seed is None else args.seed)
        go = routes.run_routes(lambda flags: [str(ref.binary), *flags], cases, args.jobs)
        source = f"{ref.go_version}, live"
    else:
        meta, go, _ = routes.load_recording(path)
        cases = routes.routes(meta["count"], meta["seed"])
        source = f"{meta['go_version']}, recorded {meta['recorded_utc']}"
    ours = routes.run_routes(python_server_command, cases, args.jobs)
    differences = routes.compare(cases, go, ours)
    statuses = Counter(a.status for a in go.values())
    print(f"{len(cases)} routes, Go {source}; Go's statuses: {dict(sorted(statuses.items()))}")
    print("\n".join(differences) or "no differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
