"""Go's response-head decisions as pure functions (server.go chunkWriter.writeHeader), no sockets."""

from __future__ import annotations

from dataclasses import replace

import pytest
from keepalive_lab.goserver.headplan import (
    EXTRA_ORDER,
    Drain,
    HeadInput,
    HeadPlan,
    body_allowed_for_status,
    plan_head,
    should_drain,
    suppressed_headers,
)

DATE = "Mon, 02 Jan 2006 15:04:05 GMT"

# A GET on HTTP/1.1 whose handler wrote "ok\n" and returned: the common case.
BASE = HeadInput(
    method="GET",
    http11=True,
    wants_close=False,
    wants_http10_keep_alive=False,
    expects_continue=False,
    body_saw_eof=True,
    request_has_body=False,
    status=200,
    handler_done=True,
    first=b"ok\n",
    declared_length=-1,
    has_content_length=False,
    content_length_value="",
    connection="",
    has_connection=False,
    transfer_encoding="",
    has_content_type=False,
    content_encoding="",
    has_date=False,
    keep_alives=True,
    close_after_reply=False,
    date=DATE,
)


def _input(**changes) -> HeadInput:
    return replace(BASE, **changes)


def _http10(keep_alive: bool, **changes) -> HeadInput:
    return _input(http11=False, wants_close=not keep_alive, wants_http10_keep_alive=keep_alive, **changes)


def _handler_length(n: int, **changes) -> HeadInput:
    """The handler set Content-Length: n itself."""
    return _input(declared_length=n, has_content_length=True, content_length_value=str(n), **changes)


def _with_body(**changes) -> HeadInput:
    """A request that carried a body the handler did not read."""
    return _input(**{"request_has_body": True, "body_saw_eof": False, **changes})


# -- keep-alive: closeAfterReply ----------------------------------------------


def test_http11_keeps_the_connection_by_default_with_an_automatic_length():
    # writeHeader: handlerDone && !hasTE && bodyAllowed && no Content-Length -> setHeader.contentLength.
    plan = plan_head(BASE)
    assert not plan.close_after_reply and not plan.chunking
    assert plan.content_length == 3
    assert plan.extra == {"Content-Length": "3", "Content-Type": "text/plain; charset=utf-8", "Date": DATE}
    assert "Connection" not in plan.exclude


def test_a_handler_connection_close_closes_and_keeps_the_handler_s_own_header():
    # header.get("Connection") == "close" -> closeAfterReply; golang/go#36381: not replaced while keep-alives are on.
    plan = plan_head(_input(connection="close", has_connection=True))
    assert plan.close_after_reply
    assert "Connection" not in plan.exclude
    assert "Connection" not in plan.extra


def test_a_handler_connection_with_another_case_does_not_close_as_go_compares_the_string_exactly():
    # Go 1.19 checks header.get("Connection") == "close": "Close" is sent as is and the connection kept.
    plan = plan_head(_input(connection="Close", has_connection=True))
    assert not plan.close_after_reply
    assert "Connection" not in plan.exclude


def test_keep_alives_disabled_close_and_add_connection_close_last():
    # !keepAlivesEnabled -> closeAfterReply, and delConnectionHeader adds "Connection: close" on HTTP/1.1.
    plan = plan_head(_input(keep_alives=False))
    assert plan.close_after_reply
    assert plan.extra["Connection"] == "close"
    assert plan.extra_lines().endswith(b"Connection: close\r\n")


def test_keep_alives_disabled_replace_a_handler_s_connection_close_too():
    # golang/go#36381 keeps the handler's header only while keep-alives are enabled.
    plan = plan_head(_input(keep_alives=False, connection="close", has_connection=True))
    assert plan.close_after_reply
    assert "Connection" in plan.exclude and plan.extra["Connection"] == "close"


def test_a_request_connection_close_closes_with_a_connection_close_header():
    # !ProtoAtLeast(1, 1) || wantsClose -> closeAfterReply.
    plan = plan_head(_input(wants_close=True))
    assert plan.close_after_reply
    assert plan.extra["Connection"] == "close"


def test_http10_without_keep_alive_closes_without_a_connection_header():
    # !ProtoAtLeast(1, 1) -> closeAfterReply; "Connection: close" is only added for HTTP/1.1.
    plan = plan_head(_http10(keep_alive=False))
    assert plan.close_after_reply
    assert "Connection" not in plan.extra
    assert plan.extra["Content-Length"] == "3"


def test_http10_keep_alive_with_a_known_length_keeps_and_adds_connection_keep_alive():
    # wants10KeepAlive && hasCL and no handler Connection -> setHeader.connection = "keep-alive".
    plan = plan_head(_http10(keep_alive=True))
    assert not plan.close_after_reply
    assert plan.extra["Connection"] == "keep-alive"
    assert plan.extra["Content-Length"] == "3"


