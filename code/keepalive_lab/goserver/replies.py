"""The answers Go's server writes itself, without a handler.

* When reading a request fails (``conn.serve`` in server.go): a ``431`` for a
  head beyond ``MaxHeaderBytes`` + 4096, a ``501`` for an unsupported
  transfer coding, a ``400`` (or ``505``) with Go's ``statusError`` text for a
  malformed request; nothing at all for a timeout, EOF or reset
  (``isCommonNetReadError``). Each reply is written straight to the socket,
  with ``Connection: close``, and the connection closes.
* ``OPTIONS *``, which ``serverHandler.ServeHTTP`` answers itself
  (``globalOptionsHandler``), so the handler never sees it.
"""

from __future__ import annotations

from keepalive_lab.goserver.request import (
    BadRequest,
    ClientGone,
    HeaderTooLarge,
    Request,
    RequestError,
    UnsupportedTransferEncoding,
)
from keepalive_lab.goserver.response import ResponseWriter

__all__ = ["read_error_reply", "is_global_options", "global_options_handler"]

_ERROR_HEADERS = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
_STATUS_400_505 = {400: "Bad Request", 505: "HTTP Version Not Supported"}
_OPTIONS_BODY_LIMIT = 4 << 10  # globalOptionsHandler reads at most 4 KiB of body


def read_error_reply(exc: RequestError) -> tuple[bytes, bool]:
    """Go's reply to a failed read: ``(bytes to write, whether to closeWriteAndWait)``; b"" for none."""
    if isinstance(exc, ClientGone):
        return b"", False
    if isinstance(exc, HeaderTooLarge):
        text = "431 Request Header Fields Too Large"
        return f"HTTP/1.1 {text}{_ERROR_HEADERS}{text}".encode("latin-1"), True
    if isinstance(exc, UnsupportedTransferEncoding):
        return f"HTTP/1.1 501 Not Implemented{_ERROR_HEADERS}Unsupported transfer encoding".encode("latin-1"), False
    assert isinstance(exc, BadRequest)
    text = f"{exc.status} {_STATUS_400_505[exc.status]}: {exc.text}" if exc.text else "400 Bad Request"
    return f"HTTP/1.1 {text}{_ERROR_HEADERS}{text}".encode("latin-1"), False


def is_global_options(request: Request) -> bool:
    return request.target == "*" and request.method == "OPTIONS"


def global_options_handler(w: ResponseWriter, r: Request) -> None:
    """Go's ``globalOptionsHandler``: an empty 200; a body beyond 4 KiB closes the connection."""
    w.header().set("Content-Length", "0")
    if r.content_length != 0:
        read, _ = r.body.discard(_OPTIONS_BODY_LIMIT + 1)
        if read > _OPTIONS_BODY_LIMIT:
            w.request_too_large()  # as MaxBytesReader does once its limit is passed
