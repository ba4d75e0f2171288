"""How much memory does an endless framing line cost the server? Prints figures; asserts nothing.

For each flood of ``keepalive_lab.fidelity.hostile.flood.ENDLESS`` (a trailer
line, a chunk-size line, a chunk extension, a head), a fresh server process
(``python -m keepalive_lab serve --latency 0 --read-timeout 60s``: only a
framing limit, not the deadline, can stop the line) gets one normal request,
then the flood: up to 160 MiB as one line, until the server hangs up, within
60 s. Printed per flood: the bytes sent and why the client stopped, the peak
growth (``VmHWM`` after minus before) and ``VmRSS`` before, and one second
after the client closed. With the Go reference built (``make go-reference``),
the same floods against Go follow, for comparison.

tests/test_memory.py checks one bound: the trailer line may grow our server's
peak by less than 64 MiB.

Run: ``.venv/bin/python benchmarks/memory.py [--limit-mib N] [--code DIR]``. ``--code`` runs the
server from another checkout's ``code/`` directory (an older commit, say, for a before-and-after
figure), the client staying this one.
"""

from __future__ import annotations

import argparse
import os
import time

from keepalive_lab.fidelity.hostile.flood import ENDLESS, MIB, flood, memory_of
from keepalive_lab.fidelity.hostile.runner import HostileTimes, served
from keepalive_lab.fidelity.process import ServerProcess, find_go_reference, go_server_command, python_server_command

FLAGS = ["--latency", "0", "--read-timeout", "60s"]


def measure(command: list[str], prefix: bytes, filler: bytes, limit: int) -> dict:
    with ServerProcess(command) as server:
        served(server.port, HostileTimes())
        before = memory_of(server.pid)
        result = flood(server.port, prefix, filler, limit=limit, seconds=60.0)
        peak = memory_of(server.pid).peak
        time.sleep(1.0)  # the server has seen the close by now
        after = memory_of(server.pid)
        still_serving = served(server.port, HostileTimes())
    return {"sent MiB": result.sent / MIB, "seconds": result.seconds, "stopped": result.stopped,
            "peak growth MiB": (peak - before.peak) / MIB, "RSS before MiB": before.rss / MIB,
            "RSS after close MiB": after.rss / MIB, "serves after": still_serving}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mib", type=int, default=160, help="the most each flood sends (MiB)")
    parser.add_argument("--code", default=None, help="run our server from this code/ directory")
    args = parser.parse_args()
    if args.code:
        os.environ["PYTHONPATH"] = os.path.abspath(args.code)  # inherited by the server processes only
    sides = [("ours", python_server_command(FLAGS))]
    ref = find_go_reference()
    if ref is not None:
        sides.append((f"Go {ref.go_version}", go_server_command(ref.binary, FLAGS)))
    print(f"{'server':10} {'flood':16} {'sent MiB':>9} {'s':>5}  {'stopped':24} {'peak +MiB':>9} "
          f"{'RSS before':>10} {'RSS after':>9}  serves after")  # fmt: skip
    for side, command in sides:
        for name, (prefix, filler) in ENDLESS.items():
            r = measure(command, prefix, filler, args.limit_mib * MIB)
            print(f"{side:10} {name:16} {r['sent MiB']:9.1f} {r['seconds']:5.1f}  {r['stopped']:24} "
                  f"{r['peak growth MiB']:9.1f} {r['RSS before MiB']:10.1f} {r['RSS after close MiB']:9.1f}  "
                  f"{r['serves after']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
