"""The answers Go's server writes itself: read errors (server.go conn.serve) and OPTIONS * (globalOptionsHandler)."""

from __future__ import annotations

import pytest
from keepalive_lab.goserver.replies import global_options_handler, is_global_options, read_error_reply
from keepalive_lab.goserver.request import BadRequest, ClientGone, HeaderTooLarge, Request, UnsupportedTransferEncoding
from keepalive_lab.goserver.response import ConnWriter, ResponseWriter

from .conftest import FakeSource, fake_request

ERROR_HEADERS = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"


def _request(method: str = "OPTIONS", target: str = "*", body: bytes = b"") -> Request:
    return fake_request(method, target, source=FakeSource(body), content_length=len(body))


# -- read_error_reply ---------------------------------------------------------


def test_a_client_gone_gets_no_reply():
    # isCommonNetReadError: "don't reply".
    assert read_error_reply(ClientGone()) == (b"", False)


def test_a_head_too_large_gets_431_and_close_write_and_wait():
    reply, close_write = read_error_reply(HeaderTooLarge())
    text = b"431 Request Header Fields Too Large"
    assert reply == b"HTTP/1.1 " + text + ERROR_HEADERS + text
    assert close_write  # the only read error Go answers with closeWriteAndWait


def test_an_unsupported_transfer_encoding_gets_501():
    reply, close_write = read_error_reply(UnsupportedTransferEncoding())
    assert reply == b"HTTP/1.1 501 Not Implemented" + ERROR_HEADERS + b"Unsupported transfer encoding"
    assert not close_write


def test_a_bad_request_without_text_gets_a_plain_400():
    reply, close_write = read_error_reply(BadRequest())
    assert reply == b"HTTP/1.1 400 Bad Request" + ERROR_HEADERS + b"400 Bad Request"
    assert not close_write


@pytest.mark.parametrize(
    "error, text",
    [
        (BadRequest("missing required Host header"), b"400 Bad Request: missing required Host header"),
        (BadRequest("unsupported protocol version", status=505),
         b"505 HTTP Version Not Supported: unsupported protocol version"),
    ],
)  # fmt: skip
def test_a_status_error_puts_go_s_detail_in_the_status_line_and_the_body(error, text):
    reply, _ = read_error_reply(error)
    assert reply == b"HTTP/1.1 " + text + ERROR_HEADERS + text


# -- OPTIONS * ----------------------------------------------------------------


@pytest.mark.parametrize(
    "method, target, global_options",
    [("OPTIONS", "*", True), ("OPTIONS", "/", False), ("GET", "*", False), ("options", "*", False)],
)
def test_only_options_star_is_answered_by_the_server_itself(method, target, global_options):
    assert is_global_options(_request(method, target)) is global_options


def test_options_star_gets_an_empty_200_on_a_kept_connection(conn_pair):
    conn, peer = conn_pair
    w = ResponseWriter(ConnWriter(conn), _request(), lambda: True)
    global_options_handler(w, w.request)
    w.finish_request()
    conn.close()
    raw = peer.recv(65536)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: ")
    assert raw.endswith(b" GMT\r\n\r\n")
    assert w.should_reuse_connection()


@pytest.mark.parametrize("size, too_large", [(4096, False), (4097, True)])
def test_an_options_body_beyond_4_kib_closes_the_connection(conn_pair, size, too_large):
    # MaxBytesReader(w, r.Body, 4<<10) calls requestTooLarge once its limit is passed.
    request = _request(body=b"x" * size)
    w = ResponseWriter(ConnWriter(conn_pair[0]), request, lambda: True)
    global_options_handler(w, request)
    assert request.body.consumed == size
    assert w.request_body_limit_hit is too_large
    assert (w.header().get("Connection") == "close") is too_large
