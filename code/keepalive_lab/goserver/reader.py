"""``RequestReader``: reading requests off a connection the way Go's ``conn.readRequest`` does.

Theory of operation
-------------------
Go reads a request in three steps, and so does this module; each of the
grammars lives in its own module:

1. **The head** (request.go ``readRequest``), line by line through a 4 KiB
   buffer (:mod:`.bufio`) whose reads count against ``MaxHeaderBytes`` +
   4096 bytes (the "bufio slop"). The request line is split and checked
   (:mod:`.requestline`), its target parsed (:mod:`.requesturi`), and the
   field lines read and judged one at a time as they arrive
   (:mod:`.textproto`). Then the framing of the body is decided
   (:mod:`.framing`). Any failure once the read limit is reached is a
   ``431``.
2. **The server's checks** (server.go ``conn.readRequest``): a version other
   than 1.x (or the ``PRI * HTTP/2.0`` preface) is a ``505``; then the read
   limit is lifted; an HTTP/1.1 request without Host (but CONNECT, and the
   preface) is a ``400``, and so are a malformed Host value and a field name
   that is not a token.
3. **The body**, read lazily while the handler runs or when the server
   drains it: by length, chunked (:mod:`.chunked`), up to the close, or none.
   Body bytes never pass through the head's parser.

Read errors follow Go's ``isCommonNetReadError``: nothing received at all,
a timeout, or a reset closes the connection silently; EOF once the request
line is in is ``io.ErrUnexpectedEOF``, a ``400``. A read that fails in the
middle of a line first has that fragment judged as a line, as
``bufio.Reader.ReadLine`` hands it over.

Exceptions derived from :class:`~keepalive_lab.goserver.request.RequestError`
tell the server how Go would answer; :mod:`keepalive_lab.goserver.replies`
writes the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from keepalive_lab.goserver.bufio import EOF, BufferedReader, ConnReader
from keepalive_lab.goserver.chunked import ChunkedBody
from keepalive_lab.goserver.framing import BodyReader, Framing, LengthBody, NoBody, UntilCloseBody, request_framing
from keepalive_lab.goserver.header import Header, valid_host_header
from keepalive_lab.goserver.net import Conn, NetError
from keepalive_lab.goserver.request import (
    BadRequest,
    ClientGone,
    HeaderTooLarge,
    Request,
    RequestBody,
    RequestError,
    should_close,
)
from keepalive_lab.goserver.requestline import RequestLine, parse_request_line, supported_by_http1_server
from keepalive_lab.goserver.requesturi import RequestURI, parse_request_uri
from keepalive_lab.goserver.textproto import ProtocolError, read_line, read_mime_header, valid_field_name

__all__ = ["RequestReader", "READ_LIMIT_SLOP"]

# server.go: initialReadLimitSize adds 4096 bytes of "bufio slop" to MaxHeaderBytes.
READ_LIMIT_SLOP = 4096


@dataclass(frozen=True)
class _Head:
    """What request.go's ``readRequest`` makes of a head."""

    line: RequestLine
    uri: RequestURI
    header: Header
    hosts: list[str]
    framing: Framing
    h2_upgrade: bool


