"""Writing a response the way Go's ``response`` and ``chunkWriter`` do.

Theory of operation
-------------------
A handler writes into a 2048-byte buffer (``bufferBeforeChunkingSize``). The
response head is decided at the first moment bytes must leave that buffer
(``chunkWriter.writeHeader``, server.go): if the handler has *finished* by
then, Go knows the whole body and adds ``Content-Length`` itself; otherwise an
HTTP/1.1 body is chunked and an HTTP/1.0 body ends with the connection. The
decisions themselves (length, keep-alive, draining the request body, framing,
header order) are pure functions in :mod:`keepalive_lab.goserver.headplan`;
this module feeds them the facts and carries out the plan.

Writes go to a 4 KiB connection buffer (Go's ``conn.bufw``); a write error is
remembered (``conn.werr``) and makes the connection unusable.
"""

from __future__ import annotations

import re

from keepalive_lab.goserver.header import Header, http_date, status_text
from keepalive_lab.goserver.headplan import Drain, HeadInput, body_allowed_for_status, plan_head, should_drain
from keepalive_lab.goserver.net import Conn, NetError
from keepalive_lab.goserver.request import MAX_POST_HANDLER_READ_BYTES, Request, detached

__all__ = ["ResponseWriter", "ConnWriter", "BUFFER_BEFORE_CHUNKING"]

BUFFER_BEFORE_CHUNKING = 2048  # server.go: bufferBeforeChunkingSize
# transfer.go excludedHeadersNoBody: left out of a 1xx response's header
_EXCLUDED_HEADERS_NO_BODY = frozenset({"Content-Length", "Transfer-Encoding"})
_INT64 = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt(s, 10, 64), before the range check


class ConnWriter:
    """A 4 KiB write buffer in front of the socket that remembers the first error (Go's ``bufw``/``werr``)."""

    SIZE = 4 << 10

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.error: NetError | None = None

    def write(self, data: bytes) -> None:
        if self.error is not None:
            return
        self.buf += data
        if len(self.buf) >= self.SIZE:
            self.flush()

    def flush(self) -> None:
        if self.error is not None or not self.buf:
            return
        data, self.buf = bytes(self.buf), bytearray()
        try:
            self.conn.sendall(data)
        except NetError as exc:
            self.error = detached(exc)  # no traceback: its frames would hold this writer in a cycle


