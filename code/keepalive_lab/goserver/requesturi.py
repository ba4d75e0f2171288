"""The request target, parsed as Go's ``url.ParseRequestURI`` parses it.

Theory of operation
-------------------
A request target is ``*``, an absolute path, or an absolute URI (RFC 9112
section 3.2); Go refuses anything else, and more besides:

* any control byte (below 0x20, or 0x7F) anywhere;
* a ``%`` not followed by two hex digits, in the path or the authority (the
  query is not checked);
* in an absolute URI's authority: a port that is not all digits (``:m``), an
  ASCII byte a host cannot hold, a ``%`` escape of an ASCII byte (but
  ``%25``), an unclosed ``[``, or userinfo with bytes it cannot hold.

Bytes 0x80-0xFF are fine in a path and a host: Go's strings are bytes. A
``CONNECT`` target that does not start with ``/`` is an authority alone
(``example.com:443``); Go parses it as ``http://`` + target and drops the
scheme again (request.go ``readRequest``), so its path is empty.

The path is kept decoded (``URL.Path``) and, when the default encoding of
that would not give back what came (``/%41``, ``/caf\xc3\xa9``, ``/a#b``), as it
came (``URL.RawPath``, set by ``setPath``). :meth:`RequestURI.escaped_path`
is ``URL.EscapedPath``: the raw form if it is a valid encoding, else the
decoded path escaped again (:func:`escape_path`). ``ServeMux`` routes and
cleans that string.

https://github.com/golang/go/blob/go1.23.4/src/net/url/url.go (``ParseRequestURI``,
``parse``, ``getScheme``, ``parseAuthority``, ``parseHost``, ``validOptionalPort``, ``unescape``,
``shouldEscape``, ``validUserinfo``, ``setPath``, ``EscapedPath``, ``validEncoded``, ``escape``)
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["RequestURI", "parse_request_uri", "InvalidURI", "escape_path"]

# The checks are regular expressions, not loops over characters: a target can be a mebibyte long.
_CTL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # getScheme: a letter first, then these, then ":"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ASCII_ESCAPE = re.compile(r"%(?!25)[0-7][0-9A-Fa-f]")  # a host escapes only non-ASCII bytes, and "%25"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# shouldEscape(c, encodeHost) is false for letters, digits and these (reg-name, ":port", "[ipv6]"); other ASCII
# bytes may not appear in a host. "%" starts an escape, checked on its own; non-ASCII bytes are let through.
_HOST_PUNCTUATION = "!$&'()*+,;=:[]<>\"-_.~"
_NOT_IN_HOST = re.compile("[^A-Za-z0-9%\x80-\xff" + re.escape(_HOST_PUNCTUATION) + "]")
# An escaped byte in an IPv6 zone (RFC 6874) must be one a host could hold unescaped, "%25" or a space.
_ZONE_ESCAPES = frozenset(f"{c:02X}" for c in range(0x80) if chr(c).isalnum() or chr(c) in _HOST_PUNCTUATION + " %")
_NOT_IN_USERINFO = re.compile("[^A-Za-z0-9" + re.escape("-._:~!$&'()*+,;=%@") + "]")
_DIGITS = frozenset(string.digits)
# shouldEscape(c, encodePath) is false for letters, digits, "-_.~" and the reserved bytes a path keeps; all else
# (space, "?", "#", "%", quotes, "<>", non-ASCII...) is written %XX, upper-case.
_PATH_ESCAPES = {c: f"%{c:02X}" for c in range(256) if not re.fullmatch(r"[A-Za-z0-9\-_.~$&+,/:;=@]", chr(c))}
# validEncoded(s, encodePath): those, and "!'()*[]" and "%" as they came; anything else means RawPath is not used.
_NOT_VALID_ENCODED = re.compile(r"[^A-Za-z0-9\-_.~$&+,/:;=@!'()*\[\]%]")


class InvalidURI(ValueError):
    """The target is not a request URI Go accepts."""


class _Mode(enum.Enum):
    PATH = "path"
    HOST = "host"
    ZONE = "zone"
    USERINFO = "userinfo"


@dataclass(frozen=True)
class RequestURI:
    """The parts of Go's ``url.URL`` the server uses; ``path`` is percent-decoded, ``raw_path`` as it came or ""."""

    scheme: str = ""
    host: str = ""
    path: str = ""
    raw_query: str = ""
    opaque: str = ""
    raw_path: str = ""

    def escaped_path(self) -> str:
        """``URL.EscapedPath``: ``raw_path`` if it is a valid encoding of ``path``, else ``path`` escaped."""
        if self.raw_path and not _NOT_VALID_ENCODED.search(self.raw_path):
            try:
                if _unescape(self.raw_path, _Mode.PATH) == self.path:
                    return self.raw_path
            except InvalidURI:
                pass
        if self.path == "*":
            return "*"  # not escaped (golang/go#11202)
        return escape_path(self.path)


