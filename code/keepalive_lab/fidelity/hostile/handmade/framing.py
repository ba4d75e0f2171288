"""Hand-made classes about where a body ends: Content-Length, Transfer-Encoding, chunks, trailers.

These are the cases where two servers that disagree on a body's length
disagree on where the next request starts (request smuggling), so each
class pairs the framing with bytes after the body.
"""

from __future__ import annotations

from keepalive_lab.fidelity.hostile.case import Case, raw, single
from keepalive_lab.fidelity.hostile.handmade.parts import CHUNKED, HELLO_CHUNKED, post as _post, with_host as _h

__all__ = ["chunk_size", "content_length", "smuggling", "te_http10", "trailers"]


# -- Content-Length, Transfer-Encoding, smuggling ---------------------------------------------------

_LENGTHS = ["0", "5", "05", "00000000000000000000005", " 5", "5 ", "5\t", "\t5", "+5", "-5", "-0", "0x5", "5.0",
            "1e1", "", "5,5", "5, 5", "5,6", "5, ,5", ",5", "5,", "5 5", "9223372036854775807",
            "9223372036854775808", "18446744073709551616", "99999999999999999999999", "\xd9\xa5", "\xef\xbc\x95",
            "0005", "4", "6"]  # fmt: skip


def content_length() -> list[Case]:
    k = "content-length"
    out = [single(k, f"Content-Length {v!r}, 5 bytes", _post(_h(("Content-Length", v)), b"hello"),
                  methods=("POST",)) for v in _LENGTHS]  # fmt: skip
    out += [single(k, f"GET with Content-Length {v!r}", raw(headers=_h(("Content-Length", v))))
            for v in ["0", "-1", "5,5", "x", " 0"]]  # fmt: skip
    pairs = [("5", "5"), ("5", "6"), ("0", "5"), ("5", "5 "), ("5", " 5"), ("5", "05"), ("5", "")]
    out += [single(k, f"Content-Length {a!r} and {b!r}", _post(_h(("Content-Length", a), ("Content-Length", b)),
                                                               b"hello")) for a, b in pairs]  # fmt: skip
    out += [single(k, "three equal Content-Lengths",
                   _post(_h(("Content-Length", "5"), ("Content-Length", "5"), ("Content-Length", "5")), b"hello")),
            single(k, "a length longer than the body (waits for the read deadline)",
                   _post(_h(("Content-Length", "10")), b"hello")),
            single(k, "a length shorter than the body: the rest is the next request",
                   _post(_h(("Content-Length", "2")), b"hello")),
            single(k, "a length cut short, then a request", _post(_h(("Content-Length", "5")), b"he") + raw()),
            single(k, "300 KiB left unread", _post(_h(("Content-Length", str(300 * 1024))), b"x" * (300 * 1024))),
            single(k, "256 KiB left unread", _post(_h(("Content-Length", str(256 * 1024))), b"x" * (256 * 1024))),
            single(k, "an HTTP/1.0 POST with a length and keep-alive",
                   _post((("Content-Length", "5"), ("Connection", "keep-alive")), b"hello", "HTTP/1.0")),
            single(k, "an HTTP/1.0 POST without a length", _post((), b"hello", "HTTP/1.0"))]
    return out


_TES = ["chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "chunked\t", "\tchunked", "chunked, identity",
        "identity, chunked", "gzip, chunked", "chunked, gzip", "chunked,chunked", "chunked, chunked", "xchunked",
        "chunkedx", '"chunked"', "chunked;q=1", "identity", "gzip", "", "chunk", "\x0bchunked", "chun\x00ked",
        "chunked\xff", ",chunked", "chunked,", "deflate", "compress"]  # fmt: skip
_SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: lab\r\n\r\n"


