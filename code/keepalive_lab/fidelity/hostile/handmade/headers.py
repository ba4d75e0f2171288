"""Hand-made classes about header fields: names, values, folding, Connection, Host, Expect.

The framing headers (Content-Length, Transfer-Encoding) have their own
module, :mod:`.framing`: here they appear only as names with odd bytes
around them, or folded.
"""

from __future__ import annotations

from keepalive_lab.fidelity.hostile.case import PAUSE, SEND, Case, Step, raw, single
from keepalive_lab.fidelity.hostile.handmade.parts import CHUNKED, HELLO_CHUNKED, post as _post, with_host as _h

__all__ = ["connection", "expect", "header_name", "header_value", "host", "obs_fold"]


# -- header names and values -----------------------------------------------------------------------

_NAME_BYTES = "()<>@,;\\\"/[]?={} \t\x00\x01\x0b\x0c\x1f\x7f\x80\xe9\xff!#$%&'*+-.^_`|~0"


def header_name() -> list[Case]:
    k = "header-name"
    out = [single(k, f"header name with {c!r}", raw(headers=_h((f"X{c}Y", "v")))) for c in _NAME_BYTES]
    lines = [b"Host : lab", b"Host\t: lab", b"Host\t:lab", b": empty name", b"::x", b"X-A:", b"X-A", b"X-A x",
             b"X-A:: v", b"X-A :v", b"HOST: lab", b"host: lab", b"hOsT: lab", b"X-A\x00: v", b"\x00X: v",
             b"X-A: v\r\nX-A: w", b"Content-Length : 5", b"Transfer-Encoding : chunked", b"X" * 5000 + b": v",
             b"X" * 70000 + b": v"]  # fmt: skip
    out += [single(k, f"header line {line[:40]!r}", b"GET / HTTP/1.1\r\nHost: lab\r\n" + line + b"\r\n\r\n")
            for line in lines]  # fmt: skip
    out += [single(k, "a first header line that starts with a space", b"GET / HTTP/1.1\r\n Host: lab\r\n\r\n"),
            single(k, "a first header line that starts with a tab", b"GET / HTTP/1.1\r\n\tX: y\r\nHost: lab\r\n\r\n"),
            single(k, "no Host, a name with a space", b"GET / HTTP/1.1\r\nHo st: lab\r\n\r\n")]
    return out


def header_value() -> list[Case]:
    k = "header-value"
    controls = [chr(c) for c in range(0x20) if c not in (0x0A, 0x0D)] + ["\x7f"]
    out = [single(k, f"value with {c!r}", raw(headers=_h(("X-V", f"a{c}b")))) for c in controls]
    out += [single(k, f"value {v!r}", raw(headers=_h(("X-V", v)))) for v in
            ["\x80", "\xa0", "\xff", "\xc3\xa9", "  v  ", "\tv\t", "", " ", "a\rb", "a\r", "\r",
             "v" * 100_000, "\x00"]]  # fmt: skip
    out += [single(k, f"Host value {v!r}", raw(headers=(("Host", v),))) for v in _HOSTS]
    out += [single(k, "two Host headers", raw(headers=(("Host", "a"), ("Host", "b")))),
            single(k, "two equal Host headers", raw(headers=(("Host", "lab"), ("Host", "lab")))),
            single(k, "two Host headers on HTTP/1.0", raw(version="HTTP/1.0", headers=(("Host", "a"), ("Host", "b"))))]
    return out


_HOSTS = ["", "a b", "a/b", "a:b:c", "[::1]", "[::1]:80", "::1", "a:99999", "a:-1", "a@b", "l\xe4b", "a\tb", "lab:",
          ":80", "a,b", "xn--lab", "a_b", "%41", "a%20b", "[::1", "lab.", "-lab", "l" * 300, "127.0.0.1:8080",
          "a\\b", "a{b}"]  # fmt: skip


