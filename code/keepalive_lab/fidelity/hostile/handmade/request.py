"""Hand-made classes about the request line and its target.

Methods, versions and separators in the request line; the HTTP/2 preface and
h2c upgrades; CONNECT authorities; absolute-form targets; percent-encoding
errors; non-ASCII and control bytes.
"""

from __future__ import annotations

from keepalive_lab.fidelity.hostile.case import Case, raw, single
from keepalive_lab.fidelity.hostile.handmade.parts import post as _post, with_host as _h

__all__ = ["absolute_form", "connect", "non_ascii", "percent", "preface", "request_line"]


# -- the request line ---------------------------------------------------------------------------

_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "get", "Get", "G-T", "G_T", "G.T",
            "G~T", "G!T", "G#T", "G'T", "G@T", "G(T", "G,T", "G/T", "G:T", "G;T", "G=T", "G[T", "G{T", 'G"T',
            "G\x00T", "G\x7fT", "G\xffT", "G\tT", "", "M" * 100, "M" * 5000]  # fmt: skip
_VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/1.9", "HTTP/1.10", "HTTP/01.1", "HTTP/1.01", "HTTP/1",
             "HTTP/1.", "HTTP/.1", "HTTP/1.1.1", "http/1.1", "Http/1.1", "HTTP/2", "HTTP/2.0", "HTTP/3.0",
             "HTTP/0.9", "HTTP/1.a", "HTTP/a.1", "HTTP/ 1.1", "HTTP 1.1", "HTTPS/1.1", "HTTP/-1.1", "HTTP/+1.1",
             "HTTP/1.+1", "HTTP/11.1", "HTTP/100000000000000000000.1", "HTTP/1.1\x00", "HTTP/\xb9.1", "HTTP/1.\xb9",
             "HTTP\\1.1", "HTTP/1,1", "HTTP/1\xd9\xab1"]  # fmt: skip
