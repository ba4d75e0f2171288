"""``RequestReader``: reading requests off a connection the way Go's ``conn.readRequest`` does.

Theory of operation
-------------------
h11 frames the bytes: it finds the end of the head, parses the request line
and the header fields, and delimits the body (Content-Length or chunked). A
fresh ``h11.Connection`` is used for every request and is fed whatever the
previous one left over, because h11's own keep-alive rules differ from Go's
(h11 refuses HTTP/1.0 keep-alive); the keep-alive decision is made in
:mod:`keepalive_lab.goserver.response`, Go's way.

Around h11 sits Go's reading policy (net/http server.go ``readRequest``,
request.go ``readRequest``, textproto ``ReadMIMEHeader``):

* **Line by line.** Go's textproto reads whole lines and rejects a malformed
  request line or header line as soon as it arrives. h11 only parses once
  the blank line is in, so each complete line is checked here first with
  h11's own grammar, and only complete lines are handed to h11.
* **Read limit.** Go reads at most ``MaxHeaderBytes + 4096`` bytes off the
  wire for a request head (the "bufio slop"); a head not complete by then is
  a ``431``. Bytes already buffered from an earlier read do not count.
* **Read errors.** Go's ``bufio.Reader.ReadLine`` returns a partial line
  *without* the error, and textproto parses it as a whole line; the next read
  fails again. So a deadline or EOF in the middle of a line first has that
  fragment judged. Then: nothing received at all, or a timeout, closes the
  connection silently (``isCommonNetReadError``); an EOF after the request
  line began becomes ``io.ErrUnexpectedEOF`` and a ``400``.
* **After parsing**: HTTP major version other than 1 -> ``505``; HTTP/1.1 or
  later without Host -> ``400 Bad Request: missing required Host header``; an
  invalid Host value -> ``400 Bad Request: malformed Host header``.

Exceptions derived from :class:`~keepalive_lab.goserver.request.RequestError`
tell the server how Go would answer; :mod:`keepalive_lab.goserver.replies`
writes the answer.
"""

from __future__ import annotations

import re
import sys
import typing

import h11
from h11 import _abnf  # h11's ABNF strings: the same grammar h11 applies, used line by line

from keepalive_lab.goserver.header import Header, canonical_key, has_token, valid_host_header
from keepalive_lab.goserver.net import Conn, ConnReset, NetError, Timeout, UseOfClosed
from keepalive_lab.goserver.request import (
    BadRequest,
    ClientGone,
    HeaderTooLarge,
    Request,
    RequestBody,
    RequestError,
    UnsupportedTransferEncoding,
)

__all__ = ["RequestReader", "READ_LIMIT_SLOP"]

# server.go: initialReadLimitSize adds 4096 bytes of "bufio slop" to MaxHeaderBytes.
READ_LIMIT_SLOP = 4096

_REQUEST_LINE = re.compile(_abnf.request_line.encode("ascii"))
_HEADER_FIELD = re.compile(_abnf.header_field.encode("ascii"))
# textproto validHeaderValueByte allows HTAB, SP, VCHAR and obs-text; h11 lets other controls through.
_CTL_IN_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# url.ParseRequestURI: a target is "*", a path, or has a scheme.
_REQUEST_URI = re.compile(rb"\*|/.*|[A-Za-z][A-Za-z0-9+.\-]*:.*", re.DOTALL)


class _LineCheck:
    """Go's line-at-a-time judgement of a request head, using h11's grammar."""

    def __init__(self) -> None:
        self.lines = 0
        self.head_done = False

    def feed(self, chunk: bytes) -> None:
        """Check each complete line in ``chunk``; raise BadRequest at the first bad one."""
        for line in chunk.split(b"\n")[:-1]:
            if self.head_done:
                return  # body bytes or the next request: not head lines
            line = line[:-1] if line.endswith(b"\r") else line
            self._check(line)
            self.lines += 1

    def _check(self, line: bytes) -> None:
        if self.lines == 0:
            match = _REQUEST_LINE.fullmatch(line)
            if match is None or not _REQUEST_URI.fullmatch(match["target"]):
                raise BadRequest()
            return
        if not line:
            self.head_done = True
            return
        if line[:1] in (b" ", b"\t"):
            if self.lines == 1:
                raise BadRequest()  # textproto: "malformed MIME header initial line"
            value = line  # a folded continuation of the previous field
        else:
            match = _HEADER_FIELD.fullmatch(line)
            if match is None:
                raise BadRequest()
            value = match["field_value"]
        if _CTL_IN_VALUE.search(value):
            raise BadRequest()