def test_http10_keep_alive_with_the_handler_s_length_and_connection_keep_alive_stays_open():
    # wants10KeepAlive && keepAlivesEnabled && sentLength && Connection == "keep-alive" -> closeAfterReply = false.
    head = _http10(keep_alive=True, declared_length=3, has_content_length=True, content_length_value="3",
                   connection="keep-alive", has_connection=True)  # fmt: skip
    plan = plan_head(head)
    assert not plan.close_after_reply
    assert "Connection" not in plan.extra and "Connection" not in plan.exclude  # the handler's own header goes out
    assert "Content-Length" not in plan.extra


def test_http10_keep_alive_without_a_length_closes_to_end_the_body():
    # HTTP version < 1.1 without Content-Length: cannot chunk, "signal EOF by closing connection".
    plan = plan_head(_http10(keep_alive=True, handler_done=False, first=b"x" * 2048))
    assert plan.close_after_reply and not plan.chunking
    assert plan.content_length == -1
    assert "Connection" not in plan.extra and "Transfer-Encoding" not in plan.extra
    assert "Transfer-Encoding" in plan.exclude


def test_http10_keep_alive_with_keep_alives_disabled_still_says_keep_alive_but_closes():
    # Go's quirk: setHeader.connection = "keep-alive" was set before !keepAlivesEnabled closed, and
    # delConnectionHeader only replaces it on HTTP/1.1.
    plan = plan_head(_http10(keep_alive=True, keep_alives=False))
    assert plan.close_after_reply
    assert plan.extra["Connection"] == "keep-alive"


# -- framing: length, chunked, until close ------------------------------------


def test_http11_with_an_unknown_length_is_chunked_and_kept():
    # ProtoAtLeast(1, 1) without hasCL: cw.chunking = true, "Transfer-Encoding: chunked", no Content-Length.
    plan = plan_head(_input(handler_done=False, first=b"x" * 2048))
    assert plan.chunking and not plan.close_after_reply
    assert plan.content_length == -1
    assert plan.extra["Transfer-Encoding"] == "chunked"
    assert "Content-Length" in plan.exclude and "Content-Length" not in plan.extra


def test_a_handler_s_own_length_is_not_chunked_and_gets_no_automatic_length():
    # !header.has("Content-Length") fails: no setHeader.contentLength; hasCL -> delHeader("Transfer-Encoding").
    plan = plan_head(_handler_length(3, handler_done=False))
    assert not plan.chunking and plan.content_length == 3
    assert "Content-Length" not in plan.extra and "Content-Length" not in plan.exclude
    assert "Transfer-Encoding" in plan.exclude


def test_an_empty_finished_body_gets_content_length_zero_and_no_content_type():
    # The automatic length is set "even to zero"; DetectContentType only runs on len(p) > 0.
    plan = plan_head(_input(first=b""))
    assert plan.extra["Content-Length"] == "0"
    assert "Content-Type" not in plan.extra


def test_head_with_no_bytes_written_gets_no_length_and_is_not_chunked():
    # (!isHEAD || len(p) > 0): Go cannot tell an empty HEAD body from a handler that skipped it.
    plan = plan_head(_input(method="HEAD", first=b""))
    assert plan.content_length == -1
    assert not plan.chunking and not plan.close_after_reply
    assert "Content-Length" not in plan.extra and "Transfer-Encoding" not in plan.extra


def test_head_with_bytes_written_gets_their_length():
    plan = plan_head(_input(method="HEAD", first=b"hello"))
    assert plan.extra["Content-Length"] == "5"
    assert not plan.chunking


@pytest.mark.parametrize("code, allowed", [(100, False), (199, False), (200, True), (204, False), (205, True),
                                           (304, False), (404, True)])  # fmt: skip
def test_body_allowed_for_status_is_false_for_1xx_204_and_304(code, allowed):
    assert body_allowed_for_status(code) is allowed


def test_suppressed_headers_drop_content_type_only_for_304():
    # suppressedHeaders: 304 also drops Content-Type (RFC 7232 section 4.1).
    assert suppressed_headers(304) == {"Content-Type", "Content-Length", "Transfer-Encoding"}
    assert suppressed_headers(204) == {"Content-Length", "Transfer-Encoding"}


@pytest.mark.parametrize("code", [204, 304])
def test_a_status_without_body_drops_length_and_framing_and_keeps_the_connection(code):
    plan = plan_head(_handler_length(3, status=code, first=b"", has_content_type=True))
    assert suppressed_headers(code) <= plan.exclude
    assert not plan.chunking and not plan.close_after_reply
    assert set(plan.extra) == {"Date"}


def test_transfer_encoding_identity_without_length_closes_instead_of_chunking():
    # "Transfer-Encoding has been set to identity": closeAfterReply, no chunking, the header dropped.
    plan = plan_head(_input(handler_done=False, transfer_encoding="identity"))
    assert plan.close_after_reply and not plan.chunking
    assert "Transfer-Encoding" in plan.exclude
    assert plan.extra["Connection"] == "close"


