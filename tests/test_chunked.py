"""Chunked request bodies, decoded as Go decodes them (internal/chunked.go, transfer.go body.readTrailer).

Each rule here was checked against the Go 1.23.4 reference program on the wire
(tests/test_errors.py has those exchanges); these tests pin the decoder itself.
"""

from __future__ import annotations

import pytest
from keepalive_lab.goserver.bufio import BUFFER_SIZE, BufferedReader
from keepalive_lab.goserver.chunked import MAX_LINE_LENGTH, ChunkedBody, parse_hex_uint
from keepalive_lab.goserver.net import Timeout
from keepalive_lab.goserver.request import BodyError

from .bytesource import buffered, endless


def _chunked(data: bytes, piece: int = 1 << 20, then: Exception | None = None) -> ChunkedBody:
    return ChunkedBody(buffered(data, piece, then)[0])


def _read_all(body: ChunkedBody) -> bytes:
    data = b""
    for _ in range(10_000):
        chunk = body.read(64 * 1024)
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the body never ended")


def _failure(body: ChunkedBody) -> str:
    """The text of the error the body ends with, after reading whatever came before it."""
    with pytest.raises(BodyError) as caught:
        _read_all(body)
    return str(caught.value)


# -- what is accepted ----------------------------------------------------------


@pytest.mark.parametrize("piece", [1, 2, 7, 1 << 20])
def test_chunks_are_joined_and_their_extensions_dropped(piece):
    body = _chunked(b"3;name=value\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\nNEXT", piece)
    assert _read_all(body) == b"abcde"
    assert body.done
    assert body.src.read_full(4) == b"NEXT"  # the next request's bytes stay in the buffer


def test_a_size_line_may_end_in_a_bare_lf_and_trailing_whitespace():
    # readChunkLine reads to LF; trimTrailingWhitespace drops spaces, tabs, CRs and LFs.
    assert _read_all(_chunked(b"3 \t\nabc\r\n5\r\r\nhello\r\n0\n\r\n")) == b"abchello"


def test_sixteen_hex_digits_are_a_size_even_with_leading_zeros():
    assert _read_all(_chunked(b"0000000000000005\r\nhello\r\n0\r\n\r\n")) == b"hello"


@pytest.mark.parametrize("length", [MAX_LINE_LENGTH - 1, MAX_LINE_LENGTH])
def test_a_size_line_must_be_shorter_than_4096_bytes(length):
    line = b"5;" + b"e" * (length - 4) + b"\r\n"  # extension padding; the line holds its CRLF
    assert len(line) == length
    body = _chunked(line + b"hello\r\n0\r\n\r\n")
    if length < MAX_LINE_LENGTH:
        assert _read_all(body) == b"hello"
    else:
        assert _failure(body) == "header line too long"


def test_a_trailer_is_read_as_header_fields():
    body = _chunked(b"2\r\nhi\r\n0\r\nX-Check: 1\r\nx-other: a\r\n b\r\n\r\n")
    assert _read_all(body) == b"hi"
    assert (body.trailer.get("X-Check"), body.trailer.get("X-Other")) == ("1", "a b")


def test_a_trailer_may_take_the_whole_buffer_but_no_more():
    # seeUpcomingDoubleCRLF peeks at most the 4 KiB buffer for the blank line.
    fits = b"X: " + b"a" * (BUFFER_SIZE - 7) + b"\r\n\r\n"
    assert len(fits) == BUFFER_SIZE
    assert _read_all(_chunked(b"0\r\n" + fits)) == b""
    too_long = b"X: " + b"a" * (BUFFER_SIZE - 6) + b"\r\n\r\n"
    assert _failure(_chunked(b"0\r\n" + too_long)) == "http: suspiciously long trailer after chunked body"


# -- what is refused -------------------------------------------------------------


@pytest.mark.parametrize(
    "digits, error",
    [
        (b"", "empty hex number for chunk length"),
        (b" 5", "invalid byte in chunk length"),  # only trailing whitespace is trimmed
        (b"-5", "invalid byte in chunk length"),
        (b"0x5", "invalid byte in chunk length"),
        (b"5 ", "invalid byte in chunk length"),  # "5 ;ext": the extension is cut after the trim
        (b"00000000000000005", "http chunk length too large"),  # a 17th digit, even a leading zero
    ],
)
def test_parse_hex_uint_refuses_what_go_refuses(digits, error):
    with pytest.raises(BodyError, match=error):
        parse_hex_uint(digits)


