"""Go's Request and body rules (request.go, transfer.go) and reading requests off a socket (server.go readRequest)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from keepalive_lab.goserver.header import Header
from keepalive_lab.goserver.net import ConnReset
from keepalive_lab.goserver.reader import READ_LIMIT_SLOP, RequestReader
from keepalive_lab.goserver.request import (
    MAX_POST_HANDLER_READ_BYTES,
    BadRequest,
    ClientGone,
    HeaderTooLarge,
    Request,
    RequestBody,
    UnsupportedTransferEncoding,
)

from .conftest import WAIT, FakeSource, fake_request


def _request(version: str = "1.1", **headers: str) -> Request:
    major, minor = (int(x) for x in version.split("."))
    header = Header((k.replace("_", "-"), v) for k, v in headers.items())
    return fake_request(version=(major, minor), header=header)


# -- Request: Go's Close, wantsClose, wantsHttp10KeepAlive ---------------------


@pytest.mark.parametrize(
    "version, connection, close",
    [
        ("1.1", None, False),  # HTTP/1.1 keeps by default
        ("1.1", "close", True),
        ("1.1", "Close", True),  # a token: case-insensitive (httpguts.HeaderValuesContainsToken)
        ("1.1", "keep-alive, CLOSE", True),
        ("1.1", "closed", False),  # a whole token, not a prefix
        ("1.0", None, True),  # HTTP/1.0 closes unless it asks for keep-alive
        ("1.0", "keep-alive", False),
        ("1.0", "Keep-Alive", False),
        ("1.0", "keep-alive, close", True),
    ],
)
def test_request_close_follows_go_s_should_close(version, connection, close):
    request = _request(version, **({} if connection is None else {"Connection": connection}))
    assert request.close is close
    assert request.wants_close() is close


def test_request_close_looks_at_every_connection_line():
    header = Header([("Connection", "upgrade"), ("Connection", "close")])
    request = Request("GET", "/", 1, 1, header, "lab", 0, "peer", body=RequestBody(FakeSource(), 0))
    assert request.close


@pytest.mark.parametrize(
    "version, connection, wants",
    [("1.0", "keep-alive", True), ("1.0", "KEEP-ALIVE", True), ("1.0", "", False), ("1.1", "keep-alive", False)],
)
def test_wants_http10_keep_alive_only_for_http10_asking_for_it(version, connection, wants):
    assert _request(version, Connection=connection).wants_http10_keep_alive() is wants


def test_expects_continue_is_a_case_insensitive_token():
    assert _request(Expect="100-Continue").expects_continue()
    assert not _request(Expect="100-continuez").expects_continue()
    assert not _request().expects_continue()


# server.go's wantsClose, wantsHttp10KeepAlive and expectsContinue use net/http's hasToken (header.go),
# whose token boundaries are space, comma and tab; Request.Close uses httpguts (commas only).


def test_wants_close_finds_close_after_a_space_but_request_close_does_not():
    request = _request("1.1", Connection="foo close")
    assert not request.close  # httpguts.HeaderValuesContainsToken: "foo close" is one element
    assert request.wants_close()


def test_wants_http10_keep_alive_finds_keep_alive_after_a_space():
    assert _request("1.0", Connection="foo keep-alive").wants_http10_keep_alive()


def test_expects_continue_finds_100_continue_after_a_space():
    assert _request(Expect="foo 100-continue").expects_continue()


def test_proto_and_proto_at_least():
    request = _request("1.0")
    assert request.proto == "HTTP/1.0"
    assert request.proto_at_least(1, 0) and not request.proto_at_least(1, 1)
    assert _request("1.1").proto_at_least(1, 1)


# -- RequestBody: lazy reads, discard, Go's body.Close with doEarlyClose ---------


def test_body_reads_until_eof_and_counts_what_it_read():
    source = FakeSource(b"hello")
    body = RequestBody(source, 5)
    assert body.read(3) == b"hel"
    assert body.unread_size() == 2 and not body.saw_eof
    # transfer.go body.readLocked: the read that takes a declared length's last byte returns io.EOF
    # with it and sets sawEOF; no further, empty, read is needed.
    assert body.read() == b"lo"
    assert body.saw_eof and body.consumed == 5
    assert body.read() == b"" and source.calls == 2


class _EndingSource(FakeSource):
    """A source that says its end came with its last bytes, as Go's chunked reader does."""

    def read_body(self, max_bytes: int) -> tuple[bytes, bool]:
        data, _ = super().read_body(max_bytes)
        return data, self.served == len(self.data)


