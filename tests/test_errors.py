"""Bad input answered as Go answers it: 400, 431, 501, 505, 417, or a silent close."""

from __future__ import annotations

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.records import ConnState

from .conftest import get

ERROR_HEADERS = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"


def _exchange(lab, data: bytes, half_close: bool = False) -> bytes:
    with lab.connect() as client:
        client.send(data)
        if half_close:
            client.sock.shutdown(1)  # SHUT_WR: the server sees EOF after our bytes
        return client.read_raw_until_close()


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: lab\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: lab\r\n\r\n",
        b"GET relative HTTP/1.1\r\nHost: lab\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: lab\r\nX-Bad: a\x01b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: lab\r\nContent-Length: nope\r\n\r\n",
    ],
)
def test_malformed_requests_get_400_and_a_close(lab_factory, data):
    lab = lab_factory()
    assert _exchange(lab, data) == b"HTTP/1.1 400 Bad Request" + ERROR_HEADERS + b"400 Bad Request"
    assert lab.access.records() == []  # the handler never ran


def test_a_bad_request_line_is_rejected_before_the_head_ends(lab_factory):
    lab = lab_factory(read_timeout=30)
    with lab.connect() as client:
        client.send(b"NOT AN HTTP REQUEST LINE\r\n")  # no blank line: Go judges the line at once
        assert client.read_raw_until_close(timeout=2.0).startswith(b"HTTP/1.1 400 Bad Request")


def test_missing_host_on_http11(lab_factory):
    lab = lab_factory()
    text = b"400 Bad Request: missing required Host header"
    assert _exchange(lab, get(host=None)) == b"HTTP/1.1 " + text + ERROR_HEADERS + text


def test_malformed_host(lab_factory):
    lab = lab_factory()
    text = b"400 Bad Request: malformed Host header"
    assert _exchange(lab, get(host="a b/c")) == b"HTTP/1.1 " + text + ERROR_HEADERS + text


def test_http2_version_gets_505(lab_factory):
    lab = lab_factory()
    text = b"505 HTTP Version Not Supported: unsupported protocol version"
    assert _exchange(lab, get(version="2.0")) == b"HTTP/1.1 " + text + ERROR_HEADERS + text


def test_unsupported_transfer_encoding_gets_501(lab_factory):
    lab = lab_factory()
    data = b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: gzip\r\n\r\n"
    assert _exchange(lab, data) == b"HTTP/1.1 501 Not Implemented" + ERROR_HEADERS + b"Unsupported transfer encoding"


def test_unknown_expectation_gets_417(lab_factory):
    lab = lab_factory()
    raw = _exchange(lab, get(extra="Expect: teapot\r\n"))
    assert raw.startswith(b"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: ")


@pytest.mark.parametrize("max_header_bytes", [1024, 4096])
def test_header_size_boundary(lab_factory, max_header_bytes):
    lab = lab_factory(max_header_bytes=max_header_bytes, rst_avoidance_delay=0.2)
    limit = max_header_bytes + 4096  # Go reads MaxHeaderBytes + 4096 bytes of "bufio slop"
    head = b"GET / HTTP/1.1\r\nHost: lab\r\nX-Pad: "
    fits = head + b"p" * (limit - len(head) - 4) + b"\r\n\r\n"
    assert len(fits) == limit
    with lab.connect() as client:
        assert client.request(fits).status == 200
    too_big = head + b"p" * (limit - len(head) - 3) + b"\r\n\r\n"
    text = b"431 Request Header Fields Too Large"
    assert _exchange(lab, too_big) == b"HTTP/1.1 " + text + ERROR_HEADERS + text


def test_default_max_header_bytes_is_one_mebibyte(lab_factory):
    lab = lab_factory(rst_avoidance_delay=0.2)
    pad = b"X-Pad: " + b"p" * ((1 << 20) + 4096) + b"\r\n"  # beyond 1 MiB + 4096
    raw = _exchange(lab, b"GET / HTTP/1.1\r\nHost: lab\r\n" + pad + b"\r\n")
    assert raw.startswith(b"HTTP/1.1 431 ")


def test_a_connection_that_sends_nothing_is_closed_silently_at_its_deadline(lab_factory):
    lab = lab_factory(read_timeout=0.3)
    with lab.connect() as client:
        assert 0.25 <= client.wait_closed() < 2.5
    assert lab.wait_closed(1)
    assert [e.state for e in lab.states.records()] == [ConnState.NEW, ConnState.CLOSED]  # never active


def test_a_stall_at_a_line_boundary_mid_header_closes_silently(lab_factory):
    lab = lab_factory(read_timeout=0.3)
    with lab.connect() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: lab\r\n")
        assert 0.25 <= client.wait_closed() < 2.5


def test_read_header_timeout_applies_before_read_timeout(lab_factory):
    lab = lab_factory(read_timeout=5, read_header_timeout=0.3)
    with lab.connect() as client:
        client.send(b"GET / HTTP/1.1\r\n")
        assert 0.25 <= client.wait_closed() < 2.5


def test_eof_mid_header_is_an_unexpected_eof_and_a_400(lab_factory):
    lab = lab_factory()
    raw = _exchange(lab, b"GET / HTTP/1.1\r\nHost: lab\r\n", half_close=True)
    assert raw == b"HTTP/1.1 400 Bad Request" + ERROR_HEADERS + b"400 Bad Request"


def test_eof_before_any_byte_closes_silently(lab_factory):
    lab = lab_factory()
    assert _exchange(lab, b"", half_close=True) == b""


def test_a_peer_that_resets_mid_request_costs_nothing(lab_factory):
    lab = lab_factory(limit=1, read_timeout=30)
    client = lab.connect()
    client.send(b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 1000\r\n\r\npartial")
    client.reset()
    assert lab.wait_closed(1)
    assert lab.listener.connections == 0  # the slot came back
    with lab.connect() as after:
        assert after.request(get()).status == 200
    assert lab.errors == []  # no traceback, no log line


def test_a_write_past_the_write_timeout_never_reaches_the_client(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.4), write_timeout=0.2)  # the work outlasts WriteTimeout
    with lab.connect() as client:
        client.send(get())
        assert client.read_raw_until_close() == b""
    (record,) = lab.logged(1)
    assert record.write_error  # the handler ran and is logged, but its write failed
