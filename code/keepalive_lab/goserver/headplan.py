"""The decisions of Go's ``chunkWriter.writeHeader``, as pure functions that return a plan.

Theory of operation
-------------------
When the first bytes of a response must leave the handler's buffer, Go
decides, in one long function (server.go ``chunkWriter.writeHeader``): the
``Content-Length`` it adds itself, whether the connection survives the
response (``closeAfterReply``), whether to drain the unread request body
first, and how the body is framed (length, chunked, or until close). Here
the same decisions take a :class:`HeadInput` (the request's and the
handler's facts, no sockets) and return a :class:`HeadPlan`, so each rule
can be tested on its own, as h11 tests its state machine.

Draining the request body is the one step that does I/O, in the middle of
the decisions. The caller asks :func:`should_drain`, drains if so, and
passes the :class:`Drain` outcome to :func:`plan_head`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from keepalive_lab.goserver.header import has_token
from keepalive_lab.goserver.sniff import detect_content_type

__all__ = ["HeadInput", "HeadPlan", "Drain", "plan_head", "should_drain", "body_allowed_for_status",
           "suppressed_headers", "EXTRA_ORDER"]  # fmt: skip

# The order of the headers Go adds itself (server.go extraHeader.Write), after the handler's sorted ones.
EXTRA_ORDER = ("Date", "Content-Length", "Content-Type", "Connection", "Transfer-Encoding")


def body_allowed_for_status(code: int) -> bool:
    """Go's ``bodyAllowedForStatus``: no body for 1xx, 204 and 304."""
    return not (100 <= code <= 199 or code in (204, 304))


def suppressed_headers(code: int) -> frozenset[str]:
    """Headers Go drops for a status that allows no body (``suppressedHeaders``)."""
    if code == 304:
        return frozenset({"Content-Type", "Content-Length", "Transfer-Encoding"})  # RFC 7232 section 4.1
    return frozenset({"Content-Length", "Transfer-Encoding"})


class Drain(enum.StrEnum):
    """What became of the unread request body when the head was decided."""

    NOT_NEEDED = "not needed"  # no body, or the connection closes anyway
    DONE = "done"  # read to its end: the connection can be reused
    CLOSED_UNREAD = "closed unread"  # the handler closed it before its end
    TOO_BIG = "too big"  # 256 KiB or more left: Go gives up and closes (requestTooLarge)
    FAILED = "failed"  # reading it failed: what remains must not be parsed as a request


@dataclass(frozen=True, kw_only=True)
class HeadInput:
    """Everything ``writeHeader`` looks at, as plain values."""

    method: str
    http11: bool  # the request is HTTP/1.1 or later
    wants_close: bool  # the request's Connection: close, or HTTP/1.0 without keep-alive (Request.Close)
    wants_http10_keep_alive: bool  # HTTP/1.0 with Connection: keep-alive
    expects_continue: bool  # Expect: 100-continue on an HTTP/1.1 request with a body
    body_saw_eof: bool  # the request body has been read to its end
    request_has_body: bool  # Content-Length > 0, or chunked
    status: int
    handler_done: bool  # the handler returned before the buffer flushed: the whole body is known
    first: bytes  # the first bytes of the body (all of it when handler_done)
    declared_length: int  # the handler's valid Content-Length, -1 when none
    has_content_length: bool  # the handler's header has a Content-Length key
    content_length_value: str  # its first value, "" when none
    connection: str  # the handler's Connection header (first value), "" when none
    has_connection: bool
    transfer_encoding: str
    has_content_type: bool
    content_encoding: str
    has_date: bool
    keep_alives: bool  # the server's doKeepAlives(), read now
    close_after_reply: bool  # already decided (requestTooLarge)
    date: str  # the Date value to add, if the handler set none


@dataclass(frozen=True)
class HeadPlan:
    """What to write and what to do after: Go's ``cw``/``w`` fields once ``writeHeader`` returns."""

    content_length: int  # -1: unknown
    close_after_reply: bool
    chunking: bool
    request_body_limit_hit: bool
    extra: dict[str, str]  # headers Go adds, written in EXTRA_ORDER after the handler's
    exclude: frozenset[str]  # handler headers Go leaves out

    def extra_lines(self) -> bytes:
        return b"".join(f"{k}: {self.extra[k]}\r\n".encode("latin-1") for k in EXTRA_ORDER if k in self.extra)


