"""Hand-made classes about what the client does with its connection, and input past reason.

Pipelined requests, HTTP/1.0 keep-alive, half-closes, resets, slow senders
(within and past the server's deadlines), heads around the 431 boundary, and
random bytes. The server gets ``MaxHeaderBytes`` 1 MiB, Go's default, so a
head passes up to 1 MiB + 4096 bytes (the "bufio slop") and gets a 431 one
byte later: :data:`HEAD_LIMIT`. The random class draws from a generator of
its own, seeded with :data:`~.parts.SEED`, so its cases are the same on every
run whatever else the corpus holds.
"""

from __future__ import annotations

import random

from keepalive_lab.fidelity.hostile.case import AWAIT, PAUSE, RESET, SEND, SHUT_WR, Case, Step, raw, single
from keepalive_lab.fidelity.hostile.handmade.parts import CHUNKED, HELLO_CHUNKED, SEED, post as _post, with_host as _h

__all__ = ["HEAD_LIMIT", "big_head", "half_close", "http10", "pipelining", "random_bytes", "resets", "slow"]

HEAD_LIMIT = (1 << 20) + 4096  # Go's default MaxHeaderBytes plus its 4096 bytes of bufio slop


# -- many requests, and what the client does with its connection -----------------------------------


def http10() -> list[Case]:
    k = "http10"
    ka = (("Connection", "keep-alive"),)
    out = [single(k, "HTTP/1.0 without Host", raw(version="HTTP/1.0", headers=())),
           single(k, "HTTP/1.0 with Host", raw(version="HTTP/1.0")),
           single(k, "HTTP/1.0 keep-alive, twice pipelined", raw(version="HTTP/1.0", headers=ka) * 2),
           single(k, "HTTP/1.0 keep-alive then HTTP/1.1", raw(version="HTTP/1.0", headers=ka) + raw()),
           single(k, "HTTP/1.0 without keep-alive then HTTP/1.1", raw(version="HTTP/1.0", headers=()) + raw()),
           single(k, "HTTP/1.0 keep-alive POST with a body",
                  _post(ka + (("Content-Length", "5"),), b"hello", "HTTP/1.0")),
           single(k, "HTTP/1.0 Expect: 100-continue", _post(ka + (("Content-Length", "5"), ("Expect", "100-continue")),
                                                           b"hello", "HTTP/1.0")),
           single(k, "HTTP/1.0 absolute-form", raw(target="http://lab/", version="HTTP/1.0", headers=ka)),
           single(k, "HTTP/1.0 OPTIONS * keep-alive", raw("OPTIONS", "*", "HTTP/1.0", ka)),
           single(k, "HTTP/1.0 HEAD keep-alive", raw("HEAD", version="HTTP/1.0", headers=ka), methods=("HEAD",)),
           single(k, "HTTP/1.0 keep-alive with an unclean path", raw(target="//x", version="HTTP/1.0", headers=ka)),
           single(k, "HTTP/1.0 keep-alive, GET *", raw(target="*", version="HTTP/1.0", headers=ka))]
    return out


def pipelining() -> list[Case]:
    k = "pipelining"
    get, close = raw(), raw(headers=_h(("Connection", "close")))
    post = _post(_h(("Content-Length", "5")), b"hello")
    chunked = _post(_h(CHUNKED), HELLO_CHUNKED)
    return [single(k, "two GETs", get * 2),
            single(k, "five GETs", get * 5),
            single(k, "a GET, then garbage", get + b"GARBAGE\r\n\r\n"),
            single(k, "garbage, then a GET", b"GARBAGE\r\n\r\n" + get),
            single(k, "a POST, then a GET", post + get),
            single(k, "a chunked POST, then a GET", chunked + get),
            single(k, "HTTP/1.0, then a GET", raw(version="HTTP/1.0", headers=()) + get),
            single(k, "Connection: close, then a GET", close + get),
            single(k, "a HEAD, then a GET", raw("HEAD") + get, methods=("HEAD", "GET")),
            single(k, "a POST, a blank line, a GET", post + b"\r\n" + get),
            single(k, "a POST, two blank lines, a GET", post + b"\r\n\r\n" + get),
            single(k, "a POST, bare LFs, a GET", post + b"\n\n" + get),
            single(k, "a GET, a blank line, a GET", get + b"\r\n" + get),
            single(k, "a GET, two blank lines, a GET", get + b"\r\n\r\n" + get),
            single(k, "OPTIONS *, then a GET", raw("OPTIONS", "*") + get),
            single(k, "a GET, then half a GET (the probe completes it)", get + b"GET / HTTP/1.1\r\nHost: la"),
            single(k, "a GET, then a request line only", get + b"GET / HTTP/1.1\r\n"),
            single(k, "a GET, then 3 bytes", get + b"GET"),
            single(k, "100 GETs", get * 100),
            single(k, "a GET *, then a GET", raw(target="*") + get),
            single(k, "an unclean path, then a GET", raw(target="//x") + get),
            single(k, "a 300 KiB POST, then a GET",
                   _post(_h(("Content-Length", str(300 * 1024))), b"x" * (300 * 1024)) + get),
            single(k, "Expect 100-continue with its body, then a GET",
                   _post(_h(("Content-Length", "5"), ("Expect", "100-continue")), b"hello") + get),
            single(k, "a missing Host, then a GET", raw(headers=()) + get),
            single(k, "a POST with a partial chunk, then a GET", _post(_h(CHUNKED), b"5\r\nhel") + get),
            Case(k, "a GET, its answer, then another", (Step(SEND, get), Step(AWAIT), Step(SEND, get))),
            Case(k, "a GET, its answer, then garbage",
                 (Step(SEND, get), Step(AWAIT), Step(SEND, b"\x00\x01\x02\r\n\r\n")))]


