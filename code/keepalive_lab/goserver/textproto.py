"""Reading header lines the way Go's ``net/textproto`` does: a request head's, and a chunked trailer's.

Theory of operation
-------------------
Go reads a head line by line (textproto ``Reader.ReadLine`` and
``ReadMIMEHeader``) and judges each line as it comes, not once the blank line
is in. The rules, from RFC 9112 section 5 and textproto's own choices:

* A line ends at LF; a CR just before it is dropped (CRLF), any other CR is
  part of the line. When a read fails part-way through a line, ``bufio`` hands
  back what there is *as a line*, without the error, and the error comes with
  the next read: so a partial line is judged before the failure counts.
* A field line is ``name ":" value``. A first line without a colon is an error
  at once. The name must be token bytes (``validHeaderFieldByte``); a space in
  it is let through uncanonicalised (the server refuses the name later). The
  value may hold HTAB, SP, VCHAR and obs-text, no other control byte
  (``validHeaderValueByte``); surrounding SP/HTAB is trimmed.
* A line that starts with SP or HTAB continues the field before it (obs-fold):
  the two are joined by one space. So a field is judged only once the first
  byte of the next line is known (or a read fails); the first field line must
  not start with SP or HTAB at all.
* The blank line ends the head.

A head can be a mebibyte of tiny lines. Judging them one Python call at a
time costs several microseconds a line, so runs of *simple* lines (a token
name, a colon, valid value bytes, LF or CRLF) are matched with one regular
expression per buffer and added in one loop; any other line takes the slow
path, which applies every rule above. The cost grows with the head's size,
linearly.

https://github.com/golang/go/blob/go1.23.4/src/net/textproto/reader.go
(``readLineSlice``, ``readContinuedLineSlice``, ``readMIMEHeader``, ``validHeaderFieldByte``,
``validHeaderValueByte``, ``canonicalMIMEHeaderKey``)
"""

from __future__ import annotations

import re

from keepalive_lab.goserver.bufio import EOF, BufferedReader
from keepalive_lab.goserver.header import Header
from keepalive_lab.goserver.net import NetError

__all__ = ["ProtocolError", "read_line", "read_mime_header", "TOKEN_BYTES", "valid_field_name"]

_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN_BYTES = frozenset(_TOKEN)  # RFC 9110 tchar: validHeaderFieldByte
_SPACE = b" \t"
_CR = 13
_INITIAL_LINE_QUOTE = 80  # textproto quotes at most this much of a bad initial line, and reads no more

_FIELD_NAME = re.compile("[" + re.escape(_TOKEN.decode("ascii")) + "]+")
# validHeaderValueByte refuses every control byte but HTAB (obs-text, 0x80-0xFF, is allowed).
_BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_VALUE = rb"[\t\x20-\x7e\x80-\xff]*\r?\n"  # valid value bytes (no CR but a CRLF's), to the line's end
# A run of whole fields made of simple lines, each field proven complete by the byte after it (not SP or
# HTAB: no obs-fold follows). A field line is a name (token bytes, spaces let through after the first),
# a colon and a value; an obs-fold line is SP or HTAB and a value.
_COMPLETE_FIELDS = re.compile(
    rb"(?:[" + re.escape(_TOKEN) + rb"][" + re.escape(_TOKEN) + rb" ]*:" + _VALUE  # the field line
    + rb"(?:[ \t]" + _VALUE + rb")*"  # its obs-fold lines
    + rb"(?=[^ \t]))+"  # the next line does not continue it
)
_SIMPLE_FOLDS = re.compile(rb"(?:[ \t]" + _VALUE + rb")+")


class ProtocolError(Exception):
    """A malformed line (Go's ``textproto.ProtocolError``, and its "message too large")."""


def valid_field_name(name: str) -> bool:
    """``httpguts.ValidHeaderFieldName``: a non-empty token."""
    return _FIELD_NAME.fullmatch(name) is not None


# -- lines -------------------------------------------------------------------


def read_line(b: BufferedReader, limit: int | None = None) -> bytes:
    """The next line without its LF or CRLF (textproto ``readLineSlice`` over bufio ``ReadLine``).

    When a read fails with bytes of a line buffered, those bytes are the line,
    as is; with none, the failure (EOF or a NetError) is raised. A line longer
    than ``limit`` raises "message too large" as soon as Go would know it: at a
    buffer's worth or at the line's end.
    """
    parts: list[bytes] = []
    size = 0  # of the parts so far, for the limit
    scanned = 0  # bytes already searched for LF
    while True:
        lf = b.buf.find(b"\n", b.r + scanned)
        if lf >= 0:
            end = lf - 1 if lf > b.r and b.buf[lf - 1] == _CR else lf
            last = bytes(b.buf[b.r : end])
            b.r = lf + 1
            return _joined(parts, last, size, limit)
        if b.buffered() >= b.size:
            # bufio's ErrBufferFull: ReadLine hands on this much and goes on; a CR that may start
            # a CRLF stays in the buffer.
            cut = len(b.buf) - 1 if b.buf[-1] == _CR else len(b.buf)
            parts.append(bytes(b.buf[b.r : cut]))
            size += cut - b.r
            b.r = cut
            if limit is not None and size > limit:
                raise ProtocolError("message too large")
        scanned = b.buffered()
        try:
            b.fill()
        except (EOF, NetError):
            if not b.buffered():
                raise
            # The partial line, judged as a line; the failure comes with the next read.
            last = bytes(b.buf[b.r :])
            b.r = len(b.buf)
            return _joined(parts, last, size, limit)


def _joined(parts: list[bytes], last: bytes, size: int, limit: int | None) -> bytes:
    """The line: the buffer-sized ``parts`` handed on before (``size`` bytes), then ``last``."""
    if limit is not None and size + len(last) > limit:
        raise ProtocolError("message too large")
    return b"".join(parts) + last if parts else last


