"""CPU cost of reading huge request heads: CPU seconds per MiB of head, by line count. Prints; asserts nothing.

A client may send a head of up to ``MaxHeaderBytes`` (1 MiB by default) +
4096 bytes before Go answers ``431``, and it may cut it into as many tiny lines
as it likes: ``a:`` CRLF is 4 bytes, so a mebibyte holds a quarter of a
million field lines. Go 1.23.4 reads such a head in 0.01-0.1 s of CPU. This
measures ours for several shapes and line counts:

* **reader**: the CPU time of the thread that runs ``RequestReader.read_request``
  alone (``time.thread_time``), the head fed over a socketpair by another
  thread;
* **server**: the CPU time of the whole process (``time.process_time``) for one
  request through a lab server on 127.0.0.1:0, from the first byte sent to the
  response (the client's share is a ``sendall`` and a ``recv``).

* **go** (with ``--go``): the CPU time of the Go reference program
  (``tools/go_reference.sh`` builds it) for one request with the same head,
  read from ``/proc/<pid>/stat``: the kernel counts in ticks of 10 ms, so each
  figure is the mean of ``--repeat`` x 10 requests.

The "answer" column is the server's status code: a name with a space before
its colon is read to the end of the head, then refused (``400``), as in Go.

Each of ours is the best of ``--repeat`` runs. Target: at most 0.2 s of CPU per
MiB, and a cost per line that does not grow with the number of lines (the
"us/line" column stays flat). The last row of each shape fills the head up to
Go's limit.

Run: ``.venv/bin/python benchmarks/huge_heads.py [--repeat N] [--go _build/go-reference/keepalive-go]``.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import threading
import time
from typing import Callable

from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.goserver.net import Conn, listen
from keepalive_lab.goserver.reader import RequestReader
from keepalive_lab.goserver.request import RequestError
from keepalive_lab.goserver.server import Server, serving

MIB = 1 << 20
MAX_HEADER_BYTES = MIB  # Go's DefaultMaxHeaderBytes
LARGEST_HEAD = MAX_HEADER_BYTES + 4096  # one byte more is a 431
REQUEST_LINE = b"GET / HTTP/1.1\r\nHost: bench\r\n"


def _shapes() -> dict[str, Callable[[int], bytes]]:
    """Head shapes by name: each makes the field lines of a head with ``n`` lines."""
    return {
        "a:": lambda n: b"a:\r\n" * n,  # the smallest field line there is
        "X: y": lambda n: b"X: y\r\n" * n,
        "distinct names": lambda n: b"".join(b"k%d: v\r\n" % i for i in range(n)),  # no name repeats
        "folded": lambda n: b"X: y\r\n" + b" z\r\n" * (n - 1),  # obs-fold: one field, n lines
        "field, fold": lambda n: b"a:\r\n b\r\n" * (n // 2),  # every other line folded
        "a :": lambda n: b"a :\r\n" * n,  # a space before the colon: read to the end, then a 400
    }


def _head(lines: bytes) -> bytes:
    return REQUEST_LINE + lines + b"\r\n"


def reader_cpu(head: bytes) -> float:
    """CPU seconds of the thread that reads ``head`` with a RequestReader."""
    ours, theirs = socket.socketpair()
    conn = Conn(ours, "127.0.0.1:2", "127.0.0.1:1")
    conn.set_read_deadline(time.monotonic() + 60)
    sender = threading.Thread(target=theirs.sendall, args=(head,), name="bench-sender")
    sender.start()
    try:
        start = time.thread_time()
        try:
            RequestReader(conn, MAX_HEADER_BYTES).read_request()
        except RequestError:
            pass  # refused once read: the reading is what is measured
        return time.thread_time() - start
    finally:
        sender.join(60)
        conn.close()
        theirs.close()


def _read_answer(sock: socket.socket) -> bytes:
    """Everything up to the handler's body (``ok``), or to the server's close."""
    response = b""
    while not response.endswith(b"ok\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        response += chunk
    return response


def server_cpu(head: bytes) -> tuple[float, str]:
    """CPU seconds of this whole process for one request with ``head`` through a lab server, and its status."""
    server = Server(ArticleHandler(latency=0), read_timeout=60, max_header_bytes=MAX_HEADER_BYTES)
    listener = listen()
    with serving(server, listener):
        with socket.create_connection(("127.0.0.1", listener.port), timeout=60) as sock:
            start = time.process_time()
            sock.sendall(head)
            response = _read_answer(sock)
            cpu = time.process_time() - start
    return cpu, response[9:12].decode("ascii", "replace")


class GoReference:
    """The Go reference program serving on 127.0.0.1:0, and the CPU it has used so far."""

    def __init__(self, binary: str) -> None:
        flags = ["--latency", "0", "--limit", "0", "--read-timeout", "60s"]
        self.process = subprocess.Popen([binary, *flags], stdout=subprocess.PIPE, text=True)
        first = self.process.stdout.readline() if self.process.stdout else ""
        found = re.search(r":(\d+)\s*$", first)
        if found is None:
            self.process.kill()
            raise RuntimeError(f"the Go reference did not say where it listens: {first!r}")
        self.port = int(found[1])
        self.tick = os.sysconf("SC_CLK_TCK")

    def cpu(self) -> float:
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime

    def request_cpu(self, head: bytes, requests: int) -> float:
        """Mean CPU seconds per request for ``requests`` requests with ``head``."""
        before = self.cpu()
        for _ in range(requests):
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
                sock.sendall(head)
                _read_answer(sock)
        return (self.cpu() - before) / requests

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
        if self.process.stdout:
            self.process.stdout.close()


def _fills(make: Callable[[int], bytes]) -> int:
    """The number of lines of this shape that fills a head up to Go's limit."""
    per_line = len(make(1000)) / 1000
    n = int((LARGEST_HEAD - len(_head(b""))) / per_line)
    while len(_head(make(n))) > LARGEST_HEAD:
        n -= max(1, n // 1000)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is kept (default 3)")
    parser.add_argument("--go", metavar="BINARY", help="also measure the Go reference program at BINARY")
    args = parser.parse_args()
    go = GoReference(args.go) if args.go else None
    print(f"{'shape':<16}{'lines':>9}{'head KiB':>10}{'reader s':>10}{'s/MiB':>8}{'us/line':>9}"
          f"{'server s':>10}{'s/MiB':>8}{'answer':>8}" + (f"{'go s':>8}{'s/MiB':>8}" if go else ""))  # fmt: skip
    try:
        for name, make in _shapes().items():
            full = _fills(make)
            for n in sorted({n for n in (10_000, 50_000, 100_000, 170_000, 250_000) if n < full} | {full}):
                head = _head(make(n))
                reader = min(reader_cpu(head) for _ in range(args.repeat))
                whole, answer = min(server_cpu(head) for _ in range(args.repeat))
                mib = len(head) / MIB
                row = (f"{name:<16}{n:>9}{len(head) / 1024:>10.0f}{reader:>10.3f}{reader / mib:>8.3f}"
                       f"{reader / n * 1e6:>9.2f}{whole:>10.3f}{whole / mib:>8.3f}{answer:>8}")  # fmt: skip
                if go:
                    go_cpu = go.request_cpu(head, 10 * args.repeat)
                    row += f"{go_cpu:>8.3f}{go_cpu / mib:>8.3f}"
                print(row, flush=True)
    finally:
        if go:
            go.close()


if __name__ == "__main__":
    main()
