"""A request as the handler sees it (Go's ``http.Request`` and its ``body``), and how reading one fails.

:class:`Request` carries the fields of Go's ``http.Request`` the server uses;
:class:`RequestBody` is read lazily from the connection, as Go's ``body`` is,
and knows Go's rules for a body left unread (``body.Close`` with
``doEarlyClose``, the 256 KiB ``maxPostHandlerReadBytes``). The exceptions
derived from :class:`RequestError` say how Go answers a failed read; the
reading itself is :mod:`keepalive_lab.goserver.reader`'s.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Protocol

from keepalive_lab.goserver.header import Header, contains_token, has_token
from keepalive_lab.goserver.net import NetError
from keepalive_lab.goserver.requesturi import RequestURI

__all__ = [
    "Request",
    "RequestBody",
    "BodySource",
    "RequestError",
    "ClientGone",
    "HeaderTooLarge",
    "BadRequest",
    "UnsupportedTransferEncoding",
    "BodyError",
    "should_close",
    "detached",
    "MAX_POST_HANDLER_READ_BYTES",
]

# server.go: maxPostHandlerReadBytes = 256 << 10
MAX_POST_HANDLER_READ_BYTES = 256 << 10


class BodySource(Protocol):
    """Where a body's bytes come from: the connection's reader."""

    def read_body(self, max_bytes: int) -> tuple[bytes, bool]:
        """Up to ``max_bytes`` of body, and whether its end came with them (Go's ``io.EOF`` returned
        together with ``n > 0``, as the chunked reader does when the last chunk is already buffered)."""
        ...


class RequestError(Exception):
    """Reading a request failed; the subclass says how Go answers."""


class ClientGone(RequestError):
    """A timeout, EOF or reset Go treats as a common read error: close without a reply."""


class HeaderTooLarge(RequestError):
    """The head did not fit in MaxHeaderBytes + 4096 bytes: ``431``."""


class UnsupportedTransferEncoding(RequestError):
    """A Transfer-Encoding other than chunked: ``501``."""


class BodyError(RequestError):
    """Reading the body failed (chunked framing, a trailer, an early EOF): Go's error text, no reply of its own."""


class BadRequest(RequestError):
    """A malformed request; ``status`` is 400 or 505, ``text`` is Go's statusError detail, if any."""

    def __init__(self, text: str = "", status: int = 400) -> None:
        super().__init__(text or "malformed request")
        self.status = status
        self.text = text


def should_close(major: int, minor: int, header: Header) -> bool:
    """transfer.go ``shouldClose`` for a request: Connection: close, or HTTP/1.0 without keep-alive.

    It looks at every Connection value, element by element (httpguts): ``Connection: foo close`` is
    one element, not ``close``.
    """
    if major < 1:
        return True
    conn = header.values("Connection")
    if (major, minor) == (1, 0):
        return contains_token(conn, "close") or not contains_token(conn, "keep-alive")
    return contains_token(conn, "close")


@dataclass
class Request:
    """A parsed request, with the fields of Go's ``http.Request`` the server uses."""

    method: str
    target: str
    proto_major: int
    proto_minor: int
    header: Header
    host: str
    content_length: int  # Go's ContentLength: -1 when unknown (chunked, or PRI)
    remote_addr: str
    body: "RequestBody" = field(repr=False)
    h2_upgrade: bool = False  # Go's isH2Upgrade: the "PRI * HTTP/2.0" preface with no header at all
    url: RequestURI | None = field(default=None, repr=False)  # Go's URL: the target parsed; None if built by hand

    @property
    def proto(self) -> str:
        return f"HTTP/{self.proto_major}.{self.proto_minor}"

    def proto_at_least(self, major: int, minor: int) -> bool:
        return (self.proto_major, self.proto_minor) >= (major, minor)

    @property
    def close(self) -> bool:
        """Go's ``Request.Close``: transfer.go ``shouldClose`` over every Connection value (httpguts'
        comma-separated elements), and always for an HTTP/2 preface (request.go ``readRequest``)."""
        return self.h2_upgrade or should_close(self.proto_major, self.proto_minor, self.header)

    # The three below use net/http's own hasToken on the first value, where a space is a boundary too.

    def wants_http10_keep_alive(self) -> bool:
        return (self.proto_major, self.proto_minor) == (1, 0) and has_token(self.header.get("Connection"), "keep-alive")

    def wants_close(self) -> bool:
        return self.close or has_token(self.header.get("Connection"), "close")

    def expects_continue(self) -> bool:
        return has_token(self.header.get("Expect"), "100-continue")