def escape_path(s: str) -> str:
    """Go's ``escape(s, encodePath)`` for a latin-1 string of bytes: ``/caf\xe9 x`` -> ``/caf%E9%20x``."""
    return s.translate(_PATH_ESCAPES)


def parse_request_uri(target: str, method: str = "GET") -> RequestURI:
    """Parse a request target (a latin-1 string of the wire's bytes); raise :class:`InvalidURI`."""
    authority_only = method == "CONNECT" and not target.startswith("/")
    uri = _parse("http://" + target if authority_only else target)
    if authority_only:
        # The bogus scheme dropped.
        return RequestURI(host=uri.host, path=uri.path, raw_query=uri.raw_query, raw_path=uri.raw_path)
    return uri


def _parse(raw: str) -> RequestURI:
    """url.parse(raw, viaRequest=true)."""
    if _CTL.search(raw):
        raise InvalidURI("net/url: invalid control character in URL")
    if raw == "":
        raise InvalidURI("empty url")
    if raw == "*":
        return RequestURI(path="*")
    scheme, rest = _split_scheme(raw)
    scheme = scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        rest, query = rest[:-1], ""  # ForceQuery: an empty query
    else:
        rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return RequestURI(scheme=scheme, raw_query=query, opaque=rest)  # rootless: opaque, not checked
        raise InvalidURI("invalid URI for request")
    host = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        host = _parse_authority(authority)
        rest = slash + path
    path = _unescape(rest, _Mode.PATH)
    # setPath: RawPath only when the default encoding does not give back what came.
    raw_path = "" if escape_path(path) == rest else rest
    return RequestURI(scheme=scheme, host=host, path=path, raw_query=query, raw_path=raw_path)


def _split_scheme(raw: str) -> tuple[str, str]:
    """getScheme: ``scheme ":"`` up front, or no scheme at all (a byte no scheme holds comes first)."""
    if raw.startswith(":"):
        raise InvalidURI("missing protocol scheme")
    found = _SCHEME.match(raw)
    if found is None:
        return "", raw
    return raw[: found.end() - 1], raw[found.end() :]


def _parse_authority(authority: str) -> str:
    """parseAuthority: check the userinfo, if any, and return the host."""
    userinfo, at, hostport = authority.rpartition("@")
    host = _parse_host(hostport)
    if at:
        if _NOT_IN_USERINFO.search(userinfo):
            raise InvalidURI("net/url: invalid userinfo")
        for part in userinfo.split(":", 1):
            _unescape(part, _Mode.USERINFO)
    return host


def _parse_host(host: str) -> str:
    """parseHost: an IP literal in brackets, or a name with an optional all-digit port."""
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0:
            raise InvalidURI("missing ']' in host")
        _check_port(host[close + 1 :])
        zone = host.find("%25", 0, close)
        if zone >= 0:  # RFC 6874: "%25" starts a zone, which may escape more freely
            return (_unescape(host[:zone], _Mode.HOST) + _unescape(host[zone:close], _Mode.ZONE)
                    + _unescape(host[close:], _Mode.HOST))  # fmt: skip
    elif (colon := host.rfind(":")) >= 0:
        _check_port(host[colon:])
    return _unescape(host, _Mode.HOST)


def _check_port(colon_port: str) -> None:
    """validOptionalPort: nothing, or a colon and digits only (an empty port is fine)."""
    if colon_port and (colon_port[0] != ":" or not _DIGITS.issuperset(colon_port[1:])):
        raise InvalidURI(f"invalid port {colon_port!r} after host")


def _unescape(s: str, mode: _Mode) -> str:
    """Check the ``%`` escapes (and, in a host, the bytes) of ``s``, and decode it."""
    if (bad := _BAD_ESCAPE.search(s)) is not None:
        raise InvalidURI(f"invalid URL escape {s[bad.start() : bad.start() + 3]!r}")
    if mode in (_Mode.HOST, _Mode.ZONE) and (bad := _NOT_IN_HOST.search(s)) is not None:
        raise InvalidURI(f"invalid character {bad[0]!r} in host name")
    if mode is _Mode.HOST and (bad := _ASCII_ESCAPE.search(s)) is not None:
        raise InvalidURI(f"invalid URL escape {bad[0]!r}")
    if mode is _Mode.ZONE and any(code.upper() not in _ZONE_ESCAPES for code in _ESCAPE.findall(s)):
        raise InvalidURI("invalid URL escape in zone")
    return unquote(s, encoding="latin-1") if "%" in s else s