@dataclass(frozen=True)
class _Reuse:
    content_length: int
    close: bool
    auto_length: bool
    keep_alive_header: bool


def _reuse(h: HeadInput) -> _Reuse:
    """Length and keep-alive, up to the point where Go drains the request body."""
    allowed = body_allowed_for_status(h.status)
    is_head = h.method == "HEAD"
    length, auto, close = h.declared_length, False, h.close_after_reply
    # The handler finished inside the buffer: Go knows the whole body and states its length.
    if h.handler_done and not h.transfer_encoding and allowed and not h.has_content_length and (not is_head or h.first):
        length, auto = len(h.first), True
    if h.wants_http10_keep_alive and h.keep_alives:
        if h.content_length_value and h.connection == "keep-alive":
            close = False
    keep_alive_header = False
    if h.wants_http10_keep_alive and (is_head or length != -1 or not allowed):
        keep_alive_header = not h.has_connection
    elif not h.http11 or h.wants_close:
        close = True
    if h.connection == "close" or not h.keep_alives:
        close = True
    if h.expects_continue and not h.body_saw_eof:
        close = True  # a 100-continue body the handler never read
    return _Reuse(length, close, auto, keep_alive_header)


def should_drain(h: HeadInput) -> bool:
    """Whether Go reads the unread request body (up to 256 KiB) before answering.

    Clients that send a whole request before reading can deadlock if the
    server answers with body bytes still unread (golang/go#15527).
    """
    return h.request_has_body and not _reuse(h).close and not h.expects_continue


def plan_head(h: HeadInput, drain: Drain = Drain.NOT_NEEDED) -> HeadPlan:
    """Go's ``writeHeader`` decisions for ``h``, given what draining the body did."""
    r = _reuse(h)
    extra: dict[str, str] = {}
    exclude: set[str] = set()
    close, limit_hit, chunking = r.close, False, False
    if r.auto_length:
        extra["Content-Length"] = str(r.content_length)
    if r.keep_alive_header:
        extra["Connection"] = "keep-alive"
    if drain in (Drain.CLOSED_UNREAD, Drain.FAILED):
        close = True
    elif drain is Drain.TOO_BIG:  # Go's requestTooLarge: close after the reply, and say so
        close, limit_hit = True, True
        exclude.add("Connection")
        extra["Connection"] = "close"

    te = h.transfer_encoding
    allowed = body_allowed_for_status(h.status)
    if allowed:
        if not h.has_content_type and not h.content_encoding and not te and h.first:
            extra["Content-Type"] = detect_content_type(h.first)
    else:
        exclude |= suppressed_headers(h.status)
    if not h.has_date:
        extra["Date"] = h.date
    has_cl = r.content_length != -1
    if has_cl and te and te != "identity":
        exclude.add("Content-Length")
        has_cl = False

    if h.method == "HEAD" or not allowed or h.status == 204 or has_cl:
        exclude.add("Transfer-Encoding")
    elif h.http11:
        if te == "identity":
            close = True
            exclude.add("Transfer-Encoding")
        else:  # HTTP/1.1 chunks rather than closing at EOF, so the connection stays reusable
            chunking = True
            extra["Transfer-Encoding"] = "chunked"
            if te == "chunked":
                exclude.add("Transfer-Encoding")  # only then: any other coding is written, then Go's chunked
    else:
        close = True  # HTTP/1.0 with no length: closing ends the body
        exclude.add("Transfer-Encoding")
    if chunking:
        exclude.add("Content-Length")

    # golang/go#36381: keep a handler's own "Connection: close" while keep-alives are on.
    if close and (not h.keep_alives or not has_token(h.connection, "close")):
        exclude.add("Connection")
        if h.http11:
            extra["Connection"] = "close"
    return HeadPlan(r.content_length, close, chunking, limit_hit, extra, frozenset(exclude))
