"""ResponseWriter and ConnWriter without a server: Go's response, chunkWriter and conn.bufw on a socketpair."""

from __future__ import annotations

import socket

import pytest
from keepalive_lab.goserver.header import Header
from keepalive_lab.goserver.net import Conn, NetError
from keepalive_lab.goserver.request import MAX_POST_HANDLER_READ_BYTES, Request
from keepalive_lab.goserver.response import BUFFER_BEFORE_CHUNKING, ConnWriter, ResponseWriter

from .conftest import WAIT, FakeSource, fake_request


def _request(method: str = "GET", version: tuple[int, int] = (1, 1), body: FakeSource | None = None,
             content_length: int = 0, connection: str = "") -> Request:  # fmt: skip
    header = Header([("Connection", connection)] if connection else [])
    request = fake_request(method, version=version, header=header, source=body, content_length=content_length)
    request.body.closing = request.close  # as the reader sets it (transfer.go body.closing)
    return request


def _writer(conn: Conn, request: Request | None = None, keep_alives: bool = True) -> ResponseWriter:
    return ResponseWriter(ConnWriter(conn), request or _request(), lambda: keep_alives)


def _wire(conn: Conn, peer: socket.socket) -> bytes:
    """Close our end and read everything the peer got."""
    conn.close()
    chunks = []
    while data := peer.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def _split(raw: bytes) -> tuple[str, list[str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, [line.split(":")[0] for line in lines], body


def _nothing_sent(peer: socket.socket) -> bool:
    peer.setblocking(False)
    try:
        peer.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        peer.settimeout(WAIT)
    return False


# -- buffering: automatic length or chunked -------------------------------------


def test_a_small_finished_body_gets_an_automatic_content_length(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.write(b"ok\n")
    w.finish_request()
    status, names, body = _split(_wire(conn, peer))
    assert status == "HTTP/1.1 200 OK"
    assert names == ["Date", "Content-Length", "Content-Type"]
    assert body == b"ok\n"
    assert w.should_reuse_connection()


def test_small_writes_stay_in_the_2048_byte_buffer_until_the_handler_returns(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.write(b"x" * BUFFER_BEFORE_CHUNKING)
    assert _nothing_sent(peer)
    w.finish_request()
    assert b"Content-Length: 2048\r\n" in _wire(conn, peer)


def test_one_byte_beyond_the_buffer_makes_the_body_chunked(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.write(b"x" * (BUFFER_BEFORE_CHUNKING + 1))
    w.finish_request()
    raw = _wire(conn, peer)
    assert b"Transfer-Encoding: chunked\r\n" in raw and b"Content-Length" not in raw
    assert raw.endswith(b"\r\n\r\n801\r\n" + b"x" * 2049 + b"\r\n0\r\n\r\n")
    assert w.should_reuse_connection()


def test_flush_sends_the_head_at_once_and_makes_the_body_chunked(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.write(b"hi")
    w.flush()
    first = peer.recv(65536)
    assert b"Transfer-Encoding: chunked\r\n" in first
    assert first.endswith(b"\r\n\r\n2\r\nhi\r\n")
    w.write(b"!")
    w.finish_request()
    assert _wire(conn, peer) == b"1\r\n!\r\n0\r\n\r\n"


def test_flush_before_any_body_sends_the_head(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.write_header(200)
    w.flush()
    assert not _nothing_sent(peer)


def test_an_http10_response_without_a_length_ends_with_the_connection(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn, _request(version=(1, 0)))
    w.write(b"x" * 3000)
    w.finish_request()
    status, names, body = _split(_wire(conn, peer))
    assert status == "HTTP/1.0 200 OK"
    assert "Content-Length" not in names and "Transfer-Encoding" not in names
    assert body == b"x" * 3000
    assert not w.should_reuse_connection()


def test_head_sends_the_length_but_not_the_body(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn, _request(method="HEAD"))
    w.write(b"hello")
    w.finish_request()
    raw = _wire(conn, peer)
    assert b"Content-Length: 5\r\n" in raw
    assert raw.endswith(b"\r\n\r\n")


# -- the handler's mistakes -------------------------------------------------------


def test_a_second_write_header_is_ignored(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.write_header(201)
    w.write_header(500)
    w.finish_request()
    assert w.status == 201
    assert _wire(conn, peer).startswith(b"HTTP/1.1 201 Created\r\n")


@pytest.mark.parametrize("code", [99, 1000])
def test_a_status_outside_100_to_999_is_refused(conn_pair, code):
    w = _writer(conn_pair[0])
    with pytest.raises(ValueError, match="invalid WriteHeader code"):
        w.write_header(code)
    assert not w.wrote_header


def test_a_status_without_a_text_gets_go_s_status_code_phrase(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.write_header(599)
    w.finish_request()
    assert _wire(conn, peer).startswith(b"HTTP/1.1 599 status code 599\r\n")


def test_writing_a_body_on_204_is_refused(conn_pair):
    w = _writer(conn_pair[0])
    w.write_header(204)
    with pytest.raises(ValueError, match="does not allow body"):
        w.write(b"x")
    assert w.write(b"") == 0  # an empty write is fine (Go returns 0, nil)


def test_writing_more_than_the_declared_content_length_raises(conn_pair):
    w = _writer(conn_pair[0])
    w.header().set("Content-Length", "3")
    assert w.write(b"abc") == 3
    with pytest.raises(ValueError, match="more than the declared Content-Length"):
        w.write(b"d")


@pytest.mark.parametrize("declared, reuse", [("10", False), ("3", True)])
def test_a_body_shorter_than_its_declared_length_forbids_reuse_an_exact_one_allows_it(conn_pair, declared, reuse):
    conn, peer = conn_pair
    w = _writer(conn)
    w.header().set("Content-Length", declared)
    w.write(b"abc")
    w.finish_request()
    assert w.should_reuse_connection() == reuse
    assert _wire(conn, peer).endswith(b"\r\n\r\nabc")


def test_an_invalid_handler_content_length_makes_http11_chunked(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.header().set("Content-Length", "abc")
    w.write(b"ok\n")
    w.finish_request()
    raw = _wire(conn, peer)
    assert b"Transfer-Encoding: chunked\r\n" in raw and b"Content-Length" not in raw


# -- connection reuse ----------------------------------------------------------


def test_a_write_error_is_remembered_and_forbids_reuse(conn_pair):
    conn, peer = conn_pair
    peer.close()  # the client is gone: sendall fails with EPIPE
    out = ConnWriter(conn)
    w = ResponseWriter(out, _request(), lambda: True)
    w.write(b"ok\n")
    w.finish_request()
    assert isinstance(out.error, NetError)
    assert not w.should_reuse_connection()


def test_request_too_large_before_the_head_closes_with_the_handler_s_connection_close(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn)
    w.request_too_large()
    w.write(b"ok\n")
    w.finish_request()
    assert w.request_body_limit_hit
    assert not w.should_reuse_connection()
    _, names, _ = _split(_wire(conn, peer))
    assert names == ["Connection", "Date", "Content-Length", "Content-Type"]  # the handler's, sorted first


def test_a_small_unread_request_body_is_drained_and_the_connection_kept(conn_pair):
    source = FakeSource(b"y" * 10)
    w = _writer(conn_pair[0], _request(method="POST", body=source, content_length=10))
    w.finish_request()
    assert source.served == 10
    assert w.should_reuse_connection()


def test_an_unread_request_body_beyond_256_kib_is_not_read_and_closes(conn_pair):
    conn, peer = conn_pair
    size = MAX_POST_HANDLER_READ_BYTES + 1
    source = FakeSource(b"y" * size)
    w = _writer(conn, _request(method="POST", body=source, content_length=size))
    w.write(b"ok\n")
    w.finish_request()
    assert source.served == 0
    assert w.request_body_limit_hit and not w.should_reuse_connection()
    assert b"\r\nConnection: close\r\n\r\nok\n" in _wire(conn, peer)


def test_a_request_connection_close_is_answered_with_connection_close(conn_pair):
    conn, peer = conn_pair
    w = _writer(conn, _request(connection="Close"))
    w.write(b"ok\n")
    w.finish_request()
    assert not w.should_reuse_connection()
    assert _wire(conn, peer).endswith(b"\r\nConnection: close\r\n\r\nok\n")


def test_keep_alives_are_read_when_the_head_is_written(conn_pair):
    conn, peer = conn_pair
    enabled = [True]
    w = ResponseWriter(ConnWriter(conn), _request(), lambda: enabled[0])
    w.write(b"ok\n")
    enabled[0] = False  # SetKeepAlivesEnabled(false) while the handler runs
    w.finish_request()
    assert not w.should_reuse_connection()
    assert b"Connection: close\r\n" in _wire(conn, peer)


# -- ConnWriter: Go's 4 KiB bufw with werr --------------------------------------


def test_conn_writer_holds_bytes_until_4_kib_or_flush(conn_pair):
    conn, peer = conn_pair
    out = ConnWriter(conn)
    out.write(b"a" * 100)
    assert _nothing_sent(peer)
    out.write(b"b" * (ConnWriter.SIZE - 100))
    assert len(peer.recv(65536, socket.MSG_WAITALL)) == ConnWriter.SIZE


def test_conn_writer_drops_writes_after_its_first_error(conn_pair):
    conn, peer = conn_pair
    peer.close()
    out = ConnWriter(conn)
    out.write(b"x")
    out.flush()
    first = out.error
    out.write(b"y")
    out.flush()
    assert first is not None and out.error is first
    assert out.buf == b""
