"""Generated hostile cases: valid requests with a byte flipped, inserted, deleted, a case changed, a CRLF bent.

Theory of operation
-------------------
Each operator takes a valid request (:data:`BASES`) and a ``random.Random``
and returns the request changed in one place. :func:`mutations` draws, from
a seeded generator, :data:`PER_OPERATOR` cases for each operator: a base, then
one change, or two or three changes of the same kind. The same seed gives the
same cases in the same order on any machine: each operator's generator is
seeded with a string (hashed with SHA-512, the same in every Python 3
release), and ``randrange``, ``choice`` and ``random`` draw the same numbers
from the same state in every release. A mutation that happens to give back a
valid request is kept: it is a case like any other.
"""

from __future__ import annotations

import random
from typing import Callable, Iterator

from keepalive_lab.fidelity.hostile.case import Case, single

__all__ = ["BASES", "OPERATORS", "MUTATION_CLASSES", "PER_OPERATOR", "mutations"]

PER_OPERATOR = 210

BASES: tuple[bytes, ...] = (
    b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n",
    b"GET /a/b?x=1&y=%41 HTTP/1.1\r\nHost: lab\r\nUser-Agent: hostile\r\nAccept: */*\r\n\r\n",
    b"POST /submit HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: lab\r\n\r\n",
    b"PUT /x HTTP/1.1\r\nHost: lab\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
    b"GET http://lab/x HTTP/1.1\r\nHost: lab\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: lab\r\n\r\nGET /2 HTTP/1.1\r\nHost: lab\r\n\r\n",
)

# Bytes an insertion draws from: the ones parsers trip on, and some plain ones.
_INSERTS = b"\r\n \t\x00\x01\x0b\x0c\x7f\x80\xff:;,\"'\\/%?#=-+0159aAzZ~"
_LINE_ENDS = (b"\n", b"\r", b"\r\r\n", b"\n\r", b"\r\n\r\n", b"", b" \r\n", b"\r \n", b"\r\n ", b"\r\n\t", b"\r\x00\n")


def _flip(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]


def _insert(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + bytes([rng.choice(_INSERTS)]) * rng.choice((1, 1, 1, 2, 3)) + data[i:]


def _delete(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.choice((1, 1, 1, 2, 3, 5)) :]


def _case(data: bytes, rng: random.Random) -> bytes:
    """Change the case of one run of letters: upper, lower or swapped."""
    runs, start = [], None
    for i, c in enumerate(data + b" "):
        letter = 65 <= c <= 90 or 97 <= c <= 122
        if letter and start is None:
            start = i
        elif not letter and start is not None:
            runs.append((start, i))
            start = None
    a, b = rng.choice(runs)
    word = data[a:b]
    changed = rng.choice((word.upper(), word.lower(), word.swapcase()))
    if changed == word:
        changed = word.swapcase()
    return data[:a] + changed + data[b:]


def _crlf(data: bytes, rng: random.Random) -> bytes:
    """Replace one CRLF with another line end (or none), or add a line end somewhere."""
    ends = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\r\n"]
    if ends and rng.random() < 0.8:
        i = rng.choice(ends)
        return data[:i] + rng.choice(_LINE_ENDS) + data[i + 2 :]
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice((b"\r\n", b"\n", b"\r")) + data[i:]


OPERATORS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "mutate-flip": _flip,
    "mutate-insert": _insert,
    "mutate-delete": _delete,
    "mutate-case": _case,
    "mutate-crlf": _crlf,
}

MUTATION_CLASSES = {
    "mutate-flip": "a valid request with one to three bits flipped (generated)",
    "mutate-insert": "a valid request with odd bytes inserted (generated)",
    "mutate-delete": "a valid request with bytes deleted (generated)",
    "mutate-case": "a valid request with the case of a word changed (generated)",
    "mutate-crlf": "a valid request with a line end replaced, removed or added (generated)",
}


def mutations(seed: int, per_operator: int = PER_OPERATOR) -> Iterator[Case]:
    """``per_operator`` cases per operator, from ``seed``; the same every run."""
    for name, operator in OPERATORS.items():
        rng = random.Random(f"{seed}:{name}")
        for i in range(per_operator):
            base = rng.randrange(len(BASES))
            data = BASES[base]
            times = rng.choice((1, 1, 1, 2, 3))
            for _ in range(times):
                data = operator(data, rng)
            yield single(name, f"base {base}, {times} change{'s' if times > 1 else ''} (#{i})", data)
