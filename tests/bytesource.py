"""Bytes for a ``BufferedReader`` without a socket: what a ``ConnReader`` would hand it, piece by piece."""

from __future__ import annotations

from itertools import repeat
from typing import Iterable, Iterator

from keepalive_lab.goserver.bufio import BufferedReader

__all__ = ["BytesSource", "buffered", "endless"]


class BytesSource:
    """Stands in for a ``ConnReader``: each ``read(n)`` returns at most ``n`` bytes of the next piece.

    After the pieces: ``b""`` (EOF), or ``then`` raised. ``served`` counts the
    bytes handed out, ``reads`` the calls: a reader's memory and its reads.
    """

    def __init__(self, pieces: Iterable[bytes], then: Exception | None = None) -> None:
        self._pieces: Iterator[bytes] = iter(pieces)
        self._piece = b""
        self.then = then
        self.served = 0
        self.reads = 0

    def read(self, max_bytes: int) -> bytes:
        self.reads += 1
        if not self._piece:
            self._piece = next(self._pieces, b"")
        if not self._piece:
            if self.then is not None:
                raise self.then
            return b""
        data, self._piece = self._piece[:max_bytes], self._piece[max_bytes:]
        self.served += len(data)
        return data


def buffered(data: bytes, piece: int = 1 << 20, then: Exception | None = None) -> tuple[BufferedReader, BytesSource]:
    """A BufferedReader over ``data`` delivered ``piece`` bytes at a time, and its source."""
    source = BytesSource((data[i : i + piece] for i in range(0, len(data), piece)), then)
    return BufferedReader(source), source  # type: ignore[arg-type]


def endless(prefix: bytes, filler: bytes) -> BytesSource:
    """``prefix``, then ``filler`` for ever: a peer that never stops sending."""
    return BytesSource(_chain(prefix, filler))


def _chain(prefix: bytes, filler: bytes) -> Iterator[bytes]:
    yield prefix
    yield from repeat(filler * 1024)
