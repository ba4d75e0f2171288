"""How much time does the lab server add on top of its handler? Prints figures; asserts nothing.

Figures in the book should show the handler's latency and the timeouts, not
the server's own noise. This measures, on loopback with one serial client:

* the overhead per request on a kept-alive connection: client-observed
  latency minus the time the handler ran (p50, p99, max), for a handler that
  sleeps 5 ms;
* requests per second with keep-alive and without it (a new connection for
  every request), for a handler that returns at once.

Target: p99 overhead under 2 ms on a 2-core machine.
Run: ``make bench`` or ``.venv/bin/python benchmarks/server_overhead.py [--requests N]``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.goserver.net import listen
from keepalive_lab.goserver.netutil import LimitListener
from keepalive_lab.goserver.server import Server, serving
from keepalive_lab.records import Recorder

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
CLOSE_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def _read_response(sock: socket.socket) -> None:
    data = b""
    while not data.endswith(b"\r\n\r\nok\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("server closed mid-response")
        data += chunk


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def overhead(requests: int, latency: float) -> dict[str, float]:
    access: Recorder = Recorder()
    server = Server(ArticleHandler(latency=latency), read_timeout=30, access_log=access)
    listener = LimitListener(listen(), 1)
    client_latencies = []
    with serving(server, listener):
        with socket.create_connection(("127.0.0.1", listener.port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(requests):
                start = time.perf_counter()
                sock.sendall(REQUEST)
                _read_response(sock)
                client_latencies.append(time.perf_counter() - start)
        access.wait_for(lambda rs: len(rs) >= requests, 5.0)
    handler_times = [r.handler_end - r.handler_start for r in access.records()]
    extra = [(c - h) * 1000 for c, h in zip(client_latencies, handler_times)]
    return {
        "p50_ms": statistics.median(extra),
        "p99_ms": _percentile(extra, 0.99),
        "max_ms": max(extra),
        "client_p50_ms": statistics.median(client_latencies) * 1000,
    }


def throughput(requests: int, keep_alive: bool) -> float:
    server = Server(ArticleHandler(latency=0), read_timeout=30)
    listener = LimitListener(listen(), 1)
    with serving(server, listener):
        start = time.perf_counter()
        if keep_alive:
            with socket.create_connection(("127.0.0.1", listener.port)) as sock:
                for _ in range(requests):
                    sock.sendall(REQUEST)
                    _read_response(sock)
        else:
            for _ in range(requests):
                with socket.create_connection(("127.0.0.1", listener.port)) as sock:
                    sock.sendall(CLOSE_REQUEST)
                    _read_response(sock)
        elapsed = time.perf_counter() - start
    return requests / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    o = overhead(args.requests, latency=0.005)
    print(f"server overhead over a 5 ms handler, keep-alive, {args.requests} requests:")
    print(f"  p50 {o['p50_ms']:.3f} ms   p99 {o['p99_ms']:.3f} ms   max {o['max_ms']:.3f} ms"
          f"   (client p50 {o['client_p50_ms']:.3f} ms)   target p99 < 2 ms: {'met' if o['p99_ms'] < 2 else 'MISSED'}")
    ka = throughput(args.requests, keep_alive=True)
    nka = throughput(args.requests, keep_alive=False)
    print(f"requests per second, handler returns at once: keep-alive {ka:,.0f}/s,"
          f" a new connection per request {nka:,.0f}/s")


if __name__ == "__main__":
    main()
