"""How much time does the lab add to a request, hop by hop? Prints figures; asserts nothing.

The symptom chapter reports latencies in article seconds; the handler's work
is 0.2 article seconds (10 ms of lab time at x20). Whatever the lab spends
around the handler (the client, the load-balancer node, the server, thread
hand-offs) shows up multiplied by the time scale. This measures it for a
serial client on one kept-alive connection, one hop at a time:

* ``raw -> server``: a socket client straight to the lab server;
* ``httpx -> server``: the lab's client (httpx) straight to the server;
* ``httpx -> node -> server``: the whole chain of the experiments.

For each: the median and p99 of the latency beyond the handler's work, in
lab milliseconds, and the median answered latency as a percentage above the
handler's (the goal: within 10 % at the default scale).

Run: ``make bench`` or ``.venv/bin/python benchmarks/chain_overhead.py [--requests N] [--scale S]``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

import httpx

from keepalive_lab.lab.httpclient import KeepAliveClient
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.testbed import fine_switching
from keepalive_lab.lab.timescale import ARTICLE, DEFAULT_SCALE, TimeScale
from keepalive_lab.lbmodel.nodes import NodeConfig, make_node
from keepalive_lab.records import Recorder

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def _raw(port: int, n: int) -> list[float]:
    times = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(n):
            start = time.perf_counter()
            sock.sendall(REQUEST)
            data = b""
            while not data.endswith(b"ok\n"):
                data += sock.recv(4096)
            times.append(time.perf_counter() - start)
    return times


def _lab_client(url: str, n: int) -> list[float]:
    times = []
    with KeepAliveClient(10.0) as http:
        for _ in range(n):
            start = time.perf_counter()
            assert http.get(url) == 200
            times.append(time.perf_counter() - start)
    return times


def _httpx(url: str, n: int) -> list[float]:
    times = []
    with httpx.Client(trust_env=False, verify=False) as http:
        for _ in range(n):
            start = time.perf_counter()
            http.get(url).raise_for_status()
            times.append(time.perf_counter() - start)
    return times


def _summary(name: str, times: list[float], work: float) -> str:
    beyond = sorted((t - work) * 1000 for t in times[5:])  # the first few warm the connection up
    p50, p99 = statistics.median(beyond), beyond[int(0.99 * (len(beyond) - 1))]
    above = 100 * statistics.median(times[5:]) / work - 100
    return f"  {name:26s} beyond the handler: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms   median latency {above:+5.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE.factor)
    args = parser.parse_args()
    scale = TimeScale(args.scale)
    work = scale.lab(ARTICLE.handler_latency)
    config = ServerConfig(latency=work, read_timeout=60, write_timeout=60)
    print(f"handler work {work * 1000:.1f} ms (article {ARTICLE.handler_latency:g} s at x{scale.factor:g}), "
          f"{args.requests} serial requests on one kept-alive connection")  # fmt: skip
    with fine_switching(), start_server(config) as server:
        print(_summary("raw -> server", _raw(server.port, args.requests), work))
        print(_summary("httpx -> server", _httpx(f"http://127.0.0.1:{server.port}/", args.requests), work))
        print(_summary("lab client -> server", _lab_client(f"http://127.0.0.1:{server.port}/", args.requests), work))
        node = make_node("LB1", server.port, NodeConfig(timeout=60), log=Recorder(), upstream_log=Recorder()).start()
        try:
            print(_summary("httpx -> node -> server", _httpx(node.url, args.requests), work))
            print(_summary("lab client -> node -> server", _lab_client(node.url, args.requests), work))
        finally:
            node.stop()


if __name__ == "__main__":
    main()