def obs_fold() -> list[Case]:
    k = "obs-fold"
    pre = b"GET / HTTP/1.1\r\nHost: lab\r\n"
    folds = [b"X-A: a\r\n b", b"X-A: a\r\n\tb", b"X-A: a\r\n  ", b"X-A:\r\n b", b"X-A: a\r\n b\r\n c\r\n d",
             b"X-A: a\n b", b"Connection: keep-alive\r\n close", b"Expect: 100-\r\n continue", b"X-A: a\r\n \x01"]
    out = [single(k, f"folded {f[:30]!r}", pre + f + b"\r\n\r\n") for f in folds]
    out += [single(k, "folded Host", b"GET / HTTP/1.1\r\nHost:\r\n lab\r\n\r\n"),
            single(k, "folded Content-Length", b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\n 0\r\n\r\nhello"),
            single(k, "folded Content-Length value",
                   b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length:\r\n 5\r\n\r\nhello"),
            single(k, "folded Transfer-Encoding with a Content-Length",
                   b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                   + HELLO_CHUNKED),
            single(k, "folded Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: x\r\n chunked"
                   b"\r\n\r\n" + HELLO_CHUNKED),
            single(k, "a fold on HTTP/1.0", b"GET / HTTP/1.0\r\nX-A: a\r\n b\r\n\r\n")]
    return out


# -- the Connection header -----------------------------------------------------------------------

_CONNECTION = ["close", "Close", "CLOSE", "close ", "  close", "foo close", "foo\tclose", "close foo", "foo, close",
               "foo,close", "close, foo", ",close", "close,", "keep-alive", "Keep-Alive", "keep-alive, close",
               "close, keep-alive", "keep-alive close", "keep-alive\tclose", "upgrade", "", "foo", "clos", "closed",
               "x-close", "close\x00", "close;", '"close"', "Keep-Alive, foo", "foo keep-alive"]  # fmt: skip


def connection() -> list[Case]:
    k = "connection"
    out = [single(k, f"HTTP/1.1 Connection {v!r}", raw(headers=_h(("Connection", v)))) for v in _CONNECTION]
    out += [single(k, f"HTTP/1.0 Connection {v!r}", raw(version="HTTP/1.0", headers=(("Connection", v),)))
            for v in _CONNECTION]  # fmt: skip
    out += [single(k, "two Connection headers: foo, close",
                   raw(headers=_h(("Connection", "foo"), ("Connection", "close")))),
            single(k, "two Connection headers on HTTP/1.0: keep-alive, close",
                   raw(version="HTTP/1.0", headers=(("Connection", "keep-alive"), ("Connection", "close")))),
            single(k, "two Connection headers on HTTP/1.0: foo, keep-alive",
                   raw(version="HTTP/1.0", headers=(("Connection", "foo"), ("Connection", "keep-alive")))),
            single(k, "Proxy-Connection: keep-alive on HTTP/1.0",
                   raw(version="HTTP/1.0", headers=(("Proxy-Connection", "keep-alive"),))),
            single(k, "Keep-Alive header without Connection",
                   raw(version="HTTP/1.0", headers=(("Keep-Alive", "300"),)))]
    return out


# -- Host and Expect ---------------------------------------------------------------------------------


def host() -> list[Case]:
    k = "host"
    out = [single(k, f"Host {v!r} on HTTP/1.0", raw(version="HTTP/1.0", headers=(("Host", v),))) for v in _HOSTS[:12]]
    out += [single(k, "absolute-form with a malformed Host", raw(target="http://lab/", headers=(("Host", "a b"),))),
            single(k, "Host with a NUL", raw(headers=(("Host", "la\x00b"),))),
            single(k, "Host on HTTP/1.1 after other headers", raw(headers=(("X-A", "1"), ("Host", "lab"))))]
    return out


def expect() -> list[Case]:
    k = "expect"
    body = (("Content-Length", "5"),)
    out = [single(k, f"Expect {v!r}, body sent", _post(_h(*body, ("Expect", v)), b"hello"))
           for v in ["100-continue", "100-Continue", "100-CONTINUE", "100-continue, foo", "foo", "", " 100-continue",
                     "100-continue "]]  # fmt: skip
    out += [single(k, "Expect 100-continue, no body sent", _post(_h(*body, ("Expect", "100-continue")), b"")),
            single(k, "Expect 100-continue on a GET", raw(headers=_h(("Expect", "100-continue")))),
            single(k, "Expect 100-continue, chunked", _post(_h(CHUNKED, ("Expect", "100-continue")), HELLO_CHUNKED)),
            single(k, "Expect 100-continue, 300 KiB sent",
                   _post(_h(("Content-Length", str(300 * 1024)), ("Expect", "100-continue")), b"x" * (300 * 1024))),
            Case(k, "Expect 100-continue, the body after the 100", (
                Step(SEND, _post(_h(*body, ("Expect", "100-continue")), b"")), Step(PAUSE, seconds=0.1),
                Step(SEND, b"hello")), ("POST",))]  # fmt: skip
    return out
