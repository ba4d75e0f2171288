"""A chunked request body, decoded as Go decodes it, with its bounded lines and its trailer.

Theory of operation
-------------------
A chunked body (RFC 9112 section 7.1) is a series of ``size [; extension]``
lines, each followed by that many bytes and CRLF, up to a size of 0, then a
trailer section and a blank line. Go's reader (internal/chunked.go) is
lenient in some places and strict in others, and bounded everywhere:

* **Size lines** are read up to LF, so a bare LF ends them; trailing spaces,
  tabs, CRs and LFs are trimmed; an extension after ``;`` is dropped unread. A
  line must be shorter than 4096 bytes and fit in the connection's 4 KiB
  buffer (``maxLineLength``, ``ErrLineTooLong``): a size line that never ends
  costs 4 KiB of memory, not more.
* **Sizes** are 1 to 16 hex digits: a 17th digit is "too large", even a
  leading zero; nothing else is allowed, not even a leading space.
* **After each chunk's data** come exactly CR and LF; a bare LF is
  "malformed chunked encoding".
* **Overhead** is metered: size lines beyond 16 bytes plus twice their chunk's
  data pile up, and past 16 KiB the body is refused ("too much non-data").
* **The trailer** is read when the last chunk is (transfer.go
  ``body.readTrailer``): a CRLF right away ends the body; otherwise a blank
  line (CRLF CRLF) must come within the 4 KiB buffer
  (``seeUpcomingDoubleCRLF``), and the fields are read as a head's are
  (:mod:`keepalive_lab.goserver.textproto`). A trailer that never ends fails
  once the buffer is full ("suspiciously long trailer"); one cut short by EOF
  or the read deadline fails as "unexpected EOF reading trailer".

A failure is final: every later read fails the same way, as Go's
``chunkedReader.err`` and ``body.closed`` make it. The server then answers the
request, if it can, and closes the connection.

https://github.com/golang/go/blob/go1.23.4/src/net/http/internal/chunked.go (``chunkedReader.Read``,
``beginChunk``, ``readChunkLine``, ``removeChunkExtension``, ``parseHexUint``) and
https://github.com/golang/go/blob/go1.23.4/src/net/http/transfer.go (``body.readTrailer``,
``seeUpcomingDoubleCRLF``)
"""

from __future__ import annotations

from keepalive_lab.goserver.bufio import EOF, BufferedReader
from keepalive_lab.goserver.header import Header
from keepalive_lab.goserver.net import NetError
from keepalive_lab.goserver.request import BodyError
from keepalive_lab.goserver.textproto import ProtocolError, read_mime_header

__all__ = ["ChunkedBody", "MAX_LINE_LENGTH", "parse_hex_uint"]

MAX_LINE_LENGTH = 4096  # internal/chunked.go maxLineLength, the buffer's size
MAX_HEX_DIGITS = 16  # parseHexUint: a 64-bit size
MAX_EXCESS = 16 * 1024  # bytes of overhead tolerated beyond 16 a chunk plus twice the data
_HEX_VALUES = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}


class _LastChunk(Exception):
    """The chunk of size 0 was read (Go's io.EOF from the chunked reader)."""


