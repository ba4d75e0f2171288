"""Where a request body ends: Go's transfer.go rules for Transfer-Encoding, Content-Length and Trailer.

The wire exchanges that show each rule against the Go 1.23.4 reference are in
tests/test_errors.py; these pin the decisions one by one.
"""

from __future__ import annotations

import pytest
from keepalive_lab.goserver import framing
from keepalive_lab.goserver.framing import Framing, parse_content_length, request_framing
from keepalive_lab.goserver.header import Header
from keepalive_lab.goserver.request import BadRequest, UnsupportedTransferEncoding


def _framing(*fields: tuple[str, str], http11: bool = True, closing: bool = False) -> tuple[Framing, Header]:
    header = Header(fields)
    return request_framing(header, http11, closing), header


# -- Content-Length ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, length",
    [
        ("5", 5),
        (" 5\t", 5),  # textproto.TrimString
        ("005", 5),
        ("0" * 5000 + "5", 5),  # ParseUint takes any number of leading zeros
        (str((1 << 63) - 1), (1 << 63) - 1),
    ],
)
def test_a_content_length_go_accepts(value, length):
    assert parse_content_length([value]) == length


@pytest.mark.parametrize("value", [str(1 << 63), "+5", "-5", "5, 5", "5 5", "1_0", "0x5", "\u0665", "5.0", "", " \t"])
def test_a_content_length_go_refuses(value):
    # strconv.ParseUint(cl, 10, 63): ASCII digits only, below 2^63; no sign, list, space or underscore.
    # An empty value too, since Go 1.22 (GODEBUG httplaxcontentlength=0).
    with pytest.raises(BadRequest):
        parse_content_length([value])


def test_the_lax_rule_reads_an_empty_content_length_as_no_length(monkeypatch):
    # GODEBUG httplaxcontentlength=1 (Go 1.21's behaviour): no body on a connection that stays open,
    # the rest of the connection on one that closes.
    monkeypatch.setattr(framing, "LAX_EMPTY_CONTENT_LENGTH", True)
    assert parse_content_length([" "]) == -1
    assert _framing(("Content-Length", ""))[0] == Framing(-1)
    assert _framing(("Content-Length", ""), closing=True)[0] == Framing(-1, until_close=True)


def test_equal_content_lengths_become_one_and_different_ones_are_refused():
    framing, header = _framing(("Content-Length", "5"), ("Content-Length", " 5 "))
    assert framing == Framing(5) and header.values("Content-Length") == ["5"]
    with pytest.raises(BadRequest):
        _framing(("Content-Length", "5"), ("Content-Length", "6"))


def test_no_length_is_no_body():
    assert _framing()[0] == Framing(0)


# -- Transfer-Encoding ---------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["chunked", "Chunked", "CHUNKED"])
def test_chunked_in_any_case_frames_the_body_and_is_removed(coding):
    framing, header = _framing(("Transfer-Encoding", coding), ("Content-Length", "3"))
    assert framing == Framing(-1, chunked=True)
    assert not header.has("Transfer-Encoding") and not header.has("Content-Length")  # RFC 9112 6.3: it wins


@pytest.mark.parametrize(
    "fields",
    [
        [("Transfer-Encoding", "gzip")],
        [("Transfer-Encoding", "chunked, chunked")],  # one field, one coding: nothing else
        [("Transfer-Encoding", "gzip, chunked")],
        [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
        [("Transfer-Encoding", "")],
    ],
)
def test_any_other_transfer_encoding_is_unsupported(fields):
    with pytest.raises(UnsupportedTransferEncoding):
        _framing(*fields)


def test_a_bad_content_length_is_refused_even_beside_chunked():
    with pytest.raises(BadRequest):
        _framing(("Transfer-Encoding", "chunked"), ("Content-Length", "x"))


@pytest.mark.parametrize("coding", ["chunked", "gzip", "nonsense, more"])
def test_http10_transfer_encoding_is_ignored_and_removed(coding):
    # golang/go#12785: parseTransferEncoding returns at once for a request below HTTP/1.1.
    framing, header = _framing(("Transfer-Encoding", coding), ("Content-Length", "3"), http11=False)
    assert framing == Framing(3)
    assert not header.has("Transfer-Encoding")


# -- Trailer -------------------------------------------------------------------------------


@pytest.mark.parametrize("declared", ["Content-Length", "x, transfer-encoding", " TRAILER ,y"])
def test_a_trailer_may_not_declare_framing_fields(declared):
    with pytest.raises(BadRequest):
        _framing(("Transfer-Encoding", "chunked"), ("Trailer", declared))


def test_other_trailers_are_fine_and_without_chunked_the_field_is_left_alone():
    framing, header = _framing(("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum, , Content-Lengthy"))
    assert framing.chunked and not header.has("Trailer")
    framing, header = _framing(("Trailer", "Content-Length"))  # golang/go#27197: kept, not checked
    assert framing == Framing(0) and header.get("Trailer") == "Content-Length"
