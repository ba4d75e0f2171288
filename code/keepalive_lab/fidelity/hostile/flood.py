"""Endless input: one framing line that never ends, sent until the server hangs up, and its memory cost.

Theory of operation
-------------------
:func:`flood` connects to 127.0.0.1, sends a prefix (a request head, and
maybe the start of a chunked body) and then the same filler byte, a megabyte
per write, until the server closes or resets the connection, a write stalls
for ``stall`` seconds (the server stopped reading without buffering more),
``limit`` bytes are out, or ``seconds`` have passed. Every wait is bounded.

:func:`memory_of` reads a process's resident set (``VmRSS``) and its peak
(``VmHWM``) from ``/proc/PID/status``: Go's ``maxLineLength`` of 4096 bytes
for chunk-size and trailer lines, and ``MaxHeaderBytes`` for a head, mean that
a Go server's peak does not follow the length of such a line.

:data:`ENDLESS` holds the prefixes of the four floods: a trailer line, a
chunk-size line, a chunk extension, and a head.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Flooded", "Memory", "flood", "memory_of", "ENDLESS", "MIB"]

MIB = 1 << 20
_CHUNKED = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

# name -> (prefix, filler byte): the prefix opens a line that the filler never ends.
ENDLESS: dict[str, tuple[bytes, bytes]] = {
    "trailer line": (_CHUNKED + b"5\r\nhello\r\n0\r\nX-T: ", b"a"),
    "chunk-size line": (_CHUNKED + b"5\r\nhello\r\n", b"0"),
    "chunk extension": (_CHUNKED + b"5;", b"e"),
    "head": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ", b"p"),
}


@dataclass(frozen=True)
class Flooded:
    """How much went out, in how long, and why the client stopped."""

    sent: int
    seconds: float
    stopped: str  # "closed by the server", "limit reached", "time limit", "server stopped reading"


@dataclass(frozen=True)
class Memory:
    rss: int  # bytes
    peak: int  # VmHWM, bytes


def memory_of(pid: int) -> Memory:
    """``VmRSS`` and ``VmHWM`` of a process, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return Memory(fields["VmRSS"], fields["VmHWM"])


def flood(port: int, prefix: bytes, filler: bytes, limit: int = 160 * MIB, seconds: float = 60.0,
          stall: float = 5.0) -> Flooded:  # fmt: skip
    """Send ``prefix``, then ``filler`` until the server hangs up or a bound is reached."""
    block = memoryview(filler * MIB)
    start = time.monotonic()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=stall) as sock:
        try:
            sock.sendall(prefix)
            while True:
                if sent >= limit:
                    return Flooded(sent, time.monotonic() - start, "limit reached")
                if time.monotonic() - start > seconds:
                    return Flooded(sent, time.monotonic() - start, "time limit")
                sock.sendall(block[: min(len(block), limit - sent)])
                sent += min(len(block), limit - sent)
        except TimeoutError:
            return Flooded(sent, time.monotonic() - start, "server stopped reading")
        except OSError:  # EPIPE, ECONNRESET
            return Flooded(sent, time.monotonic() - start, "closed by the server")