class RequestReader:
    """Reads successive requests off one connection (the reading half of Go's ``conn``)."""

    def __init__(self, conn: Conn, max_header_bytes: int) -> None:
        self.conn = conn
        # server.go initialReadLimitSize is int64(MaxHeaderBytes) + 4096, which wraps past 2**63 - 1: a
        # negative limit is hit before the first byte, and every request gets 431.
        # https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go#L925
        self.read_limit = (max_header_bytes + READ_LIMIT_SLOP + 2**63) % 2**64 - 2**63
        self.last_method = ""
        self._wire = ConnReader(conn)
        self._buf = BufferedReader(self._wire)
        self._body: BodyReader = NoBody()

    @property
    def bytes_read(self) -> int:
        """Bytes off the wire during the current ``read_request``: Go's test for StateActive."""
        return self._wire.bytes_read

    # -- idle ---------------------------------------------------------------

    def peek(self, n: int) -> bool:
        """Wait for ``n`` bytes of the next request (Go's ``bufr.Peek(4)`` while idle).

        False on any read error: the caller closes the connection.
        """
        return len(self._buf.peek(n)) == n

    # -- the head -----------------------------------------------------------

    def read_request(self) -> Request:
        """Read the next request head; the read deadline must already be set."""
        self._body = NoBody()
        self._wire.set_read_limit(self.read_limit)
        if self.last_method == "POST":
            # RFC 7230 section 3 tolerance for old clients, as Go: up to 4 CR or LF before the request line.
            self._buf.discard(_leading_newlines(self._buf.peek(4)))
        try:
            head = self._read_head()
        except RequestError:
            if self._wire.hit_read_limit:
                raise HeaderTooLarge() from None
            raise
        if not supported_by_http1_server(head.line):
            raise BadRequest("unsupported protocol version", status=505)
        self._wire.set_infinite_read_limit()
        self.last_method = head.line.method
        _check_host_and_names(head)
        head.header.delete("Host")
        return self._request(head)

    def _read_head(self) -> _Head:
        """request.go ``readRequest``: the request line, the fields, the framing."""
        try:
            first = read_line(self._buf)
        except (EOF, NetError):
            raise ClientGone() from None  # nothing of a request came: Go answers nothing
        try:
            line = parse_request_line(first)
            uri = parse_request_uri(line.target, line.method)
        except ValueError:  # InvalidURI too
            raise BadRequest() from None
        try:
            header = read_mime_header(self._buf)
        except ProtocolError:
            raise BadRequest() from None
        except EOF:
            raise BadRequest() from None  # io.ErrUnexpectedEOF: the request line was in
        except NetError:
            raise ClientGone() from None  # a timeout or a reset (isCommonNetReadError)
        hosts = header.values("Host")
        if len(hosts) > 1:
            raise BadRequest()  # "too many Host headers"
        closing = should_close(line.major, line.minor, header)
        framing = request_framing(header, (line.major, line.minor) >= (1, 1), closing)
        # isH2Upgrade looks at the header once Transfer-Encoding is gone from it.
        h2_upgrade = line.method == "PRI" and not header.keys() and uri.path == "*" and line.proto == "HTTP/2.0"
        return _Head(line, uri, header, hosts, framing, h2_upgrade)

    def _request(self, head: _Head) -> Request:
        line, framing = head.line, head.framing
        content_length = -1 if head.h2_upgrade else framing.content_length
        request = Request(
            method=line.method,
            target=line.target,
            proto_major=line.major,
            proto_minor=line.minor,
            header=head.header,
            # RFC 9112 section 3.2.2: an absolute-form target's authority wins over the Host field.
            host=head.uri.host or (head.hosts[0] if head.hosts else ""),
            content_length=content_length,
            remote_addr=self.conn.remote_addr,
            body=None,  # type: ignore[arg-type]
            h2_upgrade=head.h2_upgrade,
            url=head.uri,
        )
        request.body = RequestBody(self, content_length, closing=request.close, chunked=framing.chunked)
        self._body = self._body_reader(framing)
        return request

    def _body_reader(self, framing: Framing) -> BodyReader:
        if framing.chunked:
            return ChunkedBody(self._buf)
        if framing.until_close:
            return UntilCloseBody(self._buf)
        if framing.content_length > 0:
            return LengthBody(self._buf, framing.content_length)
        return NoBody()

    # -- the body -----------------------------------------------------------

    def read_body(self, max_bytes: int) -> tuple[bytes, bool]:
        """Up to ``max_bytes`` of the current body (``b""`` at its end), and whether its end is read.

        Raises BodyError or a NetError.
        """
        data = self._body.read(max_bytes)
        return data, self._body.done


def _check_host_and_names(head: _Head) -> None:
    """server.go ``conn.readRequest``'s checks once the head is read."""
    line = head.line
    if (line.major, line.minor) >= (1, 1) and not head.hosts and not head.h2_upgrade and line.method != "CONNECT":
        raise BadRequest("missing required Host header")
    if len(head.hosts) == 1 and not valid_host_header(head.hosts[0]):
        raise BadRequest("malformed Host header")
    # textproto lets a space before the colon through (golang/go#34540); the server does not.
    if not all(valid_field_name(name) for name in head.header.keys()):
        raise BadRequest("invalid header name")


def _leading_newlines(peek: bytes) -> int:
    """numLeadingCRorLF."""
    return len(peek) - len(peek.lstrip(b"\r\n"))
