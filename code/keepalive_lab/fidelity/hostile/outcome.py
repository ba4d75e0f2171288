"""What a server did with a hostile case: the statuses it answered, and how the connection ended.

Theory of operation
-------------------
:class:`ResponseStream` reads the responses off a connection as they come,
with only what framing needs: the status line, ``Connection``,
``Transfer-Encoding`` and ``Content-Length``. A body is framed by its length,
by its chunks, or by the close (Go's error replies carry no length, and a
body even in answer to a ``HEAD``); the answer to a ``HEAD`` that states a
length or chunking, a ``1xx``, a ``204`` and a ``304`` have none. A ``1xx``
is recorded as a status but is not the final answer to a request. Bytes that
do not start a status line end the parsing: the stream records ``garbled``.
A head that the close cuts short is recorded as ``partial``.

An :class:`Outcome` is the case's result, compared between servers:

* ``statuses``: every status seen on the connection, in order (the probe's
  answer included, see :mod:`.runner`);
* ``end``: ``kept`` (the server answered a further request on the same
  connection), ``closed`` (the server ended it: a FIN and an RST are one
  outcome, since which of them the kernel sends depends on whether unread
  bytes were left, a matter of timing), ``open`` (nothing ended it within the
  client's patience), or ``client reset`` (the case itself reset the
  connection, so the server's end is not observable);
* ``served_after``: whether a normal request on a new connection got a 200
  afterwards, which behind ``LimitListener(l, 1)`` also says that the slot
  came back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

__all__ = ["Outcome", "ResponseStream", "KEPT", "CLOSED", "OPEN", "CLIENT_RESET", "PARTIAL", "GARBLED"]

KEPT, CLOSED, OPEN, CLIENT_RESET = "kept", "closed", "open", "client reset"
PARTIAL, GARBLED = "partial", "garbled"

_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})(?: [^\r\n]*)?")
_HEAD_MAX = 1 << 20  # a status line and headers longer than this are not a response from either server


@dataclass(frozen=True)
class Outcome:
    """A case's result on one server."""

    statuses: tuple = ()
    end: str = OPEN
    served_after: bool = True

    def as_json(self) -> dict:
        return {"statuses": list(self.statuses), "end": self.end, "served_after": self.served_after}

    @classmethod
    def from_json(cls, data: dict) -> "Outcome":
        return cls(tuple(data["statuses"]), data["end"], data["served_after"])

    def short(self) -> str:
        """``"400 closed"``, ``"200 200 kept"``, ``"- closed, not served after"``."""
        codes = " ".join(str(s) for s in self.statuses) or "-"
        return f"{codes} {self.end}" + ("" if self.served_after else ", not served after")


@dataclass
class _Response:
    status: int
    closing: bool
    framing: str  # "none", "length", "chunked", "close"
    left: int = 0  # length framing: body bytes still to come
    empty: bool = False  # a 200 that says Content-Length: 0 (the server's own answer to OPTIONS *)


@dataclass
class ResponseStream:
    """Responses parsed incrementally from the bytes a connection delivers."""

    methods: Sequence[str] = ("GET",)
    statuses: list = field(default_factory=list)
    finals: int = 0  # final (non-1xx) responses completed
    last_closing: bool = False  # the last final response said Connection: close, or was framed by the close
    last_empty: bool = False  # the last final response was a 200 with Content-Length: 0
    garbled: bool = False
    _buf: bytearray = field(default_factory=bytearray)
    _current: _Response | None = None

    @property
    def busy(self) -> bool:
        """A response has begun and is not complete (or bytes wait that do not make a head yet)."""
        return not self.garbled and (self._current is not None or bool(self._buf))

    def feed(self, data: bytes) -> None:
        if self.garbled:
            return
        self._buf += data
        while not self.garbled and self._step():
            pass

    def eof(self) -> None:
        """The connection ended: a body framed by the close is complete, a cut head is ``partial``."""
        if self.garbled:
            return
        if self._current is not None and self._current.framing == "close":
            self._finish(self._current)
        elif self._current is not None or self._buf:
            self.statuses.append(PARTIAL)
        self._current = None
        self._buf.clear()

    # -- parsing ----------------------------------------------------------------

    def _step(self) -> bool:
        """Parse one piece (a head, or some body); False when more bytes are needed."""
        if self._current is None:
            return self._head()
        return self._body(self._current)

    def _head(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _HEAD_MAX or (self._buf and not b"HTTP/".startswith(bytes(self._buf[:5]))):
                self._garble()
            return False
        lines = bytes(self._buf[:end]).split(b"\r\n")
        del self._buf[: end + 4]
        match = _STATUS_LINE.fullmatch(lines[0])
        if match is None:
            self._garble()
            return False
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields.setdefault(name.strip().lower(), []).append(value.strip().lower())
        status = int(match[1])
        self.statuses.append(status)
        if 100 <= status < 200 and status != 101:
            return True  # interim: the final response follows
        try:
            self._current = self._framed(status, fields)
        except ValueError:  # a Content-Length that is not a number
            self._garble()
            return False
        return True

    def _framed(self, status: int, fields: dict) -> _Response:
        tokens = [t.strip() for v in fields.get(b"connection", []) for t in v.split(b",")]
        closing = b"close" in tokens
        method = self.methods[self.finals] if self.finals < len(self.methods) else "GET"
        chunked = any(b"chunked" in v for v in fields.get(b"transfer-encoding", []))
        length = fields.get(b"content-length")
        if status in (204, 304) or (method == "HEAD" and (chunked or length)):
            return _Response(status, closing, "none")
        if chunked:
            return _Response(status, closing, "chunked")
        if length:
            size = int(length[0] or b"0")
            return _Response(status, closing, "length", size, empty=status == 200 and size == 0)
        # Framed by the close: also Go's own error replies, which carry a body even for a HEAD.
        return _Response(status, True, "close")

    def _body(self, r: _Response) -> bool:
        if r.framing == "none":
            self._finish(r)
            return True
        if r.framing == "length":
            take = min(r.left, len(self._buf))
            del self._buf[:take]
            r.left -= take
            if r.left == 0:
                self._finish(r)
                return True
            return False
        if r.framing == "chunked":
            return self._chunk(r)
        self._buf.clear()  # framed by the close: everything until then is body
        return False

    def _chunk(self, r: _Response) -> bool:
        line_end = self._buf.find(b"\r\n")
        if line_end < 0:
            return False
        try:
            size = int(bytes(self._buf[:line_end]).split(b";")[0] or b"0", 16)
        except ValueError:
            self._garble()
            return False
        if size == 0:  # the last chunk, then (no) trailers and the blank line
            end = self._buf.find(b"\r\n\r\n", line_end)
            if end < 0:
                return False
            del self._buf[: end + 4]
            self._finish(r)
            return True
        if len(self._buf) < line_end + 2 + size + 2:
            return False
        del self._buf[: line_end + 2 + size + 2]
        return True

    def _finish(self, r: _Response) -> None:
        self.finals += 1
        self.last_closing = r.closing
        self.last_empty = r.empty
        self._current = None

    def _garble(self) -> None:
        self.statuses.append(GARBLED)
        self.garbled = True
        self._current = None
        self._buf.clear()