# -- the MIME header -----------------------------------------------------------


def read_mime_header(b: BufferedReader) -> Header:
    """Field lines up to the blank line, as Go's ``ReadMIMEHeader``.

    Raises :class:`ProtocolError` for a malformed line, and EOF or a NetError
    when a read fails (after judging a field line it had completed).
    """
    header: dict[str, str | list[str]] = {}  # as Header keeps them: a value, or a list of several
    names: dict[str, str] = {}  # raw name -> canonical name, for this header only
    if b.peek(1) in (b" ", b"\t"):
        read_line(b, _INITIAL_LINE_QUOTE)
        raise ProtocolError("malformed MIME header initial line")
    field: bytearray | None = None  # a field read, waiting to learn whether the next line continues it
    while True:
        if field is not None:
            if not b.buffered():
                try:
                    b.fill()
                except (EOF, NetError):
                    _add_field(header, field)  # Go judges the field as it is, then meets the error again
                    raise
            if b.buf[b.r] in _SPACE:
                if not _add_simple_folds(b, field):
                    _continue(b, field)
                continue
            _add_field(header, field)
            field = None
        _add_complete_fields(b, header, names)
        line = read_line(b)
        if not line:
            return Header.from_map(header)
        if b":" not in line:
            raise ProtocolError("malformed MIME header: missing colon")
        field = bytearray(line.strip(_SPACE))  # grown in place by obs-fold lines: linear, however many


def _continue(b: BufferedReader, field: bytearray) -> None:
    """Join the obs-fold line that starts here to ``field`` with one space (readContinuedLineSlice)."""
    while True:  # skipSpace: every SP and HTAB, reading on if the buffer runs out
        while b.buffered() and b.buf[b.r] in _SPACE:
            b.r += 1
        if b.buffered():
            break
        try:
            b.fill()
        except (EOF, NetError):
            break  # the line read below meets the error again
    field += b" "
    try:
        line = read_line(b)
    except (EOF, NetError):
        return  # Go stops joining here; the field is judged, then the error ends the header
    field += line.strip(_SPACE)


def _add_simple_folds(b: BufferedReader, field: bytearray) -> bool:
    """Join the run of simple obs-fold lines at the front of the buffer to ``field``; False if there is none.

    What follows a fold line does not change how it joins, so the whole run goes at once.
    """
    run = _SIMPLE_FOLDS.match(b.buf, b.r)
    if run is None:
        return False
    lines = b.buf[b.r : run.end()].split(b"\n")[:-1]
    b.r = run.end()
    field += b" "
    field += b" ".join(line.strip(b" \t\r") for line in lines)  # the CR can only be the one of a CRLF
    return True


def _add_field(header: dict[str, str | list[str]], field: bytes | bytearray) -> None:
    """Judge one whole field line and add it (the body of readMIMEHeader's loop)."""
    raw_name, _, raw_value = field.partition(b":")
    name = _read_name(raw_name)
    if name is None or _BAD_VALUE_BYTE.search(raw_value):
        raise ProtocolError("malformed MIME header line")
    _add(header, name, raw_value.lstrip(_SPACE).decode("latin-1"))


def _add(header: dict[str, str | list[str]], name: str, value: str) -> None:
    values = header.get(name)
    if values is None:
        header[name] = value
    elif isinstance(values, str):
        header[name] = [values, value]
    else:
        values.append(value)


def _read_name(raw: bytes) -> str | None:
    """``canonicalMIMEHeaderKey`` as the reader uses it: None for an empty or invalid name."""
    if not raw:
        return None
    if any(c not in TOKEN_BYTES for c in raw):
        # golang/go#34540: a space before the colon is let through, uncanonicalised.
        if all(c in TOKEN_BYTES or c == 0x20 for c in raw):
            return raw.decode("ascii")
        return None
    return _canonical(raw.decode("ascii"))


def _canonical(name: str) -> str:
    """Upper case first and after each hyphen, lower case elsewhere (``name`` is all token bytes)."""
    if "-" not in name:
        return name.capitalize()
    return "-".join(part.capitalize() for part in name.split("-"))


def _add_complete_fields(b: BufferedReader, header: dict[str, str | list[str]], names: dict[str, str]) -> None:
    """Add the run of complete simple fields at the front of the buffer, in one loop.

    This is the slow path's work (line reading, joining, judging) for lines
    the regular expression has already found valid, one Python loop turn a line.
    """
    run = _COMPLETE_FIELDS.match(b.buf, b.r)
    if run is None:
        return
    text = b.buf[b.r : run.end()].decode("latin-1")
    b.r = run.end()
    found = header.get  # _add, inlined below: this runs for every line of a huge head
    name, value, folds = "", "", None
    for line in text.split("\n")[:-1]:
        if line[0] in " \t":  # obs-fold: joined with one space, trimmed
            if folds is None:
                folds = [value]
            folds.append(line.strip(" \t\r"))  # the CR can only be a CRLF's
            continue
        if name:
            if folds is not None:
                value, folds = " ".join(folds).lstrip(" \t"), None
            values = found(name)
            if values is None:
                header[name] = value
            elif isinstance(values, str):
                header[name] = [values, value]
            else:
                values.append(value)
        raw_name, _, value = line.partition(":")
        name = names.get(raw_name)
        if name is None:
            # golang/go#34540: a space before the colon is let through, uncanonicalised.
            name = names[raw_name] = raw_name if " " in raw_name else _canonical(raw_name)
        value = value.strip(" \t\r")
    if folds is not None:
        value = " ".join(folds).lstrip(" \t")
    _add(header, name, value)
