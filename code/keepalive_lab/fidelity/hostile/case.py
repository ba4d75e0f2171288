"""A hostile case: what one raw client does on one connection, and its stable id.

Theory of operation
-------------------
A :class:`Case` is a class name, a line saying what it tries, and a list of
:class:`Step` s the client performs in order on one connection: send bytes,
pause, shut down its writing half, reset (an RST from ``SO_LINGER`` 0), or
await one response before going on. Its id is the class name and the first
ten hex digits of a SHA-256 over everything the client does (the steps, and
how it reads the responses), never over the prose: the same case has the same
id on every run and every machine, and a changed case gets a new id, which the
recording then lacks.

``methods`` tells the reader how to frame the responses: the answer to a
``HEAD`` has no body. Responses beyond the tuple are read as ``GET`` ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

__all__ = ["Step", "Case", "SEND", "PAUSE", "SHUT_WR", "RESET", "AWAIT", "raw", "single", "first_method"]

SEND, PAUSE, SHUT_WR, RESET, AWAIT = "send", "pause", "shut_wr", "reset", "await"
_REPR_MAX = 160


@dataclass(frozen=True)
class Step:
    """One thing the client does: ``send`` ``data``, ``pause`` ``seconds``, ``shut_wr``, ``reset``, ``await``."""

    kind: str
    data: bytes = b""
    seconds: float = 0.0

    def digest_input(self) -> bytes:
        return b"%s|%r|%d|" % (self.kind.encode(), self.seconds, len(self.data)) + self.data


@dataclass(frozen=True)
class Case:
    """One connection's worth of hostile input."""

    klass: str
    what: str
    steps: tuple[Step, ...]
    methods: tuple[str, ...] = ("GET",)

    @property
    def id(self) -> str:
        h = hashlib.sha256(self.klass.encode() + b"|" + ",".join(self.methods).encode())
        for step in self.steps:
            h.update(step.digest_input())
        return f"{self.klass}-{h.hexdigest()[:10]}"

    @property
    def sent(self) -> bytes:
        """Every byte the client sends, steps joined."""
        return b"".join(s.data for s in self.steps if s.kind == SEND)

    @property
    def resets(self) -> bool:
        return any(s.kind == RESET for s in self.steps)

    @property
    def half_closes(self) -> bool:
        return any(s.kind == SHUT_WR for s in self.steps)

    def bytes_repr(self, limit: int = _REPR_MAX) -> str:
        """What the client does, in order: each write as a Python literal (a long one cut), pauses, the rest."""
        parts = []
        for step in self.steps:
            if step.kind == SEND:
                text = repr(step.data)
                cut = max(24, limit // max(1, sum(s.kind == SEND for s in self.steps)))
                parts.append(f"{text[:cut]}... ({len(step.data)} bytes)" if len(text) > cut else text)
            else:
                parts.append(f"pause {step.seconds:g} s" if step.kind == PAUSE else step.kind)
        text = " | ".join(parts)
        return text if len(text) <= 2 * limit else f"{text[: 2 * limit]}... ({len(self.steps)} steps)"


def first_method(data: bytes) -> str:
    """The method a response to ``data`` answers, for framing it: ``HEAD`` or anything else."""
    return "HEAD" if data.lstrip(b"\r\n").startswith(b"HEAD ") else "GET"


def single(klass: str, what: str, data: bytes, *more: Step, methods: Iterable[str] | None = None) -> Case:
    """A case that sends ``data`` in one write (then ``more`` steps)."""
    chosen = tuple(methods) if methods is not None else (first_method(data),)
    return Case(klass, what, (Step(SEND, data), *more), chosen)


def raw(method: str | bytes = "GET", target: str | bytes = "/", version: str | bytes = "HTTP/1.1",
        headers: Iterable[tuple[str | bytes, str | bytes]] = (("Host", "lab"),), body: bytes = b"",
        sep: bytes = b" ", eol: bytes = b"\r\n") -> bytes:  # fmt: skip
    """Request bytes from parts; a ``str`` part is Latin-1 (any byte can be written), or UTF-8 beyond it."""
    def b(part: str | bytes) -> bytes:
        if isinstance(part, bytes):
            return part
        return part.encode("latin-1") if max(map(ord, part), default=0) < 256 else part.encode("utf-8")

    line = b(method) + sep + b(target) + (sep + b(version) if version not in ("", b"") else b"") + eol
    fields = b"".join(b(k) + b": " + b(v) + eol for k, v in headers)
    return line + fields + eol + body