def test_a_body_without_a_length_ends_when_its_reader_says_so_or_at_an_empty_read():
    body = RequestBody(_EndingSource(b"abc"), -1)
    assert body.read(2) == b"ab" and not body.saw_eof
    assert body.read() == b"c" and body.saw_eof  # io.EOF with the data
    plain = RequestBody(FakeSource(b"abc"), -1)
    assert plain.read() == b"abc" and not plain.saw_eof
    assert plain.read() == b"" and plain.saw_eof


def test_an_empty_body_is_at_eof_without_reading():
    source = FakeSource(b"unrelated")
    body = RequestBody(source, 0)
    assert body.saw_eof and body.read() == b""
    assert source.calls == 0


def test_a_chunked_body_has_no_unread_size():
    assert RequestBody(FakeSource(b"abc"), -1).unread_size() == -1


def test_the_first_handler_read_calls_on_first_read_once():
    # Go's expectContinueReader: the handler's first Read sends "100 Continue".
    calls = []
    body = RequestBody(FakeSource(b"abc"), 3)
    body.on_first_read = lambda: calls.append("continue")
    body.read(1)
    body.read(1)
    assert calls == ["continue"]


def test_discarding_does_not_send_100_continue():
    calls = []
    body = RequestBody(FakeSource(b"abc"), 3)
    body.on_first_read = lambda: calls.append("continue")
    assert body.discard(10) == (3, "eof")
    assert calls == []


def test_discard_stops_at_its_limit():
    body = RequestBody(FakeSource(b"x" * 100), 100)
    assert body.discard(40) == (40, "limit")
    assert body.unread_size() == 60


def test_a_read_error_is_remembered_and_discard_reports_it():
    failure = ConnReset("reset")
    body = RequestBody(FakeSource(b"ab", fail=failure), 10)
    assert body.discard(100) == (2, "error")
    # A copy is kept, without the traceback whose frames would hold the body in a reference cycle.
    assert type(body.read_error) is ConnReset and str(body.read_error) == "reset"
    assert body.read_error.__traceback__ is None
    with pytest.raises(ConnReset):
        body.read()


def test_close_early_reads_a_small_rest_so_the_connection_can_be_reused():
    source = FakeSource(b"x" * 1000)
    body = RequestBody(source, 1000)
    body.close_early()
    assert source.served == 1000
    assert body.closed and not body.early_close


def test_close_early_gives_up_at_once_beyond_256_kib():
    # transfer.go body.Close: lr.N > maxPostHandlerReadBytes -> earlyClose without reading.
    source = FakeSource(b"x" * (MAX_POST_HANDLER_READ_BYTES + 1))
    body = RequestBody(source, MAX_POST_HANDLER_READ_BYTES + 1)
    body.close_early()
    assert source.calls == 0
    assert body.early_close


@pytest.mark.parametrize("rest, early", [(MAX_POST_HANDLER_READ_BYTES - 1, False), (MAX_POST_HANDLER_READ_BYTES, True)])
def test_close_early_of_exactly_256_kib_reads_it_all_and_still_counts_as_early(rest, early):
    # io.CopyN(io.Discard, b, 256 KiB) returns n == 256 KiB without seeing EOF: earlyClose.
    source = FakeSource(b"x" * rest)
    body = RequestBody(source, rest)
    body.close_early()
    assert source.served == rest
    assert body.early_close is early


def test_close_early_skips_a_declared_length_when_the_connection_closes_anyway():
    # transfer.go body.Close: "no trailer and closing the connection next. no point in reading to EOF".
    source = FakeSource(b"x" * 10)
    RequestBody(source, 10, closing=True).close_early()
    assert source.calls == 0


def test_close_early_still_reads_a_chunked_body_when_the_connection_closes():
    source = FakeSource(b"x" * 10)
    RequestBody(source, -1, closing=True).close_early()
    assert source.served == 10


def test_close_early_runs_once():
    source = FakeSource(b"x" * 10)
    body = RequestBody(source, 10)
    body.close_early()
    calls = source.calls
    body.close_early()
    assert source.calls == calls


# -- RequestReader over a socketpair -------------------------------------------


