"""The request line, split and checked as Go's request.go does it.

Go's rules (RFC 9112 section 3, applied strictly and simply):

* The line is cut at its first two spaces: method, target, version. A
  second space anywhere else ends up in the version, which then fails.
* The method is a non-empty token (RFC 9110 section 9.1).
* The version is exactly ``HTTP/1.1``, ``HTTP/1.0``, or ``HTTP/`` digit ``.``
  digit; which versions the server then serves is the server's business
  (``http1ServerSupportsRequest``: 1.x, and ``PRI * HTTP/2.0``).

https://github.com/golang/go/blob/go1.23.4/src/net/http/request.go (``parseRequestLine``,
``validMethod``, ``ParseHTTPVersion``)
"""

from __future__ import annotations

from dataclasses import dataclass

from keepalive_lab.goserver.textproto import TOKEN_BYTES

__all__ = ["RequestLine", "parse_request_line", "supported_by_http1_server"]


@dataclass(frozen=True)
class RequestLine:
    method: str
    target: str  # Go's RequestURI, as sent (latin-1: one character per byte)
    proto: str
    major: int
    minor: int


def parse_request_line(line: bytes) -> RequestLine:
    """Split and check a request line; ValueError names what is wrong, as Go's badStringError does."""
    method, sp1, rest = line.partition(b" ")
    target, sp2, proto = rest.partition(b" ")
    if not sp1 or not sp2:
        raise ValueError("malformed HTTP request")
    if not method or any(c not in TOKEN_BYTES for c in method):
        raise ValueError("invalid method")
    version = _parse_http_version(proto)
    if version is None:
        raise ValueError("malformed HTTP version")
    return RequestLine(method.decode("ascii"), target.decode("latin-1"), proto.decode("ascii"), *version)


def _parse_http_version(proto: bytes) -> tuple[int, int] | None:
    """ParseHTTPVersion: ``HTTP/X.Y``, one digit each."""
    if proto == b"HTTP/1.1":
        return 1, 1
    if proto == b"HTTP/1.0":
        return 1, 0
    if len(proto) != 8 or not proto.startswith(b"HTTP/") or proto[6:7] != b".":
        return None
    major, minor = proto[5:6], proto[7:8]
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def supported_by_http1_server(line: RequestLine) -> bool:
    """server.go ``http1ServerSupportsRequest``: HTTP/1.x, or the ``PRI * HTTP/2.0`` preface."""
    if line.major == 1:
        return True
    return (line.major, line.minor) == (2, 0) and line.method == "PRI" and line.target == "*"