class ResponseWriter:
    """What a handler writes to: ``header()``, ``write_header(code)``, ``write(data)``, ``flush()``."""

    def __init__(self, out: ConnWriter, request: Request, keep_alives_enabled) -> None:
        self._out = out
        self.request = request
        self._keep_alives_enabled = keep_alives_enabled  # callable: Go reads doKeepAlives() late
        self._handler_header = Header()
        self._sent_header: Header | None = None
        self.wrote_header = False
        self.status = 0
        self.written = 0  # body bytes the handler wrote
        self.content_length = -1  # declared or computed; -1 unknown
        self.handler_done = False
        self.close_after_reply = request.h2_upgrade  # server.go readRequest: the preface is never kept
        self.request_body_limit_hit = False
        self.wants_http10_keep_alive = request.wants_http10_keep_alive()
        self.wants_close = request.wants_close()
        self._buf = bytearray()  # Go's w.w, the 2048-byte bufio.Writer
        self._head_written = False  # Go's cw.wroteHeader
        self._chunking = False

    # -- the handler's API (Go's http.ResponseWriter) -----------------------

    def header(self) -> Header:
        return self._handler_header

    def write_header(self, code: int) -> None:
        """Go's ``response.WriteHeader``: a final status, or an informational one sent at once.

        A 1xx other than 101 is written to the connection there and then, with
        the handler's header but its Content-Length and Transfer-Encoding, and
        the handler goes on: the final status is still to come, and there is no
        limit to how many 1xx come before it. Any code but 101 to 199 (so 100
        too) stops the first body read from sending ``100 Continue`` itself.
        https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go#L1193-L1243
        """
        if self.wrote_header:
            return  # Go logs "superfluous response.WriteHeader call"
        if not 100 <= code <= 999:
            raise ValueError(f"invalid WriteHeader code {code}")
        if code < 101 or code > 199:
            self._disable_write_continue()
        if 100 <= code <= 199 and code != 101:
            self._write_informational(code)
            return
        self.wrote_header = True
        self.status = code
        self._sent_header = self._handler_header.clone()
        declared = self._handler_header.get("Content-Length")
        if declared:
            length = _parse_int64(declared)
            if length is not None and length >= 0:
                self.content_length = length
            else:
                # Go logs and deletes a bad one from the handler's header, but the header it writes
                # is the clone taken just before (cw.header): the value goes out, with no length
                # behind it, so the body is chunked on HTTP/1.1.
                self._handler_header.delete("Content-Length")

    def write(self, data: bytes) -> int:
        self._disable_write_continue()  # even an empty write: server.go response.write
        if not self.wrote_header:
            self.write_header(200)
        if not data:
            return 0
        if not self._body_allowed():
            raise ValueError("http: request method or response status code does not allow body")
        self.written += len(data)
        if self.content_length != -1 and self.written > self.content_length:
            raise ValueError("http: wrote more than the declared Content-Length")
        self._buffered_write(bytes(data))
        return len(data)

    def request_too_large(self) -> None:
        """Go's ``response.requestTooLarge`` (what ``MaxBytesReader`` calls): close after the reply."""
        self.close_after_reply = True
        self.request_body_limit_hit = True
        if not self.wrote_header:
            self._handler_header.set("Connection", "close")

    def flush(self) -> None:
        """Send what is buffered now; the body becomes chunked (Go's ``Flusher``).

        The head goes out even with no body buffered (``chunkWriter.flush`` writes it).
        """
        if not self.wrote_header:
            self.write_header(200)
        self._flush_buffer()
        if not self._head_written:
            self._write_head(b"")
        self._out.flush()

    def _disable_write_continue(self) -> None:
        """Go's ``disableWriteContinue``: a later body read sends no ``100 Continue``."""
        self.request.body.on_first_read = None

    def _write_informational(self, code: int) -> None:
        """The 1xx branch of Go's ``WriteHeader``: status line, header, blank line, flushed now.

        The header is not cleared (RFC 8297): what the handler set goes out again with the final status.
        """
        header = self._handler_header.write_subset(_EXCLUDED_HEADERS_NO_BODY)
        self._out.write(self._status_line(code) + header + b"\r\n")
        self._out.flush()

    # -- what the connection loop calls --------------------------------------

    def finish_request(self) -> None:
        """Go's ``response.finishRequest``: flush, end a chunked body, send."""
        self.handler_done = True
        if not self.wrote_header:
            self.write_header(200)
        self._flush_buffer()
        if not self._head_written:
            self._write_head(b"")
        if self._chunking:
            self._out.write(b"0\r\n\r\n")
        self._out.flush()
        self.request.body.close_early()

    def should_reuse_connection(self) -> bool:
        """Go's ``response.shouldReuseConnection``."""
        if self.close_after_reply:
            return False
        if (
            self.request.method != "HEAD"
            and self.content_length != -1
            and self._body_allowed()
            and self.content_length != self.written
        ):
            return False  # a short body would desynchronise the stream
        if self._out.error is not None:
            return False
        return not self.request.body.early_close

    @property
    def closed_request_body_early(self) -> bool:
        return self.request.body.early_close

    @property
    def sent_header(self) -> Header:
        return self._sent_header if self._sent_header is not None else self._handler_header

    # -- Go's bufio.Writer(2048) over chunkWriter ----------------------------

    def _buffered_write(self, data: bytes) -> None:
        while len(data) > BUFFER_BEFORE_CHUNKING - len(self._buf):
            if not self._buf:
                self._chunk_write(data)  # a big write with an empty buffer bypasses it
                return
            room = BUFFER_BEFORE_CHUNKING - len(self._buf)
            self._buf += data[:room]
            data = data[room:]
            self._flush_buffer()
        self._buf += data

    def _flush_buffer(self) -> None:
        if self._buf:
            data, self._buf = bytes(self._buf), bytearray()
            self._chunk_write(data)

    def _chunk_write(self, data: bytes) -> None:
        if not self._head_written:
            self._write_head(data)
        if self.request.method == "HEAD":
            return
        if self._chunking:
            self._out.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
        else:
            self._out.write(data)

    # -- Go's chunkWriter.writeHeader ----------------------------------------

    def _head_input(self, first: bytes) -> HeadInput:
        req, header = self.request, self.sent_header
        return HeadInput(
            method=req.method,
            http11=req.proto_at_least(1, 1),
            wants_close=self.wants_close,
            wants_http10_keep_alive=self.wants_http10_keep_alive,
            expects_continue=req.expects_continue() and req.proto_at_least(1, 1) and req.content_length != 0,
            body_saw_eof=req.body.saw_eof,
            request_has_body=req.content_length != 0,
            status=self.status,
            handler_done=self.handler_done,
            first=first,
            declared_length=self.content_length,
            has_content_length=header.has("Content-Length"),
            content_length_value=header.get("Content-Length"),
            connection=header.get("Connection"),
            has_connection=header.has("Connection"),
            transfer_encoding=header.get("Transfer-Encoding"),
            has_content_type=header.has("Content-Type"),
            content_encoding=header.get("Content-Encoding"),
            has_date=header.has("Date"),
            keep_alives=self._keep_alives_enabled(),
            close_after_reply=self.close_after_reply,
            date=http_date(),
        )

    def _write_head(self, first: bytes) -> None:
        self._head_written = True
        head = self._head_input(first)
        drain = self._drain_request_body() if should_drain(head) else Drain.NOT_NEEDED
        plan = plan_head(head, drain)
        self.content_length = plan.content_length
        self.close_after_reply = plan.close_after_reply
        self.request_body_limit_hit = self.request_body_limit_hit or plan.request_body_limit_hit
        self._chunking = plan.chunking
        self._out.write(self._status_line(self.status) + self.sent_header.write_subset(plan.exclude) + plan.extra_lines() + b"\r\n")

    def _drain_request_body(self) -> Drain:
        """Read up to 256 KiB of unread request body, as Go does before answering."""
        body = self.request.body
        if body.closed:
            return Drain.DONE if body.saw_eof else Drain.CLOSED_UNREAD
        if body.unread_size() >= MAX_POST_HANDLER_READ_BYTES:
            return Drain.TOO_BIG
        _, outcome = body.discard(MAX_POST_HANDLER_READ_BYTES + 1)
        return {"eof": Drain.DONE, "limit": Drain.TOO_BIG, "error": Drain.FAILED}[outcome]

    def _status_line(self, code: int) -> bytes:
        """Go's ``writeStatusLine``."""
        version = "HTTP/1.1" if self.request.proto_at_least(1, 1) else "HTTP/1.0"
        text = status_text(code)
        if text:
            return f"{version} {code} {text}\r\n".encode("ascii")
        return f"{version} {code:03d} status code {code}\r\n".encode("ascii")

    def _body_allowed(self) -> bool:
        return body_allowed_for_status(self.status)


def _parse_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: None unless an optional sign and decimal digits that fit."""
    if not _INT64.fullmatch(text):
        return None
    digits = (text[1:] if text[0] in "+-" else text).lstrip("0") or "0"  # strconv takes any leading zeros
    if len(digits) > 19:  # beyond int64 (and int() refuses more than 4300 digits)
        return None
    value = -int(digits) if text[0] == "-" else int(digits)
    return value if -(1 << 63) <= value < (1 << 63) else None
