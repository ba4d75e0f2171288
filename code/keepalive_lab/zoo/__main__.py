"""``python -m keepalive_lab.zoo [--record] [KEY ...]``: probe the zoo's servers live and print the table.

With ``--record`` (every server installed, every verdict as expected) the run
becomes ``data/zoo-verdicts.json``, the recording that pages show for servers
whose package is missing. Exit status 1 when a verdict disagrees with the
catalogue.
"""

from __future__ import annotations

import argparse
import sys

from keepalive_lab.zoo import recording, runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keepalive_lab.zoo", description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", help="servers of the catalogue (default: all)")
    parser.add_argument("--record", action="store_true", help=f"write the run to {recording.RECORDING}")
    args = parser.parse_args(argv)
    run = runner.run(args.keys or None)
    print(run.table().to_string(index=False))
    print(f"{len(run.rows)} servers in {run.wall_s:.0f} s")
    if args.record:
        recording.save(run)
        print(f"recorded to {recording.RECORDING}")
    try:
        run.confirm()
    except AssertionError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