def smuggling() -> list[Case]:
    k = "smuggling"
    out = [single(k, f"Transfer-Encoding {te!r}", _post(_h(("Transfer-Encoding", te)), HELLO_CHUNKED))
           for te in _TES]  # fmt: skip
    out += [single(k, f"Transfer-Encoding {te!r} and Content-Length",
                   _post(_h(("Content-Length", "5"), ("Transfer-Encoding", te)), HELLO_CHUNKED)) for te in _TES]
    cl_te = b"0\r\n\r\n" + _SMUGGLED
    out += [single(k, "CL.TE: a length covering a smuggled request, chunked",
                   _post(_h(("Content-Length", str(len(cl_te))), CHUNKED), cl_te)),
            single(k, "CL.TE: Transfer-Encoding first",
                   _post(_h(CHUNKED, ("Content-Length", str(len(cl_te)))), cl_te)),
            single(k, "TE.CL: a chunk holding a smuggled request, a short length",
                   _post(_h(("Content-Length", "4"), CHUNKED), b"%x\r\n%s\r\n0\r\n\r\n" % (len(_SMUGGLED), _SMUGGLED))),
            single(k, "TE.CL: obfuscated TE, a short length",
                   _post(_h(("Content-Length", "3"), ("Transfer-Encoding", " chunked")), b"5\r\nhello\r\n0\r\n\r\n")),
            single(k, "two Transfer-Encodings: gzip then chunked",
                   _post(_h(("Transfer-Encoding", "gzip"), CHUNKED), HELLO_CHUNKED)),
            single(k, "two Transfer-Encodings: chunked twice", _post(_h(CHUNKED, CHUNKED), HELLO_CHUNKED)),
            single(k, "two Transfer-Encodings: chunked then identity",
                   _post(_h(CHUNKED, ("Transfer-Encoding", "identity")), HELLO_CHUNKED)),
            single(k, "chunked, then a smuggled request after the last chunk", _post(_h(CHUNKED), cl_te)),
            single(k, "chunked on a GET", raw(headers=_h(CHUNKED), body=HELLO_CHUNKED)),
            single(k, "Content-Length 0 and a smuggled request", _post(_h(("Content-Length", "0")), _SMUGGLED)),
            single(k, "Transfer-Encoding with a smuggled request in the chunk size",
                   _post(_h(CHUNKED), b"0 " + _SMUGGLED + b"\r\n\r\n"))]
    return out


def te_http10() -> list[Case]:
    k = "te-http10"
    out = []
    for te in ["chunked", "Chunked", "gzip", "gzip, chunked", "identity", "bogus"]:
        out.append(single(k, f"HTTP/1.0 Transfer-Encoding {te!r}",
                          _post((("Transfer-Encoding", te),), HELLO_CHUNKED, "HTTP/1.0")))  # fmt: skip
        out.append(single(k, f"HTTP/1.0 keep-alive, Transfer-Encoding {te!r}",
                          _post((("Transfer-Encoding", te), ("Connection", "keep-alive")), HELLO_CHUNKED, "HTTP/1.0")))
    out += [single(k, "HTTP/1.0 chunked with a Content-Length",
                   _post((CHUNKED, ("Content-Length", "5"), ("Connection", "keep-alive")), b"hello", "HTTP/1.0")),
            single(k, "HTTP/1.0 chunked with a Content-Length covering the chunks",
                   _post((CHUNKED, ("Content-Length", str(len(HELLO_CHUNKED))), ("Connection", "keep-alive")),
                         HELLO_CHUNKED, "HTTP/1.0")),
            single(k, "HTTP/1.0 chunked, no body", _post((CHUNKED, ("Connection", "keep-alive")), b"", "HTTP/1.0")),
            single(k, "HTTP/1.0 chunked with Host", _post(_h(CHUNKED, ("Connection", "keep-alive")), HELLO_CHUNKED,
                                                          "HTTP/1.0")),
            single(k, "HTTP/1.0 chunked GET", raw(version="HTTP/1.0", headers=(CHUNKED, ("Connection", "keep-alive")),
                                                  body=HELLO_CHUNKED)),
            single(k, "HTTP/1.0 chunked, a malformed chunk",
                   _post((CHUNKED, ("Connection", "keep-alive")), b"zz\r\nhello\r\n0\r\n\r\n", "HTTP/1.0")),
            single(k, "HTTP/1.0 chunked, Content-Length 0 and a request behind",
                   _post((CHUNKED, ("Content-Length", "0"), ("Connection", "keep-alive")), raw(), "HTTP/1.0"))]
    return out


# -- chunked bodies ----------------------------------------------------------------------------------

_SIZES = ["5", "05", "00000000000000005", "0000000000000005", "000000000000000005", "5 ", "5\t", " 5", "+5", "-5",
          "0x5", "5;", "5;a", "5;a=b", "5; a=b", "5 ;a=b", "5\t;a=b", '5;a="b c"', '5;a="b', "5;a=b;c=d", "5;=",
          "5;\x00", "5;\xff", "5" + ";" + "e" * 5000, "5;" + "e" * 4000, "5;" + "e" * 4100, "A", "a", "g", "",
          "ffffffffffffffff", "7fffffffffffffff", "8000000000000000", "10000000000000000", "5\x00",
          "\xd9\xa5"]  # fmt: skip
_ENDS = [b"5\nhello\n0\n\n", b"5\r\nhello\n0\r\n\r\n", b"5\nhello\r\n0\n\r\n", b"5\r\nhello\r\n0\n\n",
         b"5\r\nhello\r\n0\r\n\n", b"5\rhello\r0\r\r", b"5\r\nhello\r\r\n0\r\n\r\n",
         b"5\r\r\nhello\r\n0\r\n\r\n"]  # fmt: skip


