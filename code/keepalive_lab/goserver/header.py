"""Small pieces of Go's ``net/http`` vocabulary the server needs on the wire.

* :class:`Header`, Go's ``http.Header``: canonical keys, several values per
  key, written **sorted by key** (``Header.WriteSubset``, header.go).
* :func:`status_text`, Go's ``StatusText`` (status.go), which differs from
  Python's phrases in places (``Request URI Too Long``, ``I'm a teapot``).
* :func:`http_date`, Go's ``http.TimeFormat``.
* :func:`valid_host_header`, ``httpguts.ValidHostHeader``.
* :func:`has_token`, ``httpguts.HeaderValuesContainsToken``'s rule for one value.

Content sniffing (``DetectContentType``) is in :mod:`keepalive_lab.goserver.sniff`.
"""

from __future__ import annotations

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
]

_TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def canonical_key(key: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey``: ``content-length`` -> ``Content-Length``.

    A key with a byte that is not a token byte is returned unchanged, as in Go.
    """
    raw = key.encode("latin-1", "replace")
    if any(b not in _TOKEN_CHARS for b in raw):
        return key
    out = []
    upper = True
    for ch in key:
        if upper and "a" <= ch <= "z":
            ch = ch.upper()
        elif not upper and "A" <= ch <= "Z":
            ch = ch.lower()
        out.append(ch)
        upper = ch == "-"
    return "".join(out)


class Header:
    """Go's ``http.Header``: canonical key -> list of values."""

    def __init__(self, items=None) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in items or ():
            self.add(key, value)

    def get(self, key: str) -> str:
        """First value, or ``""`` (Go's ``Header.Get``)."""
        values = self._values.get(canonical_key(key))
        return values[0] if values else ""

    def values(self, key: str) -> list[str]:
        return list(self._values.get(canonical_key(key), ()))

    def set(self, key: str, value: str) -> None:
        self._values[canonical_key(key)] = [value]

    def add(self, key: str, value: str) -> None:
        self._values.setdefault(canonical_key(key), []).append(value)

    def delete(self, key: str) -> None:
        self._values.pop(canonical_key(key), None)

    def has(self, key: str) -> bool:
        return canonical_key(key) in self._values

    def keys(self) -> list[str]:
        return list(self._values)

    def clone(self) -> "Header":
        copy = Header()
        copy._values = {k: list(v) for k, v in self._values.items()}
        return copy

    def write_subset(self, exclude: set[str] = frozenset()) -> bytes:
        """The header lines, keys sorted, as Go's ``Header.WriteSubset`` writes them."""
        out = bytearray()
        for key in sorted(self._values):
            if key in exclude:
                continue
            for value in self._values[key]:
                # Go replaces CR and LF in values by spaces and trims (headerNewlineToSpace).
                clean = value.replace("\r", " ").replace("\n", " ").strip(" \t")
                out += f"{key}: {clean}\r\n".encode("latin-1", "replace")
        return bytes(out)

    def __contains__(self, key: str) -> bool:
        return self.has(key)

    def __repr__(self) -> str:
        return f"Header({self._values!r})"


def has_token(value: str, token: str) -> bool:
    """Whether a comma-separated header value contains ``token``, case-insensitively (Go's ``hasToken``)."""
    return any(part.strip(" \t").lower() == token.lower() for part in value.split(","))


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
    return formatdate(time.time() if unix_time is None else unix_time, usegmt=True)


_HOST_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&'()*+,-.:;=[]_~")


def valid_host_header(host: str) -> bool:
    """``httpguts.ValidHostHeader``: only the bytes an RFC 3986 host and port can hold."""
    return all(b in _HOST_CHARS for b in host.encode("latin-1", "replace"))
