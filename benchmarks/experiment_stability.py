"""Do the experiments' verdicts hold every time? Prints figures; asserts nothing.

Runs every experiment ``--runs`` times (20 by default) at the default time
scale while ``--load`` processes keep CPU cores busy, and prints:

* for each claim, how many runs it held in (the target is every run);
* for each experiment, its wall time (mean, max), the floor it cannot beat
  (the timeouts it must witness), and the ratio of the two.

Run: ``.venv/bin/python benchmarks/experiment_stability.py [--runs 20] [--load 1] [--only symptom,race]``.
It takes about a minute per round of all experiments.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict

from keepalive_lab.experiments import EXPERIMENTS
from keepalive_lab.lab.timescale import DEFAULT_SCALE

BURN = "import time\nend = time.monotonic() + 7200\nwhile time.monotonic() < end: pass\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load", type=int, default=1, help="busy processes running alongside (default 1)")
    parser.add_argument("--only", default="", help="comma-separated experiment names")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(EXPERIMENTS)
    unknown = set(names) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiments: {', '.join(sorted(unknown))}")

    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(args.load)]
    held: dict[tuple[str, str], int] = defaultdict(int)
    walls: dict[str, list[float]] = defaultdict(list)
    texts: dict[tuple[str, str], str] = {}
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            for name in names:
                exp = EXPERIMENTS[name]
                result = exp.run(exp.params(), DEFAULT_SCALE)
                walls[name].append(result.wall_seconds)
                for c in result.claims:
                    held[(name, c.name)] += c.held
                    texts[(name, c.name)] = c.text
                    if not c.held:
                        print(f"  run {run}: {name}/{c.name} did NOT hold: {c.evidence}", flush=True)
            print(f"round {run}/{args.runs} done, {time.monotonic() - started:.0f} s", flush=True)
    finally:
        for b in burners:
            b.kill()
            b.wait()

    print(f"\n{args.runs} runs of each experiment, {args.load} busy process(es) alongside, {DEFAULT_SCALE.describe()}")
    print(f"{'experiment':<16} {'claim':<28} held")
    for (name, claim), count in held.items():
        print(f"{name:<16} {claim:<28} {count}/{args.runs}")
    print(f"\n{'experiment':<16} {'wall mean':>9} {'wall max':>9} {'floor':>7} {'ratio':>6}")
    total = 0.0
    for name in names:
        exp = EXPERIMENTS[name]
        floor = exp.floor(exp.params(), DEFAULT_SCALE)
        mean = sum(walls[name]) / len(walls[name])
        total += mean
        print(f"{name:<16} {mean:8.1f}s {max(walls[name]):8.1f}s {floor:6.1f}s {mean / floor:6.2f}")
    print(f"{'all':<16} {total:8.1f}s")


if __name__ == "__main__":
    main()