def chunk_size() -> list[Case]:
    k = "chunk-size"
    out = [single(k, f"chunk size {s[:24]!r}", _post(_h(CHUNKED), s.encode("latin-1") + b"\r\nhello\r\n0\r\n\r\n"))
           for s in _SIZES]  # fmt: skip
    out += [single(k, f"chunk framing {e!r}", _post(_h(CHUNKED), e)) for e in _ENDS]
    out += [single(k, "a 17-digit last chunk", _post(_h(CHUNKED), b"5\r\nhello\r\n" + b"0" * 17 + b"\r\n\r\n")),
            single(k, "a 16-digit last chunk", _post(_h(CHUNKED), b"5\r\nhello\r\n" + b"0" * 16 + b"\r\n\r\n")),
            single(k, "a chunk size line of 5000 zeros", _post(_h(CHUNKED), b"0" * 4999 + b"5\r\nhello\r\n0\r\n\r\n")),
            single(k, "a chunk size line of 4095 bytes",
                   _post(_h(CHUNKED), b"5;" + b"e" * 4091 + b"\r\nhello\r\n0\r\n\r\n")),
            single(k, "a chunk size line of 4096 bytes",
                   _post(_h(CHUNKED), b"5;" + b"e" * 4092 + b"\r\nhello\r\n0\r\n\r\n")),
            single(k, "an endless chunk size line (256 KiB)", _post(_h(CHUNKED), b"0" * (256 * 1024))),
            single(k, "an endless chunk extension (256 KiB)", _post(_h(CHUNKED), b"5;" + b"e" * (256 * 1024))),
            single(k, "a chunk without its CRLF", _post(_h(CHUNKED), b"5\r\nhelloX0\r\n\r\n")),
            single(k, "a chunk longer than its size", _post(_h(CHUNKED), b"5\r\nhello world\r\n0\r\n\r\n")),
            single(k, "a chunk shorter than its size", _post(_h(CHUNKED), b"9\r\nhello\r\n0\r\n\r\n")),
            single(k, "no last chunk (waits for the read deadline)", _post(_h(CHUNKED), b"5\r\nhello\r\n")),
            single(k, "the last chunk, no blank line", _post(_h(CHUNKED), b"5\r\nhello\r\n0\r\n")),
            single(k, "many one-byte chunks", _post(_h(CHUNKED), b"1\r\nx\r\n" * 2000 + b"0\r\n\r\n")),
            single(k, "a zero-length body, chunked", _post(_h(CHUNKED), b"0\r\n\r\n")),
            single(k, "chunked then a pipelined GET", _post(_h(CHUNKED), HELLO_CHUNKED + raw()))]
    return out


def trailers() -> list[Case]:
    k = "trailer"
    last = b"5\r\nhello\r\n0\r\n"
    fields = [b"X-T: a", b"X-T:a", b"X-T : a", b"X T: a", b": a", b"X-T", b"X-T: a\x00b", b"X-T: \xff",
              b"Content-Length: 5", b"Transfer-Encoding: chunked", b"Host: other", b"X-T: a\r\n b",
              b"X-T: a\r\nX-U: b", b"X-T: a\nX-U: b", b" X-T: a"]  # fmt: skip
    out = [single(k, f"trailer {f[:30]!r}", _post(_h(CHUNKED), last + f + b"\r\n\r\n")) for f in fields]
    out += [single(k, "a trailer line of 4 KiB", _post(_h(CHUNKED), last + b"X-T: " + b"a" * 4096 + b"\r\n\r\n")),
            single(k, "a trailer line of 64 KiB", _post(_h(CHUNKED), last + b"X-T: " + b"a" * 65536 + b"\r\n\r\n")),
            single(k, "trailers of 8 KiB in short lines",
                   _post(_h(CHUNKED),
                         last + b"".join(b"X-T%d: %s\r\n" % (i, b"a" * 64) for i in range(120)) + b"\r\n")),
            single(k, "trailers of 1.1 MiB",
                   _post(_h(CHUNKED), last + (b"X-T: " + b"a" * 1000 + b"\r\n") * 1100 + b"\r\n")),
            single(k, "an endless trailer line (256 KiB)", _post(_h(CHUNKED), last + b"X-T: " + b"a" * (256 * 1024))),
            single(k, "an endless trailer line of newlines-free bytes (1 MiB)",
                   _post(_h(CHUNKED), last + b"X-T: " + b"a" * (1 << 20))),
            single(k, "trailers that never end (waits for the read deadline)",
                   _post(_h(CHUNKED), last + b"X-T: a\r\n")),
            single(k, "a trailer and a pipelined GET", _post(_h(CHUNKED), last + b"X-T: a\r\n\r\n" + raw()))]
    return out
