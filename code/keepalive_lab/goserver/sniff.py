"""Go's ``DetectContentType`` (net/http sniff.go, the WHATWG mimesniff table).

The text, HTML, XML, PDF and common image signatures; other binary formats
fall back to ``application/octet-stream`` here, where Go knows a few more
media types. The server uses it for the ``Content-Type`` it adds to a
response whose handler set none.
"""

from __future__ import annotations

import functools

__all__ = ["detect_content_type"]

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
    return _detect(bytes(data[:_SNIFF_LEN]))


# A pure function of at most 512 bytes, and a server sends the same few bodies over and over:
# remembering the last answers takes sniffing off the per-request cost.
@functools.lru_cache(maxsize=256)
def _detect(data: bytes) -> str:
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
