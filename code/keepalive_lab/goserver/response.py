"""Writing a response the way Go's ``response`` and ``chunkWriter`` do.

Theory of operation
-------------------
A handler writes into a 2048-byte buffer (``bufferBeforeChunkingSize``). The
response head is decided at the first moment bytes must leave that buffer
(``chunkWriter.writeHeader``, server.go):

* If the handler has *finished* before the buffer ever flushed, Go knows the
  whole body and adds ``Content-Length`` itself. Otherwise an HTTP/1.1 body is
  sent ``Transfer-Encoding: chunked`` and an HTTP/1.0 body is delimited by
  closing the connection.
* **Keep-alive**: HTTP/1.1 keeps the connection by default, whatever the
  framing. ``closeAfterReply`` is set by an HTTP/1.0 request without
  ``keep-alive`` and a known length, a request ``Connection: close``, a
  handler ``Connection: close``, disabled keep-alives
  (``SetKeepAlivesEnabled(false)``), an ``Expect: 100-continue`` body left
  unread, or 256 KiB or more of request body left unread.
* Header order on the wire: the handler's headers sorted by key, then
  ``Date``, ``Content-Length``, ``Content-Type`` (sniffed from the first 512
  bytes), ``Connection``, ``Transfer-Encoding`` (``extraHeader``).
  ``Connection: close`` is added only when closing an HTTP/1.1 connection.

Writes go to a 4 KiB connection buffer (Go's ``conn.bufw``); a write error is
remembered (``conn.werr``) and makes the connection unusable.
"""

from __future__ import annotations

from keepalive_lab.goserver.header import Header, has_token, http_date, status_text
from keepalive_lab.goserver.net import Conn, NetError
from keepalive_lab.goserver.request import MAX_POST_HANDLER_READ_BYTES, Request
from keepalive_lab.goserver.sniff import detect_content_type

__all__ = ["ResponseWriter", "ConnWriter", "BUFFER_BEFORE_CHUNKING", "body_allowed_for_status"]

BUFFER_BEFORE_CHUNKING = 2048  # server.go: bufferBeforeChunkingSize


