"""Small pieces of Go's ``net/http`` vocabulary the server needs on the wire.

* :class:`Header`, Go's ``http.Header``: canonical keys, several values per
  key, written **sorted by key** (``Header.WriteSubset``, header.go).
* :func:`status_text`, Go's ``StatusText`` (status.go), which differs from
  Python's phrases in places (``Request URI Too Long``, ``I'm a teapot``).
* :func:`http_date`, Go's ``http.TimeFormat``.
* :func:`valid_host_header`, ``httpguts.ValidHostHeader``.
* Go's two ways of finding a token in a header, which differ on purpose:
  :func:`has_token` (net/http's own ``hasToken``: the first value only, and a
  space or tab is a boundary too) and :func:`contains_token`
  (``httpguts.HeaderValuesContainsToken``: every value, comma-separated elements).

Content sniffing (``DetectContentType``) is in :mod:`keepalive_lab.goserver.sniff`.
"""

from __future__ import annotations

import functools
import math

import re
import time
from email.utils import formatdate
from http import HTTPStatus

__all__ = [
    "Header",
    "canonical_key",
    "status_text",
    "http_date",
    "valid_host_header",
    "has_token",
    "contains_token",
]



_TOKEN_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]*")
# Every request looks up a handful of keys (Host, Connection, Content-Length...) on both sides of
# every hop: remember their canonical forms. Bounded, so that a head of a hundred thousand made-up
# names costs no more memory than without it.
_CANONICAL: dict[str, str] = {}
_CANONICAL_MAX = 1024


