"""Bad input answered as Go answers it: 400, 431, 501, 505, 417, or a silent close."""

from __future__ import annotations

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler, ServeMux
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


INT64_MAX = (1 << 63) - 1


@pytest.mark.parametrize("max_header_bytes, status", [(INT64_MAX - 4096, 200), (INT64_MAX - 4095, 431),
                                                     (INT64_MAX, 431)])  # fmt: skip
def test_a_max_header_bytes_whose_read_limit_overflows_int64_answers_431(lab_factory, max_header_bytes, status):
    # server.go initialReadLimitSize: int64(MaxHeaderBytes) + 4096 wraps negative past int64's top,
    # the limit is hit before the first byte, and readRequest's error becomes errTooLarge: 431.
    lab = lab_factory(max_header_bytes=max_header_bytes, rst_avoidance_delay=0.05)
    if status == 200:
        with lab.connect() as client:
            assert client.request(get()).status == 200
        return
    text = b"431 Request Header Fields Too Large"
    assert _exchange(lab, get()) == b"HTTP/1.1 " + text + ERROR_HEADERS + text
    with lab.connect() as client:  # nothing needs to come: Go answers as soon as it reads
        assert client.read_raw_until_close() == b"HTTP/1.1 " + text + ERROR_HEADERS + text
    assert lab.access.records() == []


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


# -- hostile input, answered as the Go 1.23.4 reference answered it ---------------------------------
# Each exchange below was run against _build/go-reference/keepalive-go (tools/go_reference.sh): its
# status line, and whether it kept the connection for another request. The lab server runs the
# reference's ServeMux, and a read timeout long enough that waiting for it would fail the test.

_CHUNKED = "Transfer-Encoding: chunked\r\n"


def _post(headers: str = "", body: bytes = b"", version: str = "1.1") -> bytes:
    host = "Host: lab\r\n" if version == "1.1" else ""
    return f"POST / HTTP/{version}\r\n{host}{headers}\r\n".encode("latin-1") + body


GO_ANSWERS = [
    # (what, request bytes, Go's status line, Go kept the connection)
    ("Content-Length 2^63", _post("Content-Length: 9223372036854775808\r\n"), "HTTP/1.1 400 Bad Request", False),
    ("Content-Length 5, 5", _post("Content-Length: 5, 5\r\n", b"hello"), "HTTP/1.1 400 Bad Request", False),
    ("Content-Length empty", _post("Content-Length: \r\n"), "HTTP/1.1 400 Bad Request", False),
    ("Content-Length +5", _post("Content-Length: +5\r\n", b"hello"), "HTTP/1.1 400 Bad Request", False),
    ("Content-Length 0005000", _post("Content-Length: " + "0" * 5000 + "5\r\n", b"hello"), "HTTP/1.1 200 OK", True),
    ("Content-Length twice, same", _post("Content-Length: 5\r\nContent-Length:  5\r\n", b"hello"), "HTTP/1.1 200 OK",
     True),  # fmt: skip
    ("PRI preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 400 Bad Request", False),
    ("CONNECT authority", b"CONNECT ex.com:443 HTTP/1.1\r\nHost: ex.com:443\r\n\r\n", "HTTP/1.1 301 Moved Permanently",
     True),  # fmt: skip
    ("CONNECT without Host", b"CONNECT ex.com:443 HTTP/1.1\r\n\r\n", "HTTP/1.1 301 Moved Permanently", True),
    ("bad escape", b"GET /%zz HTTP/1.1\r\nHost: lab\r\n\r\n", "HTTP/1.1 400 Bad Request", False),
    ("bad port", b"GET http://ex.co:m/ HTTP/1.1\r\nHost: lab\r\n\r\n", "HTTP/1.1 400 Bad Request", False),
    ("byte 0xFF in path", b"GET /\xff HTTP/1.1\r\nHost: lab\r\n\r\n", "HTTP/1.1 200 OK", True),
    ("space before colon", b"GET / HTTP/1.1\r\nHost: lab\r\nX : y\r\n\r\n",
     "HTTP/1.1 400 Bad Request: invalid header name", False),  # fmt: skip
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: lab\r\nX: a\r\n  b\r\n\r\n", "HTTP/1.1 200 OK", True),
    ("chunk size of 17 hex digits", _post(_CHUNKED, b"00000000000000005\r\nhello\r\n0\r\n\r\n"), "HTTP/1.1 200 OK",
     False),  # fmt: skip
    ("chunk size of 16 hex digits", _post(_CHUNKED, b"0000000000000005\r\nhello\r\n0\r\n\r\n"), "HTTP/1.1 200 OK",
     True),  # fmt: skip
    ("chunk lines in bare LF", _post(_CHUNKED, b"5\nhello\n0\n\n"), "HTTP/1.1 200 OK", False),
    ("size lines in bare LF", _post(_CHUNKED, b"5\nhello\r\n0\n\r\n"), "HTTP/1.1 200 OK", True),
    ("chunk size line of 4096 bytes", _post(_CHUNKED, b"5;" + b"e" * 4092 + b"\r\nhello\r\n0\r\n\r\n"),
     "HTTP/1.1 200 OK", False),  # fmt: skip
    ("Trailer: Content-Length", _post(_CHUNKED + "Trailer: Content-Length\r\n", b"0\r\n\r\n"),
     "HTTP/1.1 400 Bad Request", False),  # fmt: skip
    ("Transfer-Encoding: chunked, chunked", _post("Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"),
     "HTTP/1.1 501 Not Implemented", False),  # fmt: skip
    ("HTTP/1.0 Transfer-Encoding: gzip", _post("Transfer-Encoding: gzip\r\nConnection: keep-alive\r\n", version="1.0"),
     "HTTP/1.0 200 OK", True),  # fmt: skip
    ("Connection: foo close", b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: foo close\r\n\r\n", "HTTP/1.1 200 OK",
     False),  # fmt: skip
    ("HTTP/1.0 Connection: x keep-alive", b"GET / HTTP/1.0\r\nConnection: x keep-alive\r\n\r\n", "HTTP/1.0 200 OK",
     True),  # fmt: skip
    ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: lab\r\n\r\n", "HTTP/1.1 200 OK", True),
]