@pytest.fixture
def wire(conn_pair):
    """``(send, reader_for)``: send bytes from the client end; a reader on the server end with a deadline."""
    conn, theirs = conn_pair
    conn.set_read_deadline(time.monotonic() + WAIT)

    def send(data: bytes, eof: bool = True) -> None:
        theirs.sendall(data)
        if eof:
            theirs.shutdown(socket.SHUT_WR)

    def reader_for(max_header_bytes: int = 1 << 20) -> RequestReader:
        return RequestReader(conn, max_header_bytes)

    return send, reader_for, conn


def _body(request: Request) -> bytes:
    data = b""
    while chunk := request.body.read():
        data += chunk
    return data


def test_the_reader_parses_the_request_line_and_canonical_headers(wire):
    send, reader_for, _ = wire
    send(b"GET /path?q=1 HTTP/1.1\r\nhost: lab:8080\r\nx-request-id: r1\r\nconnection: Close\r\n\r\n")
    request = reader_for().read_request()
    assert (request.method, request.target, request.proto) == ("GET", "/path?q=1", "HTTP/1.1")
    assert request.host == "lab:8080" and "Host" not in request.header  # Go moves Host out of the header
    assert request.header.get("X-Request-Id") == "r1"
    assert request.remote_addr == "127.0.0.1:2"
    assert request.close  # "Connection: Close" closes: tokens are case-insensitive
    assert request.body.closing


def test_the_reader_frames_a_content_length_body_and_the_next_request(wire):
    send, reader_for, _ = wire
    send(b"POST /a HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: lab\r\n\r\n")
    reader = reader_for()
    first = reader.read_request()
    assert first.content_length == 5 and _body(first) == b"hello"
    second = reader.read_request()
    assert second.target == "/b" and second.body.saw_eof


@pytest.mark.parametrize("framing, body", [("Content-Length: 5", b"hello"),
                                           ("Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n")])  # fmt: skip
def test_one_read_of_a_whole_body_reaches_its_end(wire, framing, body):
    # transfer.go body.readLocked: a declared length at 0, or the chunked reader's io.EOF (the last
    # chunk already buffered), comes with the last bytes: sawEOF is set by the read that returns them.
    send, reader_for, _ = wire
    send(f"POST / HTTP/1.1\r\nHost: lab\r\n{framing}\r\n\r\n".encode() + body, eof=False)
    request = reader_for().read_request()
    assert request.body.read(64) == b"hello" and request.body.saw_eof


def test_the_reader_frames_a_chunked_body_with_an_unknown_length(wire):
    send, reader_for, _ = wire
    send(b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    request = reader_for().read_request()
    assert request.content_length == -1
    assert _body(request) == b"abcde"


def test_an_absolute_form_target_s_host_wins_over_the_host_header(wire):
    send, reader_for, _ = wire
    send(b"GET http://other/ HTTP/1.1\r\nHost: lab\r\n\r\n")
    assert reader_for().read_request().host == "other"


def test_http10_needs_no_host(wire):
    send, reader_for, _ = wire
    send(b"GET / HTTP/1.0\r\n\r\n")
    request = reader_for().read_request()
    assert request.host == "" and request.close


@pytest.mark.parametrize(
    "head, status, text",
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400, "missing required Host header"),  # HTTP/1.1 without a Host
        (b"GET / HTTP/1.1\r\nHost: a<b\r\n\r\n", 400, "malformed Host header"),
        (b"GET / HTTP/2.0\r\nHost: lab\r\n\r\n", 505, "unsupported protocol version"),  # a major version other than 1
    ],
)
def test_a_bad_request_gets_go_s_status_and_text(wire, head, status, text):
    send, reader_for, _ = wire
    send(head)
    with pytest.raises(BadRequest) as caught:
        reader_for().read_request()
    assert (caught.value.status, caught.value.text) == (status, text)


