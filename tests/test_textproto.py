"""Header lines read as Go's net/textproto reads them: line endings, field rules, obs-fold, and the bulk path."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from keepalive_lab.goserver import textproto
from keepalive_lab.goserver.bufio import EOF, BUFFER_SIZE
from keepalive_lab.goserver.net import Timeout
from keepalive_lab.goserver.textproto import ProtocolError, read_line, read_mime_header, valid_field_name

from .bytesource import buffered


def _header(data: bytes, piece: int = 1 << 20, then: Exception | None = None) -> dict[str, list[str]]:
    header = read_mime_header(buffered(data, piece, then)[0])
    return {name: header.values(name) for name in header.keys()}


# -- lines -------------------------------------------------------------------------


def test_a_line_ends_at_lf_and_a_cr_just_before_it_goes_too():
    b, _ = buffered(b"one\r\ntwo\nthree\rfour\r\r\n")
    assert [read_line(b) for _ in range(3)] == [b"one", b"two", b"three\rfour\r"]


def test_a_line_longer_than_the_buffer_is_read_whole():
    line = b"x" * (3 * BUFFER_SIZE + 5) + b"\r"  # the CR at a buffer's end must still pair with its LF
    b, _ = buffered(line + b"\nnext\n", piece=1000)
    assert read_line(b) == line[:-1]
    assert read_line(b) == b"next"


def test_a_partial_line_is_a_line_and_the_failure_comes_next():
    # bufio.ReadLine hands back what there is, without the error; the next read meets it again.
    b, _ = buffered(b"GET / HT\r", then=Timeout("i/o timeout"))
    assert read_line(b) == b"GET / HT\r"  # as is: a lone CR is not a line end
    with pytest.raises(Timeout):
        read_line(b)
    b, _ = buffered(b"")
    with pytest.raises(EOF):
        read_line(b)


def test_a_line_limit_is_message_too_large():
    b, _ = buffered(b"x" * 81 + b"\n")
    with pytest.raises(ProtocolError, match="message too large"):
        read_line(b, limit=80)


# -- fields ------------------------------------------------------------------------


def test_fields_are_canonical_trimmed_and_kept_in_order():
    data = b"content-TYPE:  text/plain \t\r\nX-A: 1\r\nx-a:2\r\nEmpty:\r\nObs: caf\xe9\r\n\r\nbody"
    assert _header(data) == {"Content-Type": ["text/plain"], "X-A": ["1", "2"], "Empty": [""], "Obs": ["caf\xe9"]}


def test_obs_fold_lines_join_the_field_with_one_space():
    data = b"X: a\r\n  b \r\n\tc\r\n \r\nY:\r\n z\r\nZ:\r\n\t1\r\n\r\n"
    assert _header(data) == {"X": ["a b c "], "Y": ["z"], "Z": ["1"]}  # an empty fold line leaves its space


def test_bare_lf_line_endings_are_fine():
    assert _header(b"A: 1\nB: 2\n\n") == {"A": ["1"], "B": ["2"]}


def test_a_space_before_the_colon_is_let_through_uncanonicalised():
    # golang/go#34540: textproto accepts it; the server then refuses the name (valid_field_name).
    assert _header(b"x-y : 1\r\nA b: 2\r\n\r\n") == {"x-y ": ["1"], "A b": ["2"]}
    assert not valid_field_name("x-y ") and valid_field_name("X-Y")


@pytest.mark.parametrize(
    "data, error",
    [
        (b" X: 1\r\n\r\n", "malformed MIME header initial line"),
        (b"no colon\r\n\r\n", "missing colon"),
        (b": empty name\r\n\r\n", "malformed MIME header line"),
        (b"X(y): 1\r\n\r\n", "malformed MIME header line"),
        (b"X: a\x01b\r\n\r\n", "malformed MIME header line"),
        (b"X: a\rb\r\n\r\n", "malformed MIME header line"),  # a CR inside a line is a control byte
        (b"X: a\r\r\n\r\n", "malformed MIME header line"),
        (b"X: a\r\n b\x7f\r\n\r\n", "malformed MIME header line"),  # in an obs-fold line too
    ],
)
def test_malformed_lines_are_protocol_errors(data, error):
    with pytest.raises(ProtocolError, match=error):
        _header(data)


def test_a_field_is_judged_when_the_read_after_it_fails():
    # The field waits to see whether an obs-fold line follows; a failed read ends the wait, and the
    # field is judged first: a bad one is a ProtocolError, a good one lets the failure through.
    with pytest.raises(ProtocolError):
        _header(b"X\x01: y\r\n", then=Timeout("i/o timeout"))
    with pytest.raises(Timeout):
        _header(b"X: y\r\n", then=Timeout("i/o timeout"))


# -- the bulk path gives what the line-by-line path gives ----------------------------

# Whole lines, so that the bulk path has whole fields to take, and bytes, to break them anywhere.
_LINES = [b"X: v\r\n", b"x-y:v\n", b"X:\r\n", b" v\r\n", b"\t v \r\n", b" \r\n", b"a b: c\r\n", b"A:\t\xe9\r\n"]
_BYTES = [b"X", b"a", b"-", b"!", b":", b" ", b"\t", b"\r\n", b"\n", b"\r", b"\x00", b"\x7f", b"\xe9", b"v"]
heads = st.lists(st.sampled_from(_LINES + _BYTES), max_size=40).map(b"".join)


def _outcome(data: bytes, piece: int) -> object:
    try:
        return _header(data, piece)
    except (ProtocolError, EOF) as exc:
        return type(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=heads, piece=st.sampled_from([1, 2, 5, 16, 64, BUFFER_SIZE]))
@example(head=b"X:\r\n v\r\nY: w\r\n", piece=BUFFER_SIZE)  # a folded field whose first line has no value
def test_the_bulk_path_agrees_with_the_line_by_line_path(monkeypatch, head, piece):
    data = b"A: 1\r\n" + head + b"\r\n\r\n"
    bulk = _outcome(data, piece)
    with monkeypatch.context() as m:
        m.setattr(textproto, "_add_complete_fields", lambda *args: None)
        m.setattr(textproto, "_add_simple_folds", lambda *args: False)
        assert _outcome(data, piece) == bulk


def test_a_huge_head_costs_work_per_buffer_not_per_line(monkeypatch):
    # 250 000 tiny field lines: the slow path reads about one line per buffer filled (the one that
    # spans two), the rest go in bulk. Counting calls, not seconds: benchmarks/huge_heads.py times it.
    lines = 250_000
    calls = []
    slow_read_line = textproto.read_line
    monkeypatch.setattr(textproto, "read_line", lambda *a, **k: calls.append(1) or slow_read_line(*a, **k))
    b, source = buffered(b"a:\r\n" * lines + b"\r\n", piece=BUFFER_SIZE)
    header = read_mime_header(b)
    assert len(header.values("A")) == lines
    assert source.reads <= (lines * 4) // (BUFFER_SIZE // 2)
    assert len(calls) <= source.reads + 2
