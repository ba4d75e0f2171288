"""Go's keep-alive decision (server.go chunkWriter.writeHeader, shouldReuseConnection)."""

from __future__ import annotations

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler, body_of
from keepalive_lab.records import ConnState

from .conftest import get


def _same_connection_serves_twice(lab, client, request: bytes, earlier: int = 0) -> bool:
    first = client.request(request)
    second = client.request(request)
    conn_ids = {r.conn_id for r in lab.logged(earlier + 2)}
    return first.status == second.status == 200 and len(conn_ids) == 1


def test_http11_keeps_alive_by_default_with_an_explicit_length(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0, content_length=True))
    with lab.connect() as client:
        assert _same_connection_serves_twice(lab, client, get())
        assert client.request(get()).header("Connection") is None  # no header on a kept 1.1 connection
    states = [e.state for e in lab.states.records()]
    assert states[:4] == [ConnState.NEW, ConnState.ACTIVE, ConnState.IDLE, ConnState.ACTIVE]


@pytest.mark.parametrize("size", [3, 2049, 70_000])
def test_http11_keeps_alive_without_an_explicit_length_even_chunked(lab_factory, size):
    lab = lab_factory(ArticleHandler(latency=0, body_bytes=size, content_length=False))
    with lab.connect() as client:
        response = client.request(get())
        assert response.body == body_of(size)
        assert client.request(get()).status == 200
    assert len({r.conn_id for r in lab.logged(2)}) == 1


def test_set_keep_alives_enabled_false_closes_after_each_response(lab_factory):
    lab = lab_factory(keep_alives=False)
    with lab.connect() as client:
        response = client.request(get())
        assert response.header("Connection") == "close"
        assert response.header_names[-1] == "Connection"  # an extra header, after Content-Type
        assert client.wait_closed() < 2.0  # at once: no timeout is set, so a kept connection would stay open


def test_request_connection_close_closes(lab_factory):
    lab = lab_factory()
    with lab.connect() as client:
        response = client.request(get(extra="Connection: close\r\n"))
        assert response.header("Connection") == "close"
        assert client.wait_closed() < 2.0  # at once: no timeout is set, so a kept connection would stay open


def test_handler_connection_close_closes_and_stays_among_the_sorted_headers(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0, conn_close=True))
    with lab.connect() as client:
        response = client.request(get())
        # golang/go#36381: the handler's own header is kept (sorted with the handler's headers).
        assert response.header_names == ["Connection", "Content-Length", "Date", "Content-Type"]
        assert client.wait_closed() < 2.0  # at once: no timeout is set, so a kept connection would stay open


def test_http10_without_keep_alive_closes_without_a_connection_header(lab_factory):
    lab = lab_factory()
    with lab.connect() as client:
        response = client.request(get(version="1.0", host=None))
        assert response.http_version == "1.0"
        assert response.header("Connection") is None
        assert client.wait_closed() < 2.0  # at once: no timeout is set, so a kept connection would stay open


def test_http10_keep_alive_with_a_known_length_stays_open(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0, content_length=False))
    request = get(version="1.0", host=None, extra="Connection: keep-alive\r\n")
    with lab.connect() as client:
        response = client.request(request)
        assert response.header("Connection") == "keep-alive"
        assert response.header("Content-Length") == "3"
        assert _same_connection_serves_twice(lab, client, request, earlier=1)


def test_http10_keep_alive_without_a_length_closes(lab_factory):
    # Beyond 2048 bytes Go cannot compute a length, and HTTP/1.0 cannot chunk: EOF ends the body.
    lab = lab_factory(ArticleHandler(latency=0, body_bytes=5000, content_length=False))
    with lab.connect() as client:
        client.send(get(version="1.0", host=None, extra="Connection: keep-alive\r\n"))
        raw = client.read_raw_until_close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length" not in head and b"Transfer-Encoding" not in head
    assert body == body_of(5000)


def _post(size: int, chunked: bool = False) -> bytes:
    body = b"x" * size
    if chunked:
        framing = b"Transfer-Encoding: chunked\r\n\r\n" + f"{size:x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        return b"POST / HTTP/1.1\r\nHost: lab\r\n" + framing
    return b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: " + str(size).encode() + b"\r\n\r\n" + body


@pytest.mark.parametrize("chunked", [False, True])
def test_unread_body_of_100_kib_is_discarded_and_the_connection_kept(lab_factory, chunked):
    lab = lab_factory()
    with lab.connect() as client:
        response = client.request(_post(100 * 1024, chunked))
        assert response.header("Connection") is None
        assert client.request(get()).status == 200
    assert len({r.conn_id for r in lab.logged(2)}) == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_unread_body_of_300_kib_closes_the_connection(lab_factory, chunked):
    lab = lab_factory(rst_avoidance_delay=0.2)
    with lab.connect() as client:
        client.send(_post(300 * 1024, chunked))
        response = client.read_response()
        assert response.status == 200
        assert response.header("Connection") == "close"
        assert response.header_names[-1] == "Connection"
    assert lab.wait_closed(1)


@pytest.mark.parametrize("unread, kept", [(256 * 1024 - 1, True), (256 * 1024, False)])
def test_the_256_kib_boundary_of_a_declared_length(lab_factory, unread, kept):
    lab = lab_factory(rst_avoidance_delay=0.2)
    with lab.connect() as client:
        client.send(_post(unread))
        response = client.read_response()
        assert (response.header("Connection") is None) is kept
        if kept:
            assert client.request(get()).status == 200


def test_a_short_body_from_the_handler_closes_the_connection(lab_factory):
    def short(w, r):
        w.header().set("Content-Length", "10")
        w.write(b"abc")

    lab = lab_factory(short)
    with lab.connect() as client:
        client.send(get())
        raw = client.read_raw_until_close()
    assert raw.endswith(b"\r\n\r\nabc")  # Go sends what it has, then hangs up to stay in sync


def test_disabling_keep_alives_closes_connections_idle_right_now(lab_factory):
    lab = lab_factory(limit=1, read_timeout=30)
    with lab.connect() as idle, lab.connect() as queued:
        assert idle.request(get()).status == 200
        assert lab.wait_state(ConnState.IDLE)
        queued.send(get())
        assert queued.gets_nothing_for(0.2)
        lab.server.set_keep_alives_enabled(False)  # SetKeepAlivesEnabled(false) -> closeIdleConns
        assert idle.wait_closed() < 2.0
        response = queued.read_response()  # the freed slot lets the queued connection in
        assert response.status == 200
        assert response.header("Connection") == "close"
