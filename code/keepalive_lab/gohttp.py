"""Small pieces of Go's ``net/http`` vocabulary the server needs on the wire.

* :class:`Header`, Go's ``http.Header``: canonical keys, several values per
  key, written **sorted by key** (``Header.WriteSubset``, header.go).
* :func:`status_text`, Go's ``StatusText`` (status.go), which differs from
  Python's phrases in places (``Request URI Too Long``, ``I'm a teapot``).
* :func:`http_date`, Go's ``http.TimeFormat``.
* :func:`valid_host_header`, ``httpguts.ValidHostHeader``.
* :func:`detect_content_type`, ``DetectContentType`` (sniff.go, the WHATWG
  mimesniff table): the text, HTML, XML, PDF and common image signatures;
  other binary formats fall back to ``application/octet-stream`` here, where
  Go knows a few more media types.
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
    "detect_content_type",
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


# ---------------------------------------------------------------------------
# Content sniffing, DetectContentType (net/http/sniff.go)

_SNIFF_LEN = 512
_WS = b"\t\n\x0c\r "
_HTML_TAGS = (
    b"<!DOCTYPE HTML", b"<HTML", b"<HEAD", b"<SCRIPT", b"<IFRAME", b"<H1", b"<DIV", b"<FONT",
    b"<TABLE", b"<A", b"<STYLE", b"<TITLE", b"<B", b"<BODY", b"<BR", b"<P", b"<!--",
)  # fmt: skip
_EXACT = (
    (b"%PDF-", "application/pdf"),
    (b"%!PS-Adobe-", "application/postscript"),
    (b"\xfe\xff", "text/plain; charset=utf-16be"),
    (b"\xff\xfe", "text/plain; charset=utf-16le"),
    (b"\xef\xbb\xbf", "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
)


def _html_match(data: bytes, tag: bytes) -> bool:
    if len(data) < len(tag) + 1:
        return False
    for want, got in zip(tag, data):
        if 0x41 <= want <= 0x5A:
            got &= 0xDF  # ASCII upper-case, as sniff.go's htmlSig does
        if want != got:
            return False
    return data[len(tag)] in b" >"  # a tag-terminating byte must follow


def _is_binary_byte(b: int) -> bool:
    return b <= 0x08 or b == 0x0B or 0x0E <= b <= 0x1A or 0x1C <= b <= 0x1F


def detect_content_type(data: bytes) -> str:
    """The MIME type Go's ``DetectContentType`` gives the first 512 bytes of a body."""
    data = data[:_SNIFF_LEN]
    text = data.lstrip(_WS)
    for tag in _HTML_TAGS:
        if _html_match(text, tag):
            return "text/html; charset=utf-8"
    if text[:5] == b"<?xml":
        return "text/xml; charset=utf-8"
    for magic, media_type in _EXACT:
        # sniff.go's byte-order-mark patterns are four bytes long: shorter bodies never match.
        if data.startswith(magic) and (len(data) >= 4 or not media_type.startswith("text/")):
            return media_type
    if not any(_is_binary_byte(b) for b in text):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"