def canonical_key(key: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey``: ``content-length`` -> ``Content-Length``.

    A key with a byte that is not a token byte is returned unchanged, as in Go.
    """
    known = _CANONICAL.get(key)
    if known is not None:
        return known
    canonical = _canonical(key)
    if len(_CANONICAL) < _CANONICAL_MAX:
        _CANONICAL[key] = canonical
    return canonical


def _canonical(key: str) -> str:
    if not _TOKEN_KEY.fullmatch(key):
        return key
    # The first letter and each letter after a hyphen upper case, every other letter lower case.
    return "-".join(part[:1].upper() + part[1:].lower() for part in key.split("-"))


class Header:
    """Go's ``http.Header``: canonical key -> values.

    A key with one value maps to the value itself, a key with several to their
    list. Go keeps a slice per key, and so could this, but a head can hold a
    hundred thousand fields, and a list for each is a hundred thousand objects
    for Python's cyclic garbage collector to walk.
    """

    def __init__(self, items=None) -> None:
        self._values: dict[str, str | list[str]] = {}
        for key, value in items or ():
            self.add(key, value)

    def get(self, key: str) -> str:
        """First value, or ``""`` (Go's ``Header.Get``)."""
        values = self._values.get(canonical_key(key))
        if values is None:
            return ""
        return values if isinstance(values, str) else values[0]

    def values(self, key: str) -> list[str]:
        values = self._values.get(canonical_key(key))
        if values is None:
            return []
        return [values] if isinstance(values, str) else list(values)

    def set(self, key: str, value: str) -> None:
        self._values[canonical_key(key)] = value

    def add(self, key: str, value: str) -> None:
        key = canonical_key(key)
        values = self._values.get(key)
        if values is None:
            self._values[key] = value
        elif isinstance(values, str):
            self._values[key] = [values, value]
        else:
            values.append(value)

    def delete(self, key: str) -> None:
        self._values.pop(canonical_key(key), None)

    def has(self, key: str) -> bool:
        return canonical_key(key) in self._values

    @classmethod
    def from_map(cls, values: dict[str, str | list[str]]) -> "Header":
        """A header over ``values``: canonical keys (as the reader returns them), each to a value or a list."""
        header = cls()
        header._values = values
        return header

    def keys(self) -> list[str]:
        return list(self._values)

    def clone(self) -> "Header":
        copy = Header()
        copy._values = {k: v if isinstance(v, str) else list(v) for k, v in self._values.items()}
        return copy

    def write_subset(self, exclude: set[str] = frozenset()) -> bytes:
        """The header lines, keys sorted, as Go's ``Header.WriteSubset`` writes them."""
        out = bytearray()
        for key in sorted(self._values):
            if key in exclude:
                continue
            for value in self.values(key):
                # Go replaces CR and LF in values by spaces and trims (headerNewlineToSpace).
                clean = value.replace("\r", " ").replace("\n", " ").strip(" \t")
                out += f"{key}: {clean}\r\n".encode("latin-1", "replace")
        return bytes(out)

    def __contains__(self, key: str) -> bool:
        return self.has(key)

    def __repr__(self) -> str:
        return f"Header({self._values!r})"


def has_token(value: str, token: str) -> bool:
    """Go's ``hasToken`` (net/http header.go): ``token`` in ``value``, ASCII case-insensitively, between
    boundaries: the start, the end, a space, a comma or a tab.

    Go uses it for ``wantsClose``, ``wantsHttp10KeepAlive`` and ``expectsContinue``, on the first
    value only: ``Connection: foo close`` asks to close. ``token`` is lower case.
    https://github.com/golang/go/blob/go1.23.4/src/net/http/header.go (``hasToken``, ``isTokenBoundary``)
    """
    if not token or len(token) > len(value):
        return False
    return _token_pattern(token).search(value) is not None


_TOKEN_PATTERNS: dict[str, re.Pattern[str]] = {}


def _token_pattern(token: str) -> re.Pattern[str]:
    # A regular expression, not a loop over the value's characters: a value can be a mebibyte long.
    pattern = _TOKEN_PATTERNS.get(token)
    if pattern is None:
        pattern = re.compile(r"(?:\A|(?<=[ ,\t]))" + re.escape(token) + r"(?=[ ,\t]|\Z)", re.IGNORECASE | re.ASCII)
        _TOKEN_PATTERNS[token] = pattern
    return pattern


def contains_token(values: list[str], token: str) -> bool:
    """``httpguts.HeaderValuesContainsToken``: some comma-separated element of some value, trimmed of
    spaces and tabs, is ``token`` (ASCII case-insensitively). Go's ``Request.Close`` uses it.

    https://github.com/golang/go/blob/go1.23.4/src/vendor/golang.org/x/net/http/httpguts/httplex.go
    (``HeaderValuesContainsToken``, ``tokenEqual``)
    """
    # One regular expression over all the values joined: a value may hold half a million elements.
    pattern = _ELEMENT_PATTERNS.get(token)
    if pattern is None:
        pattern = re.compile(r"(?:^|,)[ \t]*" + re.escape(token) + r"[ \t]*(?:,|\Z)", re.IGNORECASE | re.ASCII)
        _ELEMENT_PATTERNS[token] = pattern
    return pattern.search(",".join(values)) is not None


_ELEMENT_PATTERNS: dict[str, re.Pattern[str]] = {}


# Go's StatusText where it differs from Python's phrase (net/http/status.go).
_GO_STATUS_TEXT = {
    413: "Request Entity Too Large",
    414: "Request URI Too Long",
    416: "Requested Range Not Satisfiable",
    418: "I'm a teapot",
    422: "Unprocessable Entity",
}


def status_text(code: int) -> str:
    """Go's ``StatusText``; ``""`` for an unknown code."""
    if code in _GO_STATUS_TEXT:
        return _GO_STATUS_TEXT[code]
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def http_date(unix_time: float | None = None) -> str:
    """``Mon, 02 Jan 2006 15:04:05 GMT`` (Go's ``http.TimeFormat``)."""
    return _date_of_second(math.floor(time.time() if unix_time is None else unix_time))


# The text changes once a second; every response asks for it.
@functools.lru_cache(maxsize=4)
def _date_of_second(second: int) -> str:
    return formatdate(second, usegmt=True)


_NOT_HOST_CHAR = re.compile(r"[^0-9a-zA-Z!$%&'()*+,\-.:;=\[\]_~]")


def valid_host_header(host: str) -> bool:
    """``httpguts.ValidHostHeader``: only the bytes an RFC 3986 host and port can hold."""
    return _NOT_HOST_CHAR.search(host) is None