def half_close() -> list[Case]:
    k = "half-close"
    shut = Step(SHUT_WR)
    items = [("a GET", raw()), ("a head cut short", b"GET / HTTP/1.1\r\nHost: la"), ("a request line only",
             b"GET / HTTP/1.1\r\n"), ("half a request line", b"GET / HT"), ("nothing", b""),
             ("a POST whose body is cut short", _post(_h(("Content-Length", "10")), b"hello")),
             ("a whole POST", _post(_h(("Content-Length", "5")), b"hello")),
             ("a chunked POST cut short", _post(_h(CHUNKED), b"5\r\nhello\r\n")),
             ("two GETs", raw() * 2), ("an HTTP/1.0 GET", raw(version="HTTP/1.0", headers=())),
             ("Expect 100-continue without the body",
              _post(_h(("Content-Length", "5"), ("Expect", "100-continue")), b"")),
             ("a head that ends in a bare CR", b"GET / HTTP/1.1\r\nHost: lab\r\n\r"),
             ("a blank line", b"\r\n")]  # fmt: skip
    return [Case(k, f"{what}, then a half-close", ((Step(SEND, data),) if data else ()) + (shut,), ("GET",))
            for what, data in items]  # fmt: skip


def resets() -> list[Case]:
    k = "reset"
    rst = Step(RESET)
    sent = [("on connect", b""), ("after a partial head", b"GET / HTTP/1.1\r\nHost: la"),
            ("after a GET, unanswered", raw()),
            ("after a POST whose body is cut short", _post(_h(("Content-Length", "10")), b"he")),
            ("after a partial chunk", _post(_h(CHUNKED), b"5\r\nhe")),
            ("after 64 KiB of head", b"GET / HTTP/1.1\r\nX: " + b"a" * 65536),
            ("after three GETs", raw() * 3), ("after 300 KiB of unread body",
            _post(_h(("Content-Length", str(300 * 1024))), b"x" * (300 * 1024)))]  # fmt: skip
    out = [Case(k, f"reset {what}", ((Step(SEND, data),) if data else ()) + (rst,)) for what, data in sent]
    out += [Case(k, "reset after a GET's answer", (Step(SEND, raw()), Step(AWAIT), rst)),
            Case(k, "reset after a POST's answer",
                 (Step(SEND, _post(_h(("Content-Length", "5")), b"hello")), Step(AWAIT), rst),
                 ("POST",)),
            Case(k, "reset after an HTTP/1.0 answer",
                 (Step(SEND, raw(version="HTTP/1.0", headers=())), Step(AWAIT), rst)),
            Case(k, "reset after a 400", (Step(SEND, b"GARBAGE\r\n\r\n"), Step(AWAIT), rst))]
    return out