def body_allowed_for_status(code: int) -> bool:
    return not (100 <= code <= 199 or code in (204, 304))


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
            self.error = exc


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
        self.close_after_reply = False
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
        if self.wrote_header:
            return  # Go logs "superfluous response.WriteHeader call"
        if not 100 <= code <= 999:
            raise ValueError(f"invalid WriteHeader code {code}")
        self.wrote_header = True
        self.status = code
        self._sent_header = self._handler_header.clone()
        declared = self._sent_header.get("Content-Length")
        if declared:
            if declared.isdigit():
                self.content_length = int(declared)
            else:
                self._sent_header.delete("Content-Length")  # Go logs and drops a bad one

    def write(self, data: bytes) -> int:
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
        """Send what is buffered now; the body becomes chunked (Go's ``Flusher``)."""
        if not self.wrote_header:
            self.write_header(200)
        self._flush_buffer()
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

    def _write_head(self, first: bytes) -> None:
        self._head_written = True
        req = self.request
        header = self.sent_header
        extra: dict[str, str] = {}
        exclude: set[str] = set()
        keep_alives = self._keep_alives_enabled()
        is_head = req.method == "HEAD"
        te = header.get("Transfer-Encoding")

        if (
            self.handler_done
            and not te
            and body_allowed_for_status(self.status)
            and not header.has("Content-Length")
            and (not is_head or first)
        ):
            self.content_length = len(first)
            extra["Content-Length"] = str(len(first))

        if self.wants_http10_keep_alive and keep_alives:
            if header.get("Content-Length") and header.get("Connection") == "keep-alive":
                self.close_after_reply = False
        has_cl = self.content_length != -1
        if self.wants_http10_keep_alive and (is_head or has_cl or not body_allowed_for_status(self.status)):
            if not header.has("Connection"):
                extra["Connection"] = "keep-alive"
        elif not req.proto_at_least(1, 1) or self.wants_close:
            self.close_after_reply = True
        if header.get("Connection") == "close" or not keep_alives:
            self.close_after_reply = True
        if self._expects_continue() and not req.body.saw_eof:
            self.close_after_reply = True  # a 100-continue body the handler never read
        if req.content_length != 0 and not self.close_after_reply and not self._expects_continue():
            self._discard_request_body(exclude, extra)

        if body_allowed_for_status(self.status):
            if not header.has("Content-Type") and not header.get("Content-Encoding") and not te and first:
                extra["Content-Type"] = detect_content_type(first)
        else:
            exclude.update(_suppressed_headers(self.status))
        if not header.has("Date"):
            extra["Date"] = http_date()
        if has_cl and te and te != "identity":
            exclude.add("Content-Length")
            has_cl = False

        if is_head or not body_allowed_for_status(self.status) or self.status == 204:
            exclude.add("Transfer-Encoding")
        elif has_cl:
            exclude.add("Transfer-Encoding")
        elif req.proto_at_least(1, 1):
            if te == "identity":
                self.close_after_reply = True
                exclude.add("Transfer-Encoding")
            else:
                # HTTP/1.1 chunks rather than closing at EOF, so the connection stays reusable.
                self._chunking = True
                extra["Transfer-Encoding"] = "chunked"
                exclude.add("Transfer-Encoding")
        else:
            self.close_after_reply = True  # HTTP/1.0 with no length: closing ends the body
            exclude.add("Transfer-Encoding")
        if self._chunking:
            exclude.add("Content-Length")

        # golang/go#36381: keep a handler's own "Connection: close" while keep-alives are on.
        if self.close_after_reply and (not keep_alives or not has_token(header.get("Connection"), "close")):
            exclude.add("Connection")
            if req.proto_at_least(1, 1):
                extra["Connection"] = "close"

        self._out.write(self._status_line() + header.write_subset(exclude) + _extra_lines(extra) + b"\r\n")

    def _expects_continue(self) -> bool:
        req = self.request
        return req.expects_continue() and req.proto_at_least(1, 1) and req.content_length != 0

    def _discard_request_body(self, exclude: set[str], extra: dict[str, str]) -> None:
        # Clients that send a whole request before reading can deadlock if we answer with
        # body bytes still unread (golang/go#15527), so Go drains up to 256 KiB first.
        body = self.request.body
        if body.closed:
            if not body.saw_eof:
                self.close_after_reply = True  # the handler closed it mid-way
            return
        too_big = body.unread_size() >= MAX_POST_HANDLER_READ_BYTES
        if not too_big:
            _, outcome = body.discard(MAX_POST_HANDLER_READ_BYTES + 1)
            too_big = outcome == "limit"
            if outcome == "error":
                self.close_after_reply = True  # what remains must not be parsed as a request
        if too_big:
            # Go's requestTooLarge: close after the reply, and say so.
            self.close_after_reply = True
            self.request_body_limit_hit = True
            exclude.add("Connection")
            extra["Connection"] = "close"

    def _status_line(self) -> bytes:
        version = "HTTP/1.1" if self.request.proto_at_least(1, 1) else "HTTP/1.0"
        text = status_text(self.status)
        if text:
            return f"{version} {self.status} {text}\r\n".encode("ascii")
        return f"{version} {self.status:03d} status code {self.status}\r\n".encode("ascii")

    def _body_allowed(self) -> bool:
        return body_allowed_for_status(self.status)


def _suppressed_headers(code: int) -> set[str]:
    if code == 304:
        return {"Content-Type", "Content-Length", "Transfer-Encoding"}  # RFC 7232 section 4.1
    return {"Content-Length", "Transfer-Encoding"}


_EXTRA_ORDER = ("Date", "Content-Length", "Content-Type", "Connection", "Transfer-Encoding")


def _extra_lines(extra: dict[str, str]) -> bytes:
    return b"".join(f"{k}: {extra[k]}\r\n".encode("ascii") for k in _EXTRA_ORDER if k in extra)
