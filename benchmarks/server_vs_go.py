"""The lab server against the Go reference, under the same load generator. Prints figures; asserts nothing.

Both programs take the same flags (``python -m keepalive_lab serve`` and
``_build/go-reference/keepalive-go``); each runs here with no listener limit
and a handler that answers at once, so what is measured is the server itself.
Debian's ``wrk`` drives them (a Python client would be the bottleneck for
both) over keep-alive connections on loopback:

* one connection: requests per second, round-trip p50 and p99;
* 8 and 64 connections: requests per second and p99.

On a machine with two cores or more, each server runs on core 0 and wrk on
core 1 (``taskset``): each side gets one core of its own, so runs repeat and
Go's extra threads buy it nothing a Python process could not use. Without
pinning, the figures on a 2-core virtual machine varied twofold from run to
run with the scheduler's placement.

A third column is Python's own ceiling here: a bare loop, one thread per
connection, that answers every read with the same bytes and parses nothing.
No Python server with a thread per connection can beat it, so it shows how
much of the gap to Go is the lab server's work and how much is Python's.

The goals: the lab server within 2x of Go on one connection, and throughput
that does not fall as connections are added. ``wrk`` and the server share
the machine's cores, so compare the two columns of one run, not runs on
different machines.

Run: ``make bench`` (installs wrk as root on Debian when it is missing) or
``.venv/bin/python benchmarks/server_vs_go.py [--seconds 5]``. Exit status 2
when wrk is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass

from keepalive_lab.fidelity.process import ServerProcess, find_go_reference, go_server_command, python_server_command

FLAGS = ["--limit", "0", "--latency", "0s", "--read-timeout", "30s"]
LOADS = (1, 8, 64)  # keep-alive connections
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}  # wrk's latency units, to milliseconds


@dataclass
class Load:
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: str


BARE_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 b"Date: Wed, 02 Dec 2026 00:00:00 GMT\r\n\r\nok\n")


def _answer_every_read(conn: socket.socket) -> None:
    with conn:
        try:
            while conn.recv(65536):
                conn.sendall(BARE_RESPONSE)
        except OSError:
            pass  # wrk resets its connections when it stops


def serve_bare_loop() -> int:
    """Python's ceiling, as a process of its own (pinned like the servers): accept, and answer every read
    of every connection with fixed bytes, a thread per connection, until SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with socket.create_server(("127.0.0.1", 0), backlog=128) as listener:
        print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_answer_every_read, args=(conn,), daemon=True).start()


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()
    return float(number) * UNITS[unit]


def parse_wrk(output: str, connections: int) -> Load:
    """Requests/sec and the 50 % and 99 % lines of ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output)[1])
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])
    errors = re.search(r"Socket errors: (.*)|Non-2xx or 3xx responses: (\d+)", output)
    return Load(connections, rps, p50, p99, errors[0] if errors else "")


def pinned(core: int) -> list[str]:
    """``taskset -c CORE`` when there are two cores or more to spread over, else nothing."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core)] if taskset and (os.cpu_count() or 1) >= 2 else []


def measure(wrk: str, port: int, seconds: float) -> list[Load]:
    url = f"http://127.0.0.1:{port}/"
    client = [*pinned(1), wrk, "-t1"]
    subprocess.run([*client, "-c1", "-d1s", url], capture_output=True, timeout=30, check=True)  # warm-up
    loads = []
    for connections in LOADS:
        command = [*client, f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
        loads.append(parse_wrk(done.stdout, connections))
    return loads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="each load's duration (default 5)")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # be the bare loop's process
    args = parser.parse_args()
    if args.bare:
        return serve_bare_loop()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("server_vs_go: wrk is missing (as root on Debian: apt-get install wrk, or make bench)", file=sys.stderr)
        return 2
    programs = {"lab server": [*pinned(0), *python_server_command(FLAGS)]}
    go = find_go_reference()
    if go is not None:
        programs[f"Go {go.go_version}"] = [*pinned(0), *go_server_command(go.binary, FLAGS)]
    else:
        print("(no Go reference here: make go-reference builds it; the lab server runs alone)")
    results: dict[str, list[Load]] = {}
    for name, argv in programs.items():
        with ServerProcess(argv) as server:
            results[name] = measure(wrk, server.port, args.seconds)
    with ServerProcess([*pinned(0), sys.executable, __file__, "--bare"]) as bare:
        results["bare Python loop"] = measure(wrk, bare.port, args.seconds)
    print(f"\nwrk, keep-alive, handler answers at once, {args.seconds:g} s per load")
    names = list(results)
    go_column = 1 if len(names) == 3 else None
    print(f"{'':<26}" + "".join(f"{n:>18}" for n in names) + ("      lab / Go" if go_column else ""))
    rows = []
    for i, connections in enumerate(LOADS):
        rows.append((f"{connections} conn: req/s", [results[n][i].requests_per_second for n in names], "{:18.0f}"))
        if connections == 1:
            rows.append(("1 conn: p50 (ms)", [results[n][i].p50_ms for n in names], "{:18.3f}"))
        rows.append((f"{connections} conn: p99 (ms)", [results[n][i].p99_ms for n in names], "{:18.3f}"))
    for label, values, form in rows:
        ratio = f"{values[0] / values[go_column]:13.2f}x" if go_column and values[go_column] else ""
        print(f"{label:<26}" + "".join(form.format(v) for v in values) + ratio)
    for name in names:
        for load in results[name]:
            if load.errors:
                print(f"  {name}, {load.connections} connections: {load.errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