class RequestReader:
    """Reads successive requests off one connection (the reading half of Go's ``conn``)."""

    def __init__(self, conn: Conn, max_header_bytes: int) -> None:
        self.conn = conn
        self.read_limit = max_header_bytes + READ_LIMIT_SLOP
        self.last_method = ""
        self.bytes_read = 0  # off the wire during the current read_request: Go's StateActive test
        self._pending = bytearray()  # read off the wire, not yet handed to h11
        self._body_buf = bytearray()  # body bytes h11 has framed, not yet read
        self._h11: h11.Connection | None = None

    # -- idle ---------------------------------------------------------------

    def peek(self, n: int) -> bool:
        """Wait for ``n`` bytes of the next request (Go's ``bufr.Peek(4)`` while idle).

        False on any read error: the caller closes the connection.
        """
        while len(self._pending) < n:
            try:
                data = self.conn.recv(64 * 1024)
            except NetError:
                return False
            if not data:
                return False
            self._pending += data
        return True

    # -- the head -----------------------------------------------------------

    def read_request(self) -> Request:
        """Read the next request head; the read deadline must already be set."""
        self.bytes_read = 0
        budget = [self.read_limit]
        if self.last_method == "POST":
            self._skip_leading_newlines(budget)  # RFC 7230 section 3 tolerance, as Go
        framer = h11.Connection(h11.SERVER, max_incomplete_event_size=sys.maxsize)
        check = _LineCheck()
        while not check.head_done:
            cut = self._pending.rfind(b"\n") + 1
            if cut:
                chunk = bytes(self._pending[:cut])
                del self._pending[:cut]
                check.feed(chunk)
                framer.receive_data(chunk)
                continue
            self._read_head_bytes(budget, check)
        if self._pending:  # the rest belongs to the body or to later requests
            framer.receive_data(bytes(self._pending))  # (b"" would tell h11 the peer closed)
            self._pending.clear()
        self._h11 = framer
        return self._to_request(framer)

    def _skip_leading_newlines(self, budget: list[int]) -> None:
        while len(self._pending) < 4 and budget[0] > 0:
            try:
                data = self.conn.recv(min(budget[0], 64 * 1024))
            except NetError:
                break  # Go ignores the Peek error; ReadRequest meets it again
            if not data:
                break
            budget[0] -= len(data)
            self.bytes_read += len(data)
            self._pending += data
        lead = 0
        while lead < min(4, len(self._pending)) and self._pending[lead] in b"\r\n":
            lead += 1
        del self._pending[:lead]

    def _read_head_bytes(self, budget: list[int], check: _LineCheck) -> None:
        if budget[0] <= 0:
            raise HeaderTooLarge()
        try:
            data = self.conn.recv(min(budget[0], 64 * 1024))
        except Timeout:
            data, failure = b"", "timeout"
        except (ConnReset, UseOfClosed):
            data, failure = b"", "eof"
        else:
            failure = "" if data else "eof"
        if failure:
            self._fail_mid_head(failure, check)
        budget[0] -= len(data)
        self.bytes_read += len(data)
        self._pending += data

    def _fail_mid_head(self, kind: str, check: _LineCheck) -> typing.NoReturn:
        if check.lines == 0 and not self._pending:
            raise ClientGone()  # nothing of this request arrived
        if self._pending:
            # bufio.ReadLine hands back the fragment without the error; textproto parses it.
            fragment = bytes(self._pending) + b"\n"
            self._pending.clear()
            check.feed(fragment)
        if kind == "timeout":
            raise ClientGone()
        raise BadRequest()  # io.EOF after the request line: io.ErrUnexpectedEOF

    def _to_request(self, framer: h11.Connection) -> Request:
        try:
            event = framer.next_event()
        except h11.RemoteProtocolError as exc:
            raise _map_h11_error(exc) from exc
        if not isinstance(event, h11.Request):
            raise BadRequest()  # a blank line before any request line
        major, minor = (int(x) for x in event.http_version.decode("ascii").split("."))
        header = Header((canonical_key(k.decode("latin-1")), v.decode("latin-1")) for k, v in event.headers.raw_items())
        hosts = header.values("Host")
        if major != 1:
            raise BadRequest("unsupported protocol version", status=505)
        if (major, minor) >= (1, 1) and not hosts and event.method != b"CONNECT":
            raise BadRequest("missing required Host header")
        if len(hosts) == 1 and not valid_host_header(hosts[0]):
            raise BadRequest("malformed Host header")
        header.delete("Host")
        content_length = _content_length(header)
        method = event.method.decode("ascii")
        self.last_method = method
        request = Request(
            method=method,
            target=event.target.decode("latin-1"),
            proto_major=major,
            proto_minor=minor,
            header=header,
            host=hosts[0] if hosts else "",
            content_length=content_length,
            remote_addr=self.conn.remote_addr,
            body=None,  # type: ignore[arg-type]
        )
        request.body = RequestBody(self, content_length, closing=request.close)
        if content_length == 0:
            self._end_of_message(framer)
        return request

    # -- the body -----------------------------------------------------------

    def read_body(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of the current body, ``b""`` at its end."""
        while not self._body_buf:
            framer = self._h11
            if framer is None:
                return b""
            try:
                event = framer.next_event()
            except h11.RemoteProtocolError as exc:
                raise BadRequest(str(exc)) from exc
            if isinstance(event, h11.Data):
                self._body_buf += event.data
            elif isinstance(event, h11.EndOfMessage):
                self._end_of_message(framer)
            else:  # NEED_DATA; a NetError propagates to the body's reader
                framer.receive_data(self.conn.recv(64 * 1024))  # b"" tells h11 the peer closed
        data = bytes(self._body_buf[:max_bytes])
        del self._body_buf[:max_bytes]
        return data

    def _end_of_message(self, framer: h11.Connection) -> None:
        leftover, _closed = framer.trailing_data
        self._pending[:0] = leftover
        self._h11 = None


def _content_length(header: Header) -> int:
    if has_token(header.get("Transfer-Encoding"), "chunked"):
        return -1
    value = header.get("Content-Length")
    return int(value.split(",")[0].strip()) if value else 0


def _map_h11_error(exc: h11.RemoteProtocolError) -> RequestError:
    if exc.error_status_hint == 501:
        return UnsupportedTransferEncoding()
    if "Missing mandatory Host" in str(exc):
        return BadRequest("missing required Host header")
    return BadRequest()
