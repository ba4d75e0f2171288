"""Where a request body ends: Go's transfer.go rules, and the readers for bodies that are not chunked.

Theory of operation
-------------------
Once a head is in, Go decides how its body is framed (transfer.go
``readTransfer``), strictly, because this is where request smuggling lives:

* **Transfer-Encoding** (``parseTransferEncoding``). Ignored altogether on an
  HTTP/1.0 request (golang/go#12785), and removed from the header either way.
  Otherwise exactly one field whose value is ``chunked`` (any case); anything
  else is a ``501``.
* **Content-Length** (``fixLength``, ``parseContentLength``). Several fields
  must agree once trimmed, and become one. The value is decimal digits only,
  below 2^63 (``strconv.ParseUint(cl, 10, 63)``): no sign, no list
  (``5, 5``), no space inside. A bad one is a ``400`` even next to
  ``chunked``, which otherwise wins and removes it.
* **Trailer** (``fixTrailer``): with chunked framing, declaring
  Transfer-Encoding, Trailer or Content-Length as a trailer is a ``400``.
* No length at all: a request has no body.

An empty ``Content-Length`` is a ``400`` too. (Go 1.21 and older read it as
"no length", which GODEBUG ``httplaxcontentlength=1`` brings back; the reference
program pins Go 1.23's defaults with ``//go:debug default=go1.23``, and so does
:data:`LAX_EMPTY_CONTENT_LENGTH`.)

The chunked body's reader is :mod:`keepalive_lab.goserver.chunked`'s.

https://github.com/golang/go/blob/go1.23.4/src/net/http/transfer.go (``readTransfer``,
``parseTransferEncoding``, ``fixLength``, ``parseContentLength``, ``fixTrailer``, ``body.readLocked``)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from keepalive_lab.goserver.bufio import EOF, BufferedReader
from keepalive_lab.goserver.header import Header
from keepalive_lab.goserver.request import BadRequest, BodyError, UnsupportedTransferEncoding

__all__ = ["Framing", "request_framing", "parse_content_length", "BodyReader", "NoBody", "LengthBody",
           "UntilCloseBody", "LAX_EMPTY_CONTENT_LENGTH"]  # fmt: skip

LAX_EMPTY_CONTENT_LENGTH = False  # GODEBUG httplaxcontentlength: 0 since Go 1.22 (see above)
MAX_CONTENT_LENGTH = (1 << 63) - 1  # ParseUint(cl, 10, 63)
_MAX_DIGITS = len(str(MAX_CONTENT_LENGTH))
_DIGITS = re.compile(r"[0-9]+")
# fixTrailer refuses these as trailer names, once canonical: an element of a comma-separated list.
_FORBIDDEN_TRAILER = re.compile(r"(?:^|,)[ \t\r\n]*(?:transfer-encoding|trailer|content-length)[ \t\r\n]*(?:,|\Z)",
                                re.IGNORECASE | re.ASCII)  # fmt: skip
_TRIM = " \t\r\n"  # textproto.TrimString: ASCII space, tab, CR, LF


@dataclass(frozen=True)
class Framing:
    """How the body of one request is delimited."""

    content_length: int  # Go's Request.ContentLength: -1 when not known in advance
    chunked: bool = False
    until_close: bool = False  # no length, on a connection that closes after: the body is the rest of it


def request_framing(header: Header, http11: bool, closing: bool) -> Framing:
    """Go's ``readTransfer`` for a request: decide the framing; edit ``header`` as Go edits it.

    ``http11``: the request is HTTP/1.1 or later; ``closing``: its ``Close``.
    Raises :class:`UnsupportedTransferEncoding` (501) or :class:`BadRequest` (400).
    """
    chunked = _parse_transfer_encoding(header, http11)
    length = _fix_length(header, chunked)
    _fix_trailer(header, chunked)
    if chunked:
        return Framing(-1, chunked=True)
    # A length of -1 comes only from an empty Content-Length (the lax rule): the body then runs to
    # the connection's end if it closes anyway, and is empty if it does not.
    return Framing(length, until_close=length < 0 and closing)


def _parse_transfer_encoding(header: Header, http11: bool) -> bool:
    if not header.has("Transfer-Encoding"):
        return False
    codings = header.values("Transfer-Encoding")
    header.delete("Transfer-Encoding")
    if not http11:
        return False  # golang/go#12785: HTTP/1.0 had no Transfer-Encoding
    if len(codings) != 1 or codings[0].lower() != "chunked" or not codings[0].isascii():
        raise UnsupportedTransferEncoding()
    return True


def _fix_length(header: Header, chunked: bool) -> int:
    lengths = header.values("Content-Length")
    if len(lengths) > 1:
        # golang/go#16490: several Content-Length fields must agree; duplicates become one.
        first = lengths[0].strip(_TRIM)
        if any(value.strip(_TRIM) != first for value in lengths[1:]):
            raise BadRequest()  # "http: message cannot contain multiple Content-Length headers"
        header.set("Content-Length", first)
        lengths = [first]
    length = parse_content_length(lengths) if lengths else 0
    if chunked:
        header.delete("Content-Length")  # RFC 9112 section 6.3: Transfer-Encoding overrides it
        return -1
    return length


def parse_content_length(values: list[str]) -> int:
    """``parseContentLength`` of the first value: its length, -1 for an empty one (lax rule); raises BadRequest."""
    value = values[0].strip(_TRIM)
    if value == "":
        if LAX_EMPTY_CONTENT_LENGTH:
            return -1
        raise BadRequest()  # "invalid empty Content-Length"
    significant = value.lstrip("0") or "0"  # ParseUint takes any number of leading zeros
    if not _DIGITS.fullmatch(value) or len(significant) > _MAX_DIGITS or int(significant) > MAX_CONTENT_LENGTH:
        raise BadRequest()  # "bad Content-Length"
    return int(significant)


def _fix_trailer(header: Header, chunked: bool) -> None:
    # golang/go#27197: a Trailer field without chunked framing is left alone.
    if not chunked or not header.has("Trailer"):
        return
    declared = header.values("Trailer")
    header.delete("Trailer")
    # foreachHeaderElement over each value, CanonicalHeaderKey of each element; one pass over them all,
    # since a value may hold half a million elements.
    if _FORBIDDEN_TRAILER.search(",".join(declared)):
        raise BadRequest()  # badStringError("bad trailer key", key): a plain 400


# -- body readers ----------------------------------------------------------------------


class BodyReader(Protocol):
    # The body's end has been read: true after the read that returned its last bytes, when the reader
    # knows it then (Go's io.EOF returned with n > 0), or after the empty read that found it.
    done: bool

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of body, ``b""`` at its end; raises BodyError or a NetError."""
        ...


class NoBody:
    """Go's ``NoBody``: nothing to read."""

    done = True

    def read(self, max_bytes: int) -> bytes:
        return b""


class LengthBody:
    """A declared length (Go's ``io.LimitReader`` over the connection): EOF before its end is an error."""

    def __init__(self, src: BufferedReader, length: int) -> None:
        self.src = src
        self.remaining = length

    @property
    def done(self) -> bool:
        return self.remaining <= 0

    def read(self, max_bytes: int) -> bytes:
        if self.remaining <= 0:
            return b""
        try:
            data = self.src.read(min(max_bytes, self.remaining))
        except EOF:
            raise BodyError("unexpected EOF") from None
        self.remaining -= len(data)
        return data


class UntilCloseBody:
    """No length on a closing connection: the body is everything until EOF."""

    def __init__(self, src: BufferedReader) -> None:
        self.src = src
        self.done = False

    def read(self, max_bytes: int) -> bytes:
        try:
            return self.src.read(max_bytes)
        except EOF:
            self.done = True
            return b""