def test_parse_hex_uint_takes_a_full_64_bit_size():
    assert parse_hex_uint(b"ffffffffffffffff") == (1 << 64) - 1
    assert parse_hex_uint(b"aBc") == 0xABC


def test_the_bytes_after_a_chunk_must_be_crlf_and_the_data_comes_first():
    body = _chunked(b"3\r\nabc\n0\r\n\r\n")
    assert body.read(100) == b"abc"  # Go returns the data with the error; the error comes next here
    with pytest.raises(BodyError, match="malformed chunked encoding"):
        body.read(100)


def test_a_failure_is_final():
    body = _chunked(b"3\r\nabcdef\r\n0\r\n\r\n")
    assert _failure(body) == "malformed chunked encoding"
    for _ in range(3):
        with pytest.raises(BodyError, match="malformed chunked encoding"):
            body.read(100)


def test_eof_in_the_middle_of_a_chunk_is_unexpected():
    assert _failure(_chunked(b"5\r\nhel")) == "unexpected EOF"


def test_eof_where_the_trailer_should_be_is_unexpected():
    assert _failure(_chunked(b"0\r\n")) == "http: unexpected EOF reading trailer"


def test_a_malformed_trailer_line_fails_the_body():
    assert _failure(_chunked(b"0\r\nno colon here\r\n\r\n")) == "malformed MIME header: missing colon"


def test_too_much_overhead_per_byte_of_data_is_refused():
    # Each 1-byte chunk with a 200-byte extension leaves 206 - 16 - 2 bytes of excess; past 16 KiB, Go refuses.
    chunks = b"".join(b"1;" + b"e" * 200 + b"\r\nX\r\n" for _ in range(100))
    body = _chunked(chunks + b"0\r\n\r\n", piece=1000)
    data = b""
    with pytest.raises(BodyError, match="chunked encoding contains too much non-data"):
        for _ in range(200):
            data += body.read(64 * 1024)
    assert data == b"X" * (16 * 1024 // 188)  # the chunks before the meter ran over


def test_the_overhead_meter_wraps_around_as_go_s_int64_does():
    # beginChunk: excess -= 16 + 2*int64(n). ffffffffffffe000 is -8192 as an int64, so its 20 bytes of
    # size line count as 16388 bytes of overhead: refused at once, without waiting for the data.
    body = _chunked(b"ffffffffffffe000\r\nabc", then=Timeout("i/o timeout"))
    assert _failure(body) == "chunked encoding contains too much non-data"
    # fffffffffffff000 (-4096) leaves 8196 bytes: under the limit, so the body reads on, to the deadline.
    body = _chunked(b"fffffffffffff000\r\nabc", then=Timeout("i/o timeout"))
    assert body.read(100) == b"abc"
    with pytest.raises(Timeout):
        body.read(100)


def test_a_big_chunk_pays_for_a_long_extension():
    assert _read_all(_chunked(b"400;" + b"e" * 3000 + b"\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n")) == b"x" * 1024


# -- bounded memory, and no waiting that Go does not do ---------------------------


@pytest.mark.parametrize(
    "prefix, filler, error",
    [
        (b"5", b"5", "header line too long"),  # a size line that never ends
        (b"5;", b"e", "header line too long"),  # an extension that never ends
        (b"5\r\nhello\r\n0\r\nX-T: ", b"a", "http: suspiciously long trailer after chunked body"),
    ],
)
def test_a_line_that_never_ends_costs_one_buffer_then_fails(prefix, filler, error):
    source = endless(prefix, filler)
    body = ChunkedBody(BufferedReader(source))  # type: ignore[arg-type]
    with pytest.raises(BodyError, match=error):
        for _ in range(100):
            body.read(64 * 1024)
    assert source.served <= len(prefix) + BUFFER_SIZE  # one buffer's worth read, then the end


def test_data_is_returned_without_waiting_for_the_next_size_line():
    # chunkedReader.Read: with data in hand, it does not block on a chunk header not buffered yet.
    body = _chunked(b"3\r\nabc\r\n", then=Timeout("i/o timeout"))
    assert body.read(100) == b"abc"
    with pytest.raises(Timeout):
        body.read(100)  # now it reads on, and meets the deadline