def test_a_handler_transfer_encoding_gets_no_automatic_length():
    # !hasTE is part of the automatic Content-Length rule.
    plan = plan_head(_input(transfer_encoding="chunked"))
    assert "Content-Length" not in plan.extra
    assert plan.chunking


def test_a_handler_transfer_encoding_other_than_chunked_is_kept_beside_go_s_chunked():
    # if hasTE && te == "chunked" { delHeader("Transfer-Encoding") }: "gzip" goes out, then "chunked".
    plan = plan_head(_input(handler_done=False, transfer_encoding="gzip"))
    assert plan.chunking and plan.extra["Transfer-Encoding"] == "chunked"
    assert "Transfer-Encoding" not in plan.exclude


def test_a_length_with_a_non_identity_transfer_encoding_is_dropped():
    # hasCL && hasTE && te != "identity": "just ignore the Content-Length".
    plan = plan_head(_handler_length(3, transfer_encoding="chunked"))
    assert "Content-Length" in plan.exclude
    assert plan.chunking


def test_content_type_is_sniffed_only_without_type_encoding_or_transfer_encoding():
    assert plan_head(_input(first=b"<html><p>")).extra["Content-Type"] == "text/html; charset=utf-8"
    assert "Content-Type" not in plan_head(_input(has_content_type=True)).extra
    assert "Content-Type" not in plan_head(_input(content_encoding="gzip")).extra  # golang/go#31753


def test_a_handler_date_is_kept_and_no_date_is_added():
    assert "Date" not in plan_head(_input(has_date=True)).extra


# -- draining the request body --------------------------------------------------


def test_should_drain_an_unread_body_on_a_connection_that_stays_open():
    # w.req.ContentLength != 0 && !w.closeAfterReply (golang/go#15527).
    assert should_drain(_with_body())
    assert not should_drain(BASE)  # no body


@pytest.mark.parametrize(
    "changes",
    [{"wants_close": True}, {"keep_alives": False}, {"close_after_reply": True},
     {"connection": "close", "has_connection": True}],
)  # fmt: skip
def test_should_not_drain_when_the_connection_closes_anyway(changes):
    assert not should_drain(_with_body(**changes))


def test_should_not_drain_an_expect_continue_body():
    # The expectContinueReader case: the body was either read to EOF or the connection closes.
    assert not should_drain(_with_body(expects_continue=True, body_saw_eof=True))
    assert should_drain(_with_body(body_saw_eof=True))  # the same body without Expect is drained


def test_an_expect_continue_body_left_unread_closes():
    # expectContinueReader && !ecr.sawEOF -> closeAfterReply.
    assert plan_head(_with_body(expects_continue=True)).close_after_reply
    assert not plan_head(_with_body(expects_continue=True, body_saw_eof=True)).close_after_reply


def test_drain_too_big_closes_says_so_and_marks_the_request_body_limit():
    # tooBig -> w.requestTooLarge(); delHeader("Connection"); setHeader.connection = "close".
    plan = plan_head(_with_body(connection="keep-alive", has_connection=True), Drain.TOO_BIG)
    assert plan.close_after_reply and plan.request_body_limit_hit
    assert "Connection" in plan.exclude
    assert plan.extra["Connection"] == "close"


@pytest.mark.parametrize("drain", [Drain.FAILED, Drain.CLOSED_UNREAD])
def test_drain_failed_or_closed_unread_closes_without_the_limit_mark(drain):
    # A read error, or a body the handler closed before EOF: "whatever remains ... must not be parsed".
    plan = plan_head(_with_body(), drain)
    assert plan.close_after_reply and not plan.request_body_limit_hit
    assert plan.extra["Connection"] == "close"


def test_drain_done_keeps_the_connection():
    plan = plan_head(_with_body(), Drain.DONE)
    assert not plan.close_after_reply and not plan.request_body_limit_hit
    assert "Connection" not in plan.extra


def test_drain_outcomes_are_their_strings():
    assert Drain.TOO_BIG == "too big" and Drain.NOT_NEEDED == "not needed"


# -- the order of Go's extra headers --------------------------------------------


def test_extra_order_is_go_s_extra_header_write_order():
    assert EXTRA_ORDER == ("Date", "Content-Length", "Content-Type", "Connection", "Transfer-Encoding")


def test_extra_lines_follow_extra_order_not_insertion_order():
    plan = HeadPlan(-1, True, True, False, {k: "v" for k in reversed(EXTRA_ORDER)}, frozenset())
    names = [line.split(b":")[0].decode() for line in plan.extra_lines().splitlines()]
    assert names == list(EXTRA_ORDER)


def test_added_headers_of_a_closing_response_come_out_in_go_s_order():
    lines = plan_head(_input(keep_alives=False)).extra_lines()
    assert lines == (
        f"Date: {DATE}\r\nContent-Length: 3\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    ).encode()
    chunked = plan_head(_input(keep_alives=False, handler_done=False)).extra_lines()
    assert chunked.endswith(b"Connection: close\r\nTransfer-Encoding: chunked\r\n")