@pytest.mark.parametrize("data, status, kept", [case[1:] for case in GO_ANSWERS], ids=[case[0] for case in GO_ANSWERS])
def test_hostile_input_is_answered_as_go_answers_it(lab_factory, data, status, kept):
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)), read_timeout=30)
    with lab.connect() as client:
        client.send(data)
        response = client.read_response()
        assert response.head.split("\r\n", 1)[0] == status
        if kept:
            again = get() if b"HTTP/1.0" not in data else get(version="1.0", extra="Connection: keep-alive\r\n")
            assert client.served_again(again)
        else:
            client.read_raw_until_close()  # raises if the server keeps the connection
    assert lab.errors == []


def test_http10_transfer_encoding_is_ignored_so_the_body_bytes_are_the_next_request(lab_factory):
    # transfer.go parseTransferEncoding: `if !t.protoAtLeast(1, 1) { return nil }` (golang/go#12785).
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)), read_timeout=30)
    with lab.connect() as client:
        client.send(_post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n",
                          b"GET /second HTTP/1.1\r\nHost: lab\r\n\r\n", version="1.0"))  # fmt: skip
        assert client.read_response().http_version == "1.0"
        assert client.read_response().status == 200  # "GET /second", framed as a request of its own
    assert [r.target for r in lab.logged(2)] == ["/", "/second"]


def test_a_trailer_that_never_ends_is_cut_off_at_4_kib(lab_factory):
    # transfer.go seeUpcomingDoubleCRLF: the trailer must end within the 4 KiB buffer. The server
    # answers (the unread body makes it close) while the client is still sending.
    lab = lab_factory(read_timeout=30)
    with lab.connect() as client:
        client.send(_post(_CHUNKED, b"5\r\nhello\r\n0\r\nX-T: "))
        sent = 0
        while sent < 1 << 20 and not client.answered_within(0.001):  # the server answers within a few KiB
            client.send(b"a" * 1024)
            sent += 1024
        response = client.read_response()
        assert (response.status, response.header("Connection")) == (200, "close")
        assert sent < 256 << 10
        client.read_raw_until_close()


def test_a_chunked_body_cut_short_before_its_blank_line_waits_for_the_read_deadline(lab_factory):
    # "0\r\n" then a lone LF: body.readTrailer peeks for two bytes and waits; at the deadline the
    # body fails, and Go answers with Connection: close.
    lab = lab_factory(read_timeout=0.5)
    with lab.connect() as client:
        client.send(_post(_CHUNKED, b"5\r\nhello\r\n0\r\n\n"))
        assert client.gets_nothing_for(0.3)
        response = client.read_response()
        assert (response.status, response.header("Connection")) == (200, "close")