def slow() -> list[Case]:
    k = "slow"
    get = raw()

    def trickle(data: bytes, pieces: int, gap: float) -> tuple[Step, ...]:
        size = -(-len(data) // pieces)
        steps: list[Step] = []
        for i in range(0, len(data), size):
            steps += [Step(PAUSE, seconds=gap)] if steps else []
            steps.append(Step(SEND, data[i : i + size]))
        return tuple(steps)

    body_late = (Step(SEND, _post(_h(("Content-Length", "5")), b"")), Step(PAUSE, seconds=0.9), Step(SEND, b"hello"))
    return [Case(k, "a head in 6 pieces over 0.15 s", trickle(get, 6, 0.03)),
            Case(k, "a head in 2 pieces 1 s apart, cut mid-line (past the header deadline)", trickle(get, 2, 1.0)),
            Case(k, "a head in 2 pieces 1 s apart, cut after a line (past the header deadline)",
                 (Step(SEND, b"GET / HTTP/1.1\r\nHost: lab\r\n"), Step(PAUSE, seconds=1.0), Step(SEND, b"\r\n"))),
            Case(k, "a head whose last line ends in a bare CR, the LF after 1 s",
                 (Step(SEND, get[:-1]), Step(PAUSE, seconds=1.0), Step(SEND, b"\n"))),
            Case(k, "a head one byte at a time over 0.1 s", trickle(get, len(get), 0.1 / len(get))),
            Case(k, "a body 0.1 s after its head",
                 (Step(SEND, _post(_h(("Content-Length", "5")), b"")), Step(PAUSE, seconds=0.1), Step(SEND, b"hello")),
                 ("POST",)),
            Case(k, "a body 0.9 s after its head (past the read deadline)", body_late, ("POST",)),
            Case(k, "chunks over 0.2 s", trickle(_post(_h(CHUNKED), b"1\r\na\r\n" * 5 + b"0\r\n\r\n"), 8, 0.025)),
            Case(k, "the last chunk 1 s after the first (past the read deadline)",
                 (Step(SEND, _post(_h(CHUNKED), b"1\r\na\r\n")), Step(PAUSE, seconds=1.0), Step(SEND, b"0\r\n\r\n"))),
            Case(k, "silence, then a GET after 0.9 s", (Step(PAUSE, seconds=0.9), Step(SEND, get))),
            Case(k, "a GET, its answer, a 0.3 s pause, another GET",
                 (Step(SEND, get), Step(AWAIT), Step(PAUSE, seconds=0.3), Step(SEND, get))),
            Case(k, "a head cut short, nothing more", (Step(SEND, b"GET / HTTP/1.1\r\nHost: lab\r\n"),)),
            Case(k, "a request line, then silence", (Step(SEND, b"GET / HTTP/1.1\r\n"),))]


# -- more than a server should take: heads past the limit, random bytes -----------------------------


def big_head() -> list[Case]:
    k = "big-head"

    def head_of(size: int, pad: bytes = b"p") -> bytes:
        head = b"GET / HTTP/1.1\r\nHost: lab\r\nX-Pad: "
        return head + pad * (size - len(head) - 4) + b"\r\n\r\n"

    many = b"GET / HTTP/1.1\r\nHost: lab\r\n" + b"".join(b"X-%06d: %s\r\n" % (i, b"v" * 40) for i in range(21000))
    return [single(k, "a head of MaxHeaderBytes + 4096 - 1 bytes", head_of(HEAD_LIMIT - 1)),
            single(k, "a head of MaxHeaderBytes + 4096 bytes", head_of(HEAD_LIMIT)),
            single(k, "a head of MaxHeaderBytes + 4096 + 1 bytes", head_of(HEAD_LIMIT + 1)),
            single(k, "a head of MaxHeaderBytes + 4096 + 100 bytes", head_of(HEAD_LIMIT + 100)),
            single(k, "a head of 2 MiB", head_of(2 << 20)),
            single(k, "a head of MaxHeaderBytes bytes", head_of(1 << 20)),
            single(k, "21,000 short header lines (over the limit)", many + b"\r\n"),
            single(k, "a 1 MiB request line", raw(target="/" + "a" * (1 << 20))),
            single(k, "a request line over the limit", raw(target="/" + "a" * HEAD_LIMIT)),
            single(k, "a head at the limit, then a POST body",
                   head_of(HEAD_LIMIT).replace(b"GET", b"PUT", 1)[:-4] + b"\r\nContent-Length: 5\r\n\r\nhello")]


def random_bytes() -> list[Case]:
    k = "random"
    rng = random.Random(SEED)
    words = [b"GET", b"POST", b"/", b" ", b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b"\n", b"Host", b":", b"lab",
             b"Content-Length", b"Transfer-Encoding", b"chunked", b"0", b"5", b"\t", b"Connection", b"close", b"hello"]
    out = [single(k, f"{n} random bytes", bytes(rng.randrange(256) for _ in range(n)))
           for n in [1, 2, 3, 4, 5, 7, 8, 16, 31, 64, 100, 128, 255, 256, 512, 1000, 2048, 4096, 8192, 65536]]
    out += [single(k, f"{n} random printable bytes",
                   bytes(rng.choice(b" \t\r\n!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                                    b"abcdefghijklmnopqrstuvwxyz{|}~") for _ in range(n)))
            for n in [4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]]  # fmt: skip
    for i in range(40):
        text = b"".join(rng.choice(words) for _ in range(rng.randrange(3, 40)))
        out.append(single(k, f"HTTP words #{i}", text + b"\r\n\r\n"))
    for i in range(20):
        line = b"GET / HTTP/1.1\r\nHost: lab\r\n" + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        out.append(single(k, f"a valid start, random header bytes #{i}", line + b"\r\n\r\n"))
    return out
