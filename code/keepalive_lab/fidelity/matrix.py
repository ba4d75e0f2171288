"""The scenario matrix the fidelity harness runs against both servers.

Each :class:`WireScenario` is a set of server flags (the shared command line of
``keepalive_lab serve`` and the Go reference) and a script that drives
:class:`~keepalive_lab.fidelity.transcript.Session` clients. Scripts wait only on the
wire: for a response, for a close, or for a silence whose length is the
thing measured. Every server gets ``--latency 0 --read-timeout {T}``, ``T``
being the lab timeout of :class:`~keepalive_lab.fidelity.transcript.WireTimes`, plus the
scenario's own flags (a later flag wins, in both programs).

The scenarios group as the book does: starvation behind ``LimitListener``,
the idle timeout and its fallback, the two fixes, framing, HTTP/1.0, what the
server and ``ServeMux`` answer before the handler, request bodies left
unread, the ghost request, and malformed input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from keepalive_lab.fidelity.transcript import Session, WireTimes

__all__ = ["WireScenario", "MATRIX", "scenario_named", "request"]

Script = Callable[[Session], None]


@dataclass(frozen=True)
class WireScenario:
    """A named server configuration and the client script to run against it."""

    name: str
    what: str
    extra_flags: tuple[str, ...]
    script: Script

    def flags(self, timing: WireTimes) -> list[str]:
        base = ["--latency", "0", "--read-timeout", "{T}"]
        return [f.format(T=timing.go(timing.timeout)) for f in (*base, *self.extra_flags)]


MATRIX: list[WireScenario] = []


def _scenario(name: str, what: str, *flags: str) -> Callable[[Script], Script]:
    def register(script: Script) -> Script:
        MATRIX.append(WireScenario(name, what, flags, script))
        return script

    return register


def scenario_named(name: str) -> WireScenario:
    for s in MATRIX:
        if s.name == name:
            return s
    raise KeyError(name)


def request(method: str = "GET", target: str = "/", version: str = "1.1", host: str | None = "lab",
            headers: str = "", body: bytes = b"") -> bytes:  # fmt: skip
    """Raw request bytes; ``headers`` are extra ``Name: value\\r\\n`` lines."""
    host_line = f"Host: {host}\r\n" if host is not None else ""
    return f"{method} {target} HTTP/{version}\r\n{host_line}{headers}\r\n".encode("latin-1") + body


def _post(size: int, chunked: bool = False, headers: str = "", sent: int | None = None) -> bytes:
    body = b"x" * size
    if chunked:
        framed = f"{size:x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        return request("POST", headers=headers + "Transfer-Encoding: chunked\r\n", body=framed)
    return request("POST", headers=f"{headers}Content-Length: {size}\r\n", body=body[:sent])


def _exchange(s: Session, raw: bytes, half_close: bool = False) -> None:
    """One request on one connection: its response, then how and when the connection ends."""
    a = s.connect("A")
    a.send(raw)
    if half_close:
        a.shutdown_write()
    a.response("HEAD" if raw.startswith(b"HEAD ") else "GET")
    a.wait_close()


# -- keep-alive, idle timeouts, starvation -------------------------------------


@_scenario("keep-alive", "HTTP/1.1 keeps the connection; it closes after the idle timeout", "--limit", "1")
def _keep_alive(s: Session) -> None:
    a = s.connect("A")
    a.send(request())
    a.response()
    a.send(request())
    a.response()
    a.wait_close()


@_scenario("idle-fallback", "IdleTimeout unset: ReadTimeout closes the idle connection, B gets in", "--limit", "1")
def _idle_fallback(s: Session) -> None:
    a = s.connect("A")
    asked = a.send(request())
    a.response()
    b = s.connect("B")
    b.send(request())
    b.response(since=asked)  # the slot comes back when A's idle deadline passes
    a.wait_close(since=asked)


@_scenario("idle-timeout", "IdleTimeout set: it, not ReadTimeout, bounds the idle wait",
           "--limit", "1", "--read-timeout", "30s", "--idle-timeout", "{T}")  # fmt: skip
def _idle_timeout(s: Session) -> None:
    _exchange(s, request())


@_scenario("idle-no-timeout", "Only ReadHeaderTimeout set: how long an idle connection waits",
           "--limit", "1", "--read-timeout", "0", "--read-header-timeout", "{T}")  # fmt: skip
def _idle_no_timeout(s: Session) -> None:
    _exchange(s, request())


def _starve(s: Session, holders: str, waiter: str) -> None:
    held = [s.connect(label) for label in holders]
    for h in held:
        h.send(request())
        h.response()
    w = s.connect(waiter)
    w.send(request())
    w.response()  # never: the kernel queued the connection, nobody accepts it
    s.access_log()
    freed = held[0].close()
    w.response(since=freed)


@_scenario("starve-n1", "LimitListener(1): an idle keep-alive connection starves the next",
           "--limit", "1", "--idle-timeout", "30s")  # fmt: skip
def _starve_n1(s: Session) -> None:
    _starve(s, "A", "B")


@_scenario("starve-n2", "LimitListener(2): two idle connections starve the third",
           "--limit", "2", "--idle-timeout", "30s")  # fmt: skip
def _starve_n2(s: Session) -> None:
    _starve(s, "AB", "C")


def _ghost(s: Session, abort: bool) -> None:
    a = s.connect("A")
    a.send(request())
    a.response()
    g = s.connect("G")
    g.send(request(headers="X-Request-Id: ghost\r\n"))
    g.quiet(0.3)
    g.reset() if abort else g.close()  # the client gives up; its bytes stay in the kernel
    s.access_log()
    freed = a.close()
    c = s.connect("C")
    c.send(request(headers="X-Request-Id: after\r\n"))
    c.response(since=freed)  # C queues behind the ghost, which is served first


@_scenario("ghost", "A queued request whose client left (FIN) is still handled later",
           "--limit", "1", "--idle-timeout", "30s")  # fmt: skip
def _ghost_fin(s: Session) -> None:
    _ghost(s, abort=False)


@_scenario("ghost-reset", "The same, the client having reset its connection",
           "--limit", "1", "--idle-timeout", "30s")  # fmt: skip
def _ghost_rst(s: Session) -> None:
    _ghost(s, abort=True)


@_scenario("silent-client", "A connection that sends nothing is closed at the read deadline", "--limit", "1")
def _silent(s: Session) -> None:
    s.connect("A").wait_close()


@_scenario("stall-mid-head", "A head that stops mid-way is dropped at the read deadline, silently", "--limit", "1")
def _stall(s: Session) -> None:
    a = s.connect("A")
    a.send(b"GET / HTTP/1.1\r\nHost: lab\r\n")
    a.wait_close()


@_scenario("write-timeout", "A handler slower than WriteTimeout: the response never leaves",
           "--limit", "1", "--latency", "150ms", "--write-timeout", "50ms")  # fmt: skip
def _write_timeout(s: Session) -> None:
    a = s.connect("A")
    a.send(request())
    a.response()


# -- the fixes ---------------------------------------------------------------------


def _served_one_after_another(s: Session) -> None:
    a = s.connect("A")
    a.send(request())
    a.response()
    b = s.connect("B")
    b.send(request())
    b.response()  # at once: A's connection was closed by the server
    a.wait_close()


@_scenario("fix-no-keep-alives", "SetKeepAlivesEnabled(false): LimitListener(1) serves A, then B at once",
           "--limit", "1", "--no-keep-alives", "--idle-timeout", "30s")  # fmt: skip
def _fix_no_keep_alives(s: Session) -> None:
    _served_one_after_another(s)


@_scenario("fix-conn-close", "Handler Connection: close: LimitListener(1) serves A, then B at once",
           "--limit", "1", "--conn-close", "--idle-timeout", "30s")  # fmt: skip
def _fix_conn_close(s: Session) -> None:
    _served_one_after_another(s)


@_scenario("no-keep-alives-chunked", "SetKeepAlivesEnabled(false) with a chunked body: header order",
           "--no-keep-alives", "--no-content-length", "--body-bytes", "2049")  # fmt: skip
def _no_keep_alives_chunked(s: Session) -> None:
    _exchange(s, request())


@_scenario("request-conn-close", "The request says Connection: close", "--limit", "1")
def _request_close(s: Session) -> None:
    _exchange(s, request(headers="Connection: close\r\n"))


# -- framing and HTTP/1.0 ------------------------------------------------------------


def _twice(s: Session, raw: bytes, method: str = "GET") -> None:
    a = s.connect("A")
    for _ in range(2):
        a.send(raw)
        a.response(method)
    a.wait_close()


@_scenario("framing-2048", "No explicit length, 2048 bytes: Go computes Content-Length",
           "--no-content-length", "--body-bytes", "2048")  # fmt: skip
def _framing_2048(s: Session) -> None:
    _twice(s, request())


@_scenario("framing-2049", "No explicit length, 2049 bytes: chunked, and still kept alive",
           "--no-content-length", "--body-bytes", "2049")  # fmt: skip
def _framing_2049(s: Session) -> None:
    _twice(s, request())


@_scenario("head", "HEAD: the headers of a GET, no body, connection kept")
def _head(s: Session) -> None:
    _twice(s, request("HEAD"), method="HEAD")


@_scenario("pipelined", "Two requests in one write: two responses, in order")
def _pipelined(s: Session) -> None:
    a = s.connect("A")
    a.send(request(target="/1") + request(target="/2"))
    a.response()
    a.response()


@_scenario("http10", "HTTP/1.0 without keep-alive: closed after the response, no Connection header")
def _http10(s: Session) -> None:
    _exchange(s, request(version="1.0", host=None))


@_scenario("http10-keep-alive", "HTTP/1.0 with keep-alive and a length: Connection: keep-alive, kept")
def _http10_keep_alive(s: Session) -> None:
    _twice(s, request(version="1.0", host=None, headers="Connection: keep-alive\r\n"))


@_scenario("http10-keep-alive-auto", "HTTP/1.0 keep-alive, length computed by Go", "--no-content-length")
def _http10_keep_alive_auto(s: Session) -> None:
    _twice(s, request(version="1.0", host=None, headers="Connection: keep-alive\r\n"))


@_scenario("http10-keep-alive-2049", "HTTP/1.0 keep-alive, 2049 bytes, no length: the close ends the body",
           "--no-content-length", "--body-bytes", "2049")  # fmt: skip
def _http10_keep_alive_2049(s: Session) -> None:
    _exchange(s, request(version="1.0", host=None, headers="Connection: keep-alive\r\n"))


# -- what the server and ServeMux answer before the handler ---------------------------


@_scenario("options-star", "OPTIONS *: the server answers it itself; the handler never runs")
def _options_star(s: Session) -> None:
    a = s.connect("A")
    a.send(request("OPTIONS", target="*"))
    a.response()
    a.send(request())
    a.response()


_scenario("star-target", "GET *: ServeMux answers 400 and closes")(lambda s: _exchange(s, request(target="*")))
_scenario("unclean-path", "ServeMux redirects //x?q=1 to its clean path, with an HTML body")(
    lambda s: _exchange(s, request(target="//x?q=1")))
_scenario("dot-segments", "/a/../b/ is redirected to /b/")(lambda s: _exchange(s, request(target="/a/../b/")))
_scenario("unclean-path-head", "HEAD /a/./b: the redirect's headers, no body")(
    lambda s: _exchange(s, request("HEAD", target="/a/./b")))
_scenario("unclean-path-post", "POST /a/./b: a redirect without a body or a Content-Type")(
    lambda s: _exchange(s, request("POST", target="/a/./b", headers="Content-Length: 0\r\n")))


# -- request bodies the handler never reads ---------------------------------------------


def _unread_then_get(chunked: bool) -> Script:
    def script(s: Session) -> None:
        a = s.connect("A")
        a.send(_post(100 * 1024, chunked))
        a.response()
        a.send(request())  # the discarded body left the connection in step
        a.response()

    return script


_scenario("unread-100k", "100 KiB body left unread: discarded, connection kept")(_unread_then_get(False))
_scenario("unread-100k-chunked", "The same, chunked")(_unread_then_get(True))
_scenario("unread-300k", "300 KiB unread behind LimitListener: Connection: close, then the close")(
    lambda s: _exchange(s, _post(300 * 1024)))
_scenario("unread-300k-no-limit", "300 KiB unread on a plain listener", "--limit", "0")(
    lambda s: _exchange(s, _post(300 * 1024)))
_scenario("partial-body", "A body that stops short: the response waits for the read deadline")(
    lambda s: _exchange(s, _post(1000, sent=10)))
_scenario("partial-body-close", "The same with Connection: close: nothing to wait for")(
    lambda s: _exchange(s, _post(1000, headers="Connection: close\r\n", sent=10)))
_scenario("expect-continue-unread", "Expect: 100-continue, body never read nor sent")(
    lambda s: _exchange(s, request("POST", headers="Content-Length: 5\r\nExpect: 100-continue\r\n")))


# -- the header-size boundary and malformed requests -------------------------------------


def _head_of(size: int) -> bytes:
    head = b"GET / HTTP/1.1\r\nHost: lab\r\nX-Pad: "
    return head + b"p" * (size - len(head) - 4) + b"\r\n\r\n"


def _header_limit(s: Session) -> None:
    limit = 1024 + 4096  # MaxHeaderBytes plus Go's 4096 bytes of bufio slop
    a = s.connect("A")
    a.send(_head_of(limit))
    a.response()
    a.close()
    b = s.connect("B")
    b.send(_head_of(limit + 1))
    b.response()
    b.wait_close()


@_scenario("header-limit", "MaxHeaderBytes 1024: a 5120-byte head passes, 5121 bytes get 431",
           "--max-header-bytes", "1024")  # fmt: skip
def _header_limit_1(s: Session) -> None:
    _header_limit(s)


@_scenario("header-limit-no-limit", "The same on a plain listener", "--max-header-bytes", "1024", "--limit", "0")
def _header_limit_plain(s: Session) -> None:
    _header_limit(s)


def _malformed(name: str, what: str, raw: bytes, half_close: bool = False) -> None:
    _scenario(name, what)(lambda s: _exchange(s, raw, half_close))


_malformed("bad-request-line", "Not a request line", b"GARBAGE\r\n\r\n")
_malformed("bad-line-early", "A bad request line is judged before the head ends", b"NOT AN HTTP REQUEST LINE\r\n")
_malformed("bad-header-line", "A header line without a colon", request(headers="no colon here\r\n"))
_malformed("bad-leading-space", "A first header line that starts with a space", b"GET / HTTP/1.1\r\n Host: lab\r\n\r\n")
_malformed("bad-target", "A relative request target", request(target="relative"))
_malformed("bad-header-value", "A control byte in a header value", request(headers="X-Bad: a\x01b\r\n"))
_malformed("bad-content-length", "Content-Length: nope", request(headers="Content-Length: nope\r\n"))
_malformed("double-content-length", "Two different Content-Lengths",
           request("POST", headers="Content-Length: 1\r\nContent-Length: 2\r\n", body=b"xx"))  # fmt: skip
_malformed("bad-version", "HTTP/2.0 on the HTTP/1 server", request(version="2.0"))
_malformed("unknown-transfer-encoding", "Transfer-Encoding: gzip",
           request("POST", headers="Transfer-Encoding: gzip\r\n"))  # fmt: skip
_malformed("unknown-expect", "Expect: teapot", request(headers="Expect: teapot\r\n"))
_malformed("eof-mid-head", "The client shuts down writing in the middle of the head",
           b"GET / HTTP/1.1\r\nHost: lab\r\n", half_close=True)  # fmt: skip
_malformed("missing-host", "HTTP/1.1 without Host", request(host=None))
_malformed("bad-host", "A Host with a space and a slash", request(host="a b/c"))