_LINES = [b"GET  / HTTP/1.1", b"GET /  HTTP/1.1", b"GET / HTTP/1.1 ", b" GET / HTTP/1.1", b"GET\t/\tHTTP/1.1",
          b"GET / HTTP/1.1\t", b"GET /", b"GET", b"GET / HTTP/1.1 extra", b"GET\x0b/ HTTP/1.1",
          b"GET /\x00 HTTP/1.1", b"GET\x00/ HTTP/1.1", b"/ HTTP/1.1", b"GET HTTP/1.1",
          b"GET  HTTP/1.1", b"GET / / HTTP/1.1", b"GET relative HTTP/1.1", b"GET . HTTP/1.1", b"GET ? HTTP/1.1",
          b"GET # HTTP/1.1", b"GET ~ HTTP/1.1", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"]  # fmt: skip


def request_line() -> list[Case]:
    k = "request-line"
    out = [single(k, f"method {m!r}", raw(m)) for m in _METHODS]
    out += [single(k, f"version {v!r}", raw(version=v)) for v in _VERSIONS[1:]]
    out += [single(k, f"version {v!r}, no Host", raw(version=v, headers=())) for v in _VERSIONS[:20]]
    out += [single(k, f"request line {line!r}", line + b"\r\nHost: lab\r\n\r\n") for line in _LINES]
    out += [single(k, "a request line of 8 KiB", raw(target="/" + "a" * 8192)),
            single(k, "a request line of 64 KiB", raw(target="/" + "a" * 65536)),
            single(k, "a bare LF after the request line", b"GET / HTTP/1.1\nHost: lab\r\n\r\n"),
            single(k, "bare LFs throughout", b"GET / HTTP/1.1\nHost: lab\n\n"),
            single(k, "a bare CR ends the request line", b"GET / HTTP/1.1\rHost: lab\r\n\r\n"),
            single(k, "CR CR LF ends the request line", b"GET / HTTP/1.1\r\r\nHost: lab\r\n\r\n"),
            single(k, "LF CR ends the head", b"GET / HTTP/1.1\r\nHost: lab\n\r\n"),
            single(k, "a blank line before the request", b"\r\n" + raw()),
            single(k, "two blank lines before the request", b"\r\n\r\n" + raw()),
            single(k, "bare LFs before the request", b"\n\n" + raw()),
            single(k, "a blank line only", b"\r\n"),
            single(k, "blank lines only", b"\r\n" * 6),
            single(k, "NUL bytes only", b"\x00" * 64),
            single(k, "HTTP/0.9 style, no version", b"GET /\r\n\r\n"),
            single(k, "HEAD", raw("HEAD")),
            single(k, "HEAD on HTTP/1.0", raw("HEAD", version="HTTP/1.0", headers=())),
            single(k, "OPTIONS *", raw("OPTIONS", "*")),
            single(k, "OPTIONS * on HTTP/1.0", raw("OPTIONS", "*", "HTTP/1.0", headers=())),
            single(k, "GET * (ServeMux: 400)", raw("GET", "*")),
            single(k, "TRACE with a body", raw("TRACE", headers=_h(("Content-Length", "5")), body=b"hello"))]
    return out


# -- odd methods and targets ---------------------------------------------------------------------------


def preface() -> list[Case]:
    k = "pri"
    pri = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    upgrade = _h(("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                 ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"))
    return [single(k, "the HTTP/2 preface", pri),
            single(k, "the preface and an HTTP/2 SETTINGS frame", pri + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
            single(k, "the preface's first line only", b"PRI * HTTP/2.0\r\n\r\n"),
            single(k, "PRI * HTTP/2.0 with Host", b"PRI * HTTP/2.0\r\nHost: lab\r\n\r\nSM\r\n\r\n"),
            single(k, "PRI / HTTP/2.0", b"PRI / HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            single(k, "PRI * HTTP/1.1", raw("PRI", "*")),
            single(k, "PRI * HTTP/2.1", b"PRI * HTTP/2.1\r\n\r\nSM\r\n\r\n"),
            single(k, "pri * HTTP/2.0", b"pri * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            single(k, "an h2c upgrade request", raw(headers=upgrade)),
            single(k, "an h2c upgrade POST", _post(upgrade + (("Content-Length", "5"),), b"hello"))]


def connect() -> list[Case]:
    k = "connect"
    targets = ["lab:443", "lab", ":443", "[::1]:443", "127.0.0.1:80", "/", "*", "http://lab/", "lab:443/x", ""]
    out = [single(k, f"CONNECT {t!r} with Host", raw("CONNECT", t)) for t in targets]
    out += [single(k, f"CONNECT {t!r} without Host", raw("CONNECT", t, headers=())) for t in targets]
    out += [single(k, "CONNECT on HTTP/1.0", raw("CONNECT", "lab:443", "HTTP/1.0", ())),
            single(k, "CONNECT with a body",
                   raw("CONNECT", "lab:443", headers=_h(("Content-Length", "5")), body=b"hello")),
            single(k, "connect, lower case", raw("connect", "lab:443"))]
    return out


_ABSOLUTE = ["http://lab/", "http://lab", "http://other/", "https://lab/", "HTTP://LAB/", "http://lab:80/x?y",
             "http://user:pw@lab/", "ftp://lab/", "http:/lab", "http:lab", "http://", "http:///x", "http://[::1]/",
             "http://lab/%zz", "http://lab/../x", "x://y", "a:b", "http://lab#frag", "/#frag", "http://lab/\xff",
             "http://la b/", "http://lab:x/"]  # fmt: skip


def absolute_form() -> list[Case]:
    k = "absolute-form"
    out = [single(k, f"target {t!r}", raw(target=t)) for t in _ABSOLUTE]
    out += [single(k, f"target {t!r}, no Host", raw(target=t, headers=())) for t in _ABSOLUTE]
    return out


_PERCENT = ["/%zz", "/%", "/%2", "/%2g", "/%00", "/%2f", "/%2F", "/%41", "/a%20b", "/%%", "/%%41", "/%G0", "/?a=%zz",
            "/?%", "/%e9", "/%c3%a9", "/%ff", "/a%2e%2e/b", "/%2e%2e/", "/%u0041", "/%0d%0a", "/x?%00", "/%7",
            "/100%", "/%zz?x=1", "/x#%zz", "/%2e", "/a/%2e%2e", "/%5c", "/%3f"]  # fmt: skip


def percent() -> list[Case]:
    k = "percent"
    return [single(k, f"target {t!r}", raw(target=t)) for t in _PERCENT] + [
        single(k, f"HEAD {t!r}", raw("HEAD", t), methods=("HEAD",)) for t in ("/%zz", "/%", "/%41")]


def non_ascii() -> list[Case]:
    k = "non-ascii"
    bytes_in_target = [b"\x80", b"\x9f", b"\xa0", b"\xc3\xa9", b"\xff", b"\xfe", b"\xe2\x82\xac", b"\x00", b"\x01",
                       b"\x7f", b"\x0b", b"\x0c", b"\x1b", b"\xf0\x9f\x92\xa9", b"\xc0\xaf",
                       b"\xed\xa0\x80"]  # fmt: skip
    out = [single(k, f"target /{b!r}", raw(target=b"/" + b)) for b in bytes_in_target]
    out += [single(k, f"query ?q={b!r}", raw(target=b"/?q=" + b)) for b in bytes_in_target[:6]]
    out += [single(k, "non-ASCII in the method", raw(b"G\xc3\xa9T")),
            single(k, "non-ASCII in the version", raw(version=b"HTTP/1.1\xc2\xa0")),
            single(k, "non-ASCII in a header name", raw(headers=_h((b"X-\xc3\xa9", "v")))),
            single(k, "non-ASCII target on HTTP/1.0", raw(target=b"/\xff", version="HTTP/1.0", headers=())),
            single(k, "a target of 4 KiB of \\xff", raw(target=b"/" + b"\xff" * 4096)),
            single(k, "a UTF-8 BOM before the request", b"\xef\xbb\xbf" + raw())]
    return out