class RequestBody:
    """The request body, read lazily from the connection (Go's ``body``)."""

    def __init__(
        self, reader: BodySource, content_length: int, closing: bool = False, chunked: bool | None = None
    ) -> None:
        self._reader = reader
        self.content_length = content_length
        self.closing = closing  # Go's body.closing: the request's Close (transfer.go shouldClose)
        # Go's body.hdr != nil: a trailer follows. Without one, a length of -1 means chunked.
        self.chunked = content_length < 0 if chunked is None else chunked
        self.consumed = 0
        self.saw_eof = content_length == 0
        self.closed = False
        self.early_close = False
        # The failure, kept without its traceback: a traceback's frames hold this body, and the
        # cycle would keep the whole connection alive until the cyclic collector ran.
        self.read_error: Exception | None = None
        self.on_first_read = None  # set for Expect: 100-continue

    def read(self, max_bytes: int = 64 * 1024) -> bytes:
        """Up to ``max_bytes`` of body; ``b""`` once it is all read. Raises NetError/BadRequest.

        The handler's view: for ``Expect: 100-continue`` the first read sends
        ``100 Continue`` (Go's ``expectContinueReader``).
        """
        if self.on_first_read is not None and not self.saw_eof:
            callback, self.on_first_read = self.on_first_read, None
            callback()
        return self._read(max_bytes)

    def _read(self, max_bytes: int) -> bytes:
        # The server's own reads (discarding, closing) never send 100 Continue: Go reads
        # through the original body there, not the expectContinueReader.
        if self.saw_eof:
            return b""
        try:
            data, ended = self._reader.read_body(max_bytes)
        except (NetError, RequestError) as exc:
            self.read_error = detached(exc)
            raise
        self.consumed += len(data)
        if not data or ended or self._length_read():
            self.saw_eof = True
        return data

    def _length_read(self) -> bool:
        """The read that takes a declared length's last byte is the end: Go's ``body.readLocked``
        returns ``io.EOF`` with those bytes, and sets ``sawEOF``, once its ``io.LimitedReader`` is at 0.

        https://github.com/golang/go/blob/go1.23.4/src/net/http/transfer.go#L869-L879
        """
        return not self.chunked and 0 <= self.content_length <= self.consumed

    def unread_size(self) -> int:
        """Bytes left when the length is declared, else -1 (Go's ``unreadDataSizeLocked``)."""
        if self.content_length < 0:
            return -1
        return self.content_length - self.consumed

    def discard(self, limit: int) -> tuple[int, str]:
        """Read and drop up to ``limit`` bytes: ``(n, "eof" | "limit" | "error")`` (Go's ``io.CopyN``)."""
        n = 0
        while n < limit:
            try:
                chunk = self._read(min(64 * 1024, limit - n))
            except (NetError, RequestError):
                return n, "error"
            if not chunk:
                return n, "eof"
            n += len(chunk)
        return n, "limit"

    def close_early(self) -> None:
        """Go's ``body.Close`` with ``doEarlyClose``: read what is cheap, give up on the rest.

        A body without a trailer (Go's ``hdr == nil``: not chunked) whose
        request closes the connection anyway is not read at all:
        transfer.go ``body.Close``, "no trailer and closing the connection
        next. no point in reading to EOF". Reading it would hold the
        connection until the rest of the body or the read deadline arrives.
        """
        if self.closed:
            return
        self.closed = True
        if self.saw_eof or self.read_error is not None:
            return
        if self.closing and not self.chunked:
            return
        if self.unread_size() > MAX_POST_HANDLER_READ_BYTES:
            self.early_close = True
            return
        n, _ = self.discard(MAX_POST_HANDLER_READ_BYTES)
        if n == MAX_POST_HANDLER_READ_BYTES:
            self.early_close = True


def detached(exc: Exception) -> Exception:
    """A copy of ``exc`` without traceback, cause or context: keeping it keeps no frame alive."""
    clone = copy.copy(exc)
    clone.__traceback__ = clone.__cause__ = clone.__context__ = None
    return clone
