"""Do the experiments' verdicts hold every time? Prints figures; asserts nothing.

Runs every experiment ``--runs`` times (20 by default) at the default time
scale while ``--load`` processes keep CPU cores busy, and prints:

* for each claim, how many runs it held in (the target is every run);
* for each experiment, its wall time (mean, max), the floor it cannot beat
  (the timeouts it must witness), and the ratio of the two.

``--concurrent N`` runs each round's experiments N at a time, each in its
own process, as the book's build executes chapters side by side (one
after another by default).

Run: ``.venv/bin/python benchmarks/experiment_stability.py [--runs 20] [--load 1] [--concurrent 4]
[--only symptom,race]``. A round of all experiments takes about a minute one after another.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

from keepalive_lab.experiments import EXPERIMENTS
from keepalive_lab.lab.timescale import DEFAULT_SCALE

BURN = "import time\nend = time.monotonic() + 7200\nwhile time.monotonic() < end: pass\n"


def run_one(name: str) -> tuple[str, float, list[tuple[str, bool, str, str]]]:
    """One run of one experiment: its wall time and, for each claim, name, held, text, evidence."""
    exp = EXPERIMENTS[name]
    result = exp.run(exp.params(), DEFAULT_SCALE)
    return name, result.wall_seconds, [(c.name, bool(c.held), c.text, str(c.evidence)) for c in result.claims]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load", type=int, default=1, help="busy processes running alongside (default 1)")
    parser.add_argument("--only", default="", help="comma-separated experiment names")
    parser.add_argument("--concurrent", type=int, default=1, help="experiments run at once, each in a process")
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
            if args.concurrent > 1:
                with ProcessPoolExecutor(args.concurrent) as pool:
                    outcomes = list(pool.map(run_one, names))
            else:
                outcomes = [run_one(name) for name in names]
            for name, wall, claims in outcomes:
                walls[name].append(wall)
                for claim, ok, text, evidence in claims:
                    held[(name, claim)] += ok
                    texts[(name, claim)] = text
                    if not ok:
                        print(f"  run {run}: {name}/{claim} did NOT hold: {evidence}", flush=True)
            print(f"round {run}/{args.runs} done, {time.monotonic() - started:.0f} s", flush=True)
    finally:
        for b in burners:
            b.kill()
            b.wait()

    mode = f"{args.concurrent} at a time" if args.concurrent > 1 else "one after another"
    print(f"\n{args.runs} runs of each experiment ({mode}), {args.load} busy process(es) alongside, "
          f"{DEFAULT_SCALE.describe()}, {time.monotonic() - started:.0f} s in all")
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