def test_a_transfer_encoding_other_than_chunked_is_unsupported(wire):
    send, reader_for, _ = wire
    send(b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: gzip\r\n\r\n")
    with pytest.raises(UnsupportedTransferEncoding):
        reader_for().read_request()


def test_a_head_beyond_max_header_bytes_plus_4096_is_too_large(wire):
    send, reader_for, _ = wire
    reader = reader_for(max_header_bytes=100)
    assert reader.read_limit == 100 + READ_LIMIT_SLOP
    send(b"GET / HTTP/1.1\r\nHost: lab\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    with pytest.raises(HeaderTooLarge):
        reader.read_request()


@pytest.mark.parametrize("beyond, fits", [(0, True), (1, False)])
def test_a_head_of_exactly_the_read_limit_fits_and_one_byte_more_does_not(wire, beyond, fits):
    send, reader_for, _ = wire
    head = b"GET / HTTP/1.1\r\nHost: lab\r\nX-Big: "
    filler = 100 + READ_LIMIT_SLOP - len(head) - 4 + beyond
    send(head + b"a" * filler + b"\r\n\r\n")
    reader = reader_for(max_header_bytes=100)
    if fits:
        assert reader.read_request().header.get("X-Big") == "a" * filler
    else:
        with pytest.raises(HeaderTooLarge):
            reader.read_request()


def test_leading_blank_lines_are_skipped_after_a_post(wire):
    # server.go: after a POST, numLeadingCRorLF of Peek(4) is discarded (RFC 7230 section 3).
    send, reader_for, _ = wire
    send(b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 2\r\n\r\nhi\r\nGET /next HTTP/1.1\r\nHost: lab\r\n\r\n")
    reader = reader_for()
    assert _body(reader.read_request()) == b"hi"
    assert reader.read_request().target == "/next"


def test_a_leading_blank_line_after_a_get_is_a_bad_request(wire):
    send, reader_for, _ = wire
    send(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n\r\nGET /next HTTP/1.1\r\nHost: lab\r\n\r\n")
    reader = reader_for()
    reader.read_request()
    with pytest.raises(BadRequest):
        reader.read_request()


def test_eof_before_any_byte_is_a_client_gone(wire):
    send, reader_for, _ = wire
    send(b"")
    with pytest.raises(ClientGone):
        reader_for().read_request()


@pytest.mark.parametrize("partial", [b"GET / HT", b"GET / HTTP/1.1\r\nHost: lab\r\n"])
def test_eof_in_the_middle_of_a_head_is_a_bad_request(wire, partial):
    # io.ErrUnexpectedEOF after the request line began: 400.
    send, reader_for, _ = wire
    send(partial)
    with pytest.raises(BadRequest):
        reader_for().read_request()


def test_a_deadline_in_the_middle_of_a_head_is_a_client_gone(wire):
    send, reader_for, conn = wire
    send(b"GET / HTTP/1.1\r\nHost: lab\r\n", eof=False)
    conn.set_read_deadline(time.monotonic() + 0.05)
    with pytest.raises(ClientGone):
        reader_for().read_request()


def test_a_malformed_request_line_is_rejected_before_the_head_ends(wire):
    send, reader_for, _ = wire
    send(b"NOT A REQUEST LINE\r\n", eof=False)  # no blank line: Go judges the line as it arrives
    with pytest.raises(BadRequest):
        reader_for().read_request()


def test_peek_waits_for_the_next_request_s_first_bytes(wire):
    send, reader_for, _ = wire
    reader = reader_for()
    send(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    assert reader.peek(4)
    assert reader.read_request().target == "/"
    assert not reader.peek(4)  # EOF: the caller closes


def test_the_pri_preface_is_read_as_go_reads_it(wire):
    # request.go readRequest: isH2Upgrade (PRI, "*", HTTP/2.0, no header at all) -> ContentLength -1,
    # Close; http1ServerSupportsRequest lets it past the 505.
    send, reader_for, _ = wire
    send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    request = reader_for().read_request()
    assert (request.method, request.target, request.proto) == ("PRI", "*", "HTTP/2.0")
    assert request.h2_upgrade and request.close and request.content_length == -1
    assert request.body.read() == b""  # "SM" is not a body


def test_a_pri_request_with_a_header_is_no_preface(wire):
    send, reader_for, _ = wire
    send(b"PRI * HTTP/2.0\r\nHost: lab\r\n\r\n")
    request = reader_for().read_request()
    assert not request.h2_upgrade and not request.close


@pytest.mark.parametrize("host_line", [b"Host: other\r\n", b""])
def test_a_connect_authority_is_the_host_and_needs_no_host_field(wire, host_line):
    # server.go: HTTP/1.1 needs Host "&& req.Method != "CONNECT""; request.go: req.Host = req.URL.Host.
    send, reader_for, _ = wire
    send(b"CONNECT ex.com:443 HTTP/1.1\r\n" + host_line + b"\r\n")
    request = reader_for().read_request()
    assert (request.target, request.host) == ("ex.com:443", "ex.com:443")


def test_http10_transfer_encoding_is_ignored_and_the_next_request_follows(wire):
    send, reader_for, _ = wire
    send(b"POST / HTTP/1.0\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"GET /second HTTP/1.1\r\nHost: lab\r\n\r\n")
    reader = reader_for()
    first = reader.read_request()
    assert first.content_length == 0 and not first.header.has("Transfer-Encoding")
    assert reader.read_request().target == "/second"


def test_a_transfer_encoding_is_judged_before_the_version(wire):
    # readTransfer runs inside request.go readRequest; the 505 comes after it, in server.go.
    send, reader_for, _ = wire
    send(b"GET / HTTP/2.0\r\nHost: lab\r\nTransfer-Encoding: gzip\r\n\r\n")
    with pytest.raises(UnsupportedTransferEncoding):
        reader_for().read_request()


@pytest.mark.parametrize(
    "head, text",
    [
        (b"GET / HTTP/1.1\r\nHost: lab\r\nX y: 1\r\n\r\n", "invalid header name"),  # textproto lets it through
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ""),  # "too many Host headers": a plain 400
        (b"GET / HTTP/1.1\r\nHost : lab\r\n\r\n", "missing required Host header"),  # "Host " is not Host
        (b"GET  / HTTP/1.1\r\nHost: lab\r\n\r\n", ""),  # the target is "", the version "/ HTTP/1.1"
        (b"GET / http/1.1\r\nHost: lab\r\n\r\n", ""),
        (b"G(T / HTTP/1.1\r\nHost: lab\r\n\r\n", ""),
    ],
)
def test_malformed_heads_get_go_s_400(wire, head, text):
    send, reader_for, _ = wire
    send(head)
    with pytest.raises(BadRequest) as caught:
        reader_for().read_request()
    assert (caught.value.status, caught.value.text) == (400, text)


def _reading_thread(reader_for, conn) -> tuple[threading.Thread, list[BaseException]]:
    """A thread (not started) that reads one request and puts what it raises in the list."""
    conn.set_read_deadline(time.monotonic() + 60)
    outcome: list[BaseException] = []
    return threading.Thread(target=lambda: _capture(reader_for().read_request, outcome), name="test-reader"), outcome


def test_a_bad_field_line_is_judged_when_the_next_line_begins(wire):
    # textproto waits for the next line's first byte, to see whether it continues the field (obs-fold).
    send, reader_for, conn = wire
    reading, outcome = _reading_thread(reader_for, conn)
    send(b"GET / HTTP/1.1\r\nHost: lab\r\nX\x01: y\r\n", eof=False)
    reading.start()
    reading.join(0.2)
    assert reading.is_alive()  # still waiting for the line after
    send(b"Z", eof=False)
    reading.join(WAIT)
    assert not reading.is_alive() and len(outcome) == 1 and isinstance(outcome[0], BadRequest)


def test_a_line_without_a_colon_is_refused_at_once(wire):
    send, reader_for, conn = wire
    reading, outcome = _reading_thread(reader_for, conn)
    send(b"GET / HTTP/1.1\r\nHost: lab\r\nno colon\r\n", eof=False)
    reading.start()
    reading.join(WAIT)
    assert not reading.is_alive() and len(outcome) == 1 and isinstance(outcome[0], BadRequest)


def _capture(call, outcome: list[BaseException]) -> None:
    try:
        call()
    except BaseException as exc:  # handed to the test thread
        outcome.append(exc)


def test_a_failure_at_the_read_limit_is_a_431_whatever_it_was(wire):
    # server.go conn.readRequest: any error from readRequest once hitReadLimit() is errTooLarge.
    send, reader_for, _ = wire
    reader = reader_for(max_header_bytes=1)
    send(b"GET / HTTP/1.1\r\nHost: lab\r\nX: " + b"a" * 5000 + b"\x01\r\n\r\n")
    with pytest.raises(HeaderTooLarge):
        reader.read_request()


def test_the_body_is_framed_by_the_reader_not_by_the_head_parser(wire):
    # Body bytes that look like a head are body bytes.
    send, reader_for, _ = wire
    body = b"GET /not-a-request HTTP/1.1\r\n\r\n"
    head = b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: %d\r\n\r\n" % len(body)
    send(head + body + b"GET /next HTTP/1.1\r\nHost: lab\r\n\r\n")
    reader = reader_for()
    assert _body(reader.read_request()) == body
    assert reader.read_request().target == "/next"