class ChunkedBody:
    """Go's ``chunkedReader`` and the trailer reading of its ``body``, over the connection's buffer."""

    def __init__(self, src: BufferedReader) -> None:
        self.src = src
        self.left = 0  # unread bytes of the current chunk
        self.check_end = False  # the current chunk's data is read: CRLF comes next
        self.excess = 0
        self.done = False  # the last chunk and the trailer are read
        # A failure is kept as its class and text, never as the exception raised: a raised
        # exception's traceback holds this reader's frames, and so this reader.
        self.failure: tuple[type[Exception], str] | None = None
        self.trailer = Header()  # Go merges it into Request.Trailer; nothing here reads it

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of chunk data; ``b""`` once the body and its trailer are read.

        Raises :class:`BodyError` or a NetError. Data read before a failure is
        returned first; the failure comes with the next read. When the last
        chunk's size line is already buffered, it and the trailer are read with
        the data, and ``done`` is true on return: Go's reader returns ``io.EOF``
        with the last bytes then, and the body counts as read to its end.
        """
        data = bytearray()
        try:
            self._read_into(data, max_bytes)
        except _LastChunk:
            self._read_trailer()
        except (EOF, NetError, BodyError) as exc:
            self._fail(exc)
        if data:
            return bytes(data)
        if self.failure is not None:
            cls, text = self.failure
            raise cls(text)
        return b""

    def _read_into(self, data: bytearray, max_bytes: int) -> None:
        """``chunkedReader.Read``: stop early rather than wait for a chunk header once there is data."""
        while self.failure is None and not self.done:
            if self.check_end:
                if data and self.src.buffered() < 2:
                    return
                if self.src.read_full(2) != b"\r\n":
                    raise BodyError("malformed chunked encoding")
                self.check_end = False
            if self.left == 0:
                if data and self.src.buf.find(b"\n", self.src.r) < 0:
                    return  # the next size line is not here yet: do not wait for it
                self._begin_chunk()
                continue
            if len(data) >= max_bytes:
                return
            piece = self.src.read(min(max_bytes - len(data), self.left))
            data += piece
            self.left -= len(piece)
            self.check_end = self.left == 0

    def _begin_chunk(self) -> None:
        line = self._read_chunk_line()
        self.excess += len(line) + 2  # the size line, and the CRLF after the data
        size = parse_hex_uint(line.rstrip(b" \t\r\n").partition(b";")[0])
        # Go meters in int64, which wraps: a size of 2^63 or more counts as negative data, and can
        # push the meter over its limit at once (ffffffffffffe000 does).
        self.excess = max(_int64(self.excess - _int64(16 + _int64(2 * _int64(size)))), 0)
        self.left = size
        if size == 0:
            raise _LastChunk()  # Go's io.EOF wins over the overhead check below
        if self.excess > MAX_EXCESS:
            raise BodyError("chunked encoding contains too much non-data")

    def _read_chunk_line(self) -> bytes:
        """``readChunkLine``: up to and with LF, shorter than 4096 bytes, within one buffer."""
        src, scanned = self.src, 0
        while (lf := src.buf.find(b"\n", src.r + scanned)) < 0:
            if src.buffered() >= src.size:
                raise BodyError("header line too long")
            scanned = src.buffered()
            try:
                src.fill()
            except EOF:
                raise BodyError("unexpected EOF") from None
        line = bytes(src.buf[src.r : lf + 1])
        src.r = lf + 1
        if len(line) >= MAX_LINE_LENGTH:
            raise BodyError("header line too long")
        return line

    def _read_trailer(self) -> None:
        """``body.readTrailer``, run when the last chunk has been read."""
        src = self.src
        start = src.peek(2)
        if start == b"\r\n":
            src.discard(2)
            self.done = True
            return
        if len(start) < 2:
            self._fail(BodyError("http: unexpected EOF reading trailer"))
            return
        if not self._see_upcoming_double_crlf():
            self._fail(BodyError("http: suspiciously long trailer after chunked body"))
            return
        try:
            self.trailer = read_mime_header(src)
        except EOF:
            self._fail(BodyError("http: unexpected EOF reading trailer"))
        except (ProtocolError, NetError) as exc:
            self._fail(exc)
        else:
            self.done = True

    def _see_upcoming_double_crlf(self) -> bool:
        """Whether a blank line (CRLF CRLF) ends within the buffer's first 4 KiB, reading on as needed."""
        src = self.src
        while src.buf.find(b"\r\n\r\n", src.r, src.r + src.size) < 0:
            if src.buffered() >= src.size:
                return False
            try:
                src.fill()
            except (EOF, NetError):
                return False
        return True

    def _fail(self, exc: Exception) -> None:
        if self.failure is None:
            if isinstance(exc, EOF):
                exc = BodyError("unexpected EOF")  # io.ErrUnexpectedEOF, in the middle of a body
            elif not isinstance(exc, (BodyError, NetError)):
                exc = BodyError(str(exc))
            self.failure = (type(exc), str(exc))


def _int64(value: int) -> int:
    """``value`` as Go's int64 arithmetic leaves it: wrapped around at 64 bits."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


def parse_hex_uint(digits: bytes) -> int:
    """``parseHexUint``: 1 to 16 hex digits; raises BodyError with Go's text."""
    if not digits:
        raise BodyError("empty hex number for chunk length")
    size = 0
    for i, c in enumerate(digits):
        value = _HEX_VALUES.get(c)
        if value is None:
            raise BodyError("invalid byte in chunk length")
        if i == MAX_HEX_DIGITS:
            raise BodyError("http chunk length too large")
        size = size << 4 | value
    return size
