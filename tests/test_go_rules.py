"""Rules of Go's server that mutation testing found unpinned (benchmarks/mutation.py).

Each test is one rule of net/http (Go 1.23.4: server.go, transfer.go, header.go, sniff.go,
textproto), named as a sentence, with the Go function it comes from in a comment. Each kills
mutants of ``goserver/`` that survived every other in-process test: the rule was right, but
nothing would have noticed it going wrong. All run in-process on 127.0.0.1 port 0 or on a
socketpair, and wait on events, not on fixed sleeps.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler, ServeMux
from keepalive_lab.goserver.sniff import detect_content_type
from keepalive_lab.records import ConnState

from .conftest import get

# -- conn.serve and chunkWriter.writeHeader: keeping a connection -----------------------------


def test_connection_tokens_are_whole_words_matched_whatever_their_case(lab_factory):
    # header.go hasToken (token boundaries, ascii.EqualFold), via Request.wantsClose and
    # wantsHttp10KeepAlive; transfer.go shouldClose (httpguts.HeaderValuesContainsToken).
    lab = lab_factory(ArticleHandler(latency=0, content_length=True))
    with lab.connect() as client:
        assert client.request(get(extra="Connection: Xclose\r\n")).header("Connection") is None
        assert client.served_again(get())
        response = client.request(get(extra="Connection: Close\r\n"))
        assert response.header("Connection") == "close"
        assert client.wait_closed() < 2.0  # no timeout is set: a kept connection would stay open
    keep = get(version="1.0", host=None, extra="Connection: Keep-Alive\r\n")
    with lab.connect() as client:
        assert client.request(keep).header("Connection") == "keep-alive"
        assert client.served_again(keep)


def test_keep_alives_switched_off_while_a_handler_runs_close_its_connection_after_the_response(lab_factory):
    # server.go conn.serve: after StateIdle, `if !w.conn.server.doKeepAlives() { return }`. The head
    # went out before the switch (keep-alive, no "Connection: close"), so only that check closes.
    def flush_then_switch_off(w, r):
        w.write(b"ok\n")
        w.flush()
        lab.server.set_keep_alives_enabled(False)

    lab = lab_factory(flush_then_switch_off)
    with lab.connect() as client:
        response = client.request(get())
        assert response.body == b"ok\n"
        assert response.header("Connection") is None  # the head said nothing of a close
        assert client.wait_closed() < 2.0  # no timeout is set: a kept connection would stay open


def test_an_http10_keep_alive_answer_with_the_handler_s_own_length_and_keep_alive_stays_open(lab_factory):
    # server.go chunkWriter.writeHeader: wants10KeepAlive, and the handler sent Content-Length and
    # "Connection: keep-alive" itself: closeAfterReply = false.
    def own_headers(w, r):
        w.header().set("Content-Length", "3")
        w.header().set("Connection", "keep-alive")
        w.write(b"ok\n")

    lab = lab_factory(own_headers)
    request = get(version="1.0", host=None, extra="Connection: keep-alive\r\n")
    with lab.connect() as client:
        response = client.request(request)
        assert response.header("Connection") == "keep-alive"
        assert client.served_again(request)
    assert len({r.conn_id for r in lab.logged(2)}) == 1


# -- conn.readRequest --------------------------------------------------------------------------


def _post(body: bytes = b"abc") -> bytes:
    return b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_after_a_post_up_to_four_cr_or_lf_bytes_before_the_next_request_are_dropped(lab_factory):
    # server.go conn.readRequest: if c.lastMethod == "POST", Discard(numLeadingCRorLF(Peek(4))):
    # at most four bytes, only CR and LF, and only after a POST.
    lab = lab_factory(ArticleHandler(latency=0))
    logged = 0
    for lead, second in [
        (b"", get("/next")),  # nothing to drop: the request is whole
        (b"\n", get("/next")),
        (b"\r\n\r\n", get("/next")),  # four: all dropped
        (b"", b"XGET /next HTTP/1.1\r\nHost: lab\r\n\r\n"),  # a letter is never dropped
    ]:
        with lab.connect() as client:
            assert client.request(_post()).status == 200
            assert client.request(lead + second).status == 200, lead
        logged += 2
        record = lab.logged(logged)[-1]
        assert (record.method, record.target) == (second.split()[0].decode(), "/next"), lead
    with lab.connect() as client:  # five: the fifth starts an empty request line
        assert client.request(_post()).status == 200
        assert client.request(b"\r\n\r\n\n" + get("/next")).status == 400


def test_after_431_the_connection_is_closed_only_rst_avoidance_delay_after_its_fin(lab_factory):
    # server.go conn.serve, errTooLarge: closeWriteAndWait (CloseWrite, then sleep rstAvoidanceDelay).
    lab = lab_factory(limit=0, max_header_bytes=1, rst_avoidance_delay=0.3)
    with lab.connect() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: lab\r\nX-Big: " + b"x" * 8000 + b"\r\n\r\n")
        raw = client.read_raw_until_close()  # the FIN comes at once, before the delay
        fin_seen = time.monotonic()
        assert raw.startswith(b"HTTP/1.1 431 ")
        assert lab.wait_closed(1)
    closed = next(e.at for e in lab.states.records() if e.state is ConnState.CLOSED)
    assert closed - fin_seen >= 0.25  # slack for the client seeing the FIN a moment after it left
    assert lab.errors == []


def test_a_request_body_closed_early_costs_rst_avoidance_delay_before_the_close(lab_factory):
    # server.go conn.serve: `if w.requestBodyLimitHit || w.closedRequestBodyEarly() { c.closeWriteAndWait() }`;
    # here only closedRequestBodyEarly: a "Connection: close" request is not drained, and closing its
    # chunked body gives up after 256 KiB (transfer.go body.Close, earlyClose).
    lab = lab_factory(ArticleHandler(latency=0), rst_avoidance_delay=0.3)
    with lab.connect() as client:
        client.send(_chunked_post(300 * 1024).replace(b"Host: lab\r\n", b"Host: lab\r\nConnection: close\r\n"))
        assert client.read_response().status == 200
        answered = time.monotonic()
        assert lab.wait_closed(1)
    closed = next(e.at for e in lab.states.records() if e.state is ConnState.CLOSED)
    assert closed - answered >= 0.25


def test_a_connection_whose_request_fails_after_bytes_arrived_goes_active_before_it_closes(lab_factory):
    # server.go conn.serve: `if c.r.remain != c.server.initialReadLimitSize() { c.setState(..., StateActive) }`
    # runs before the read error is handled.
    lab = lab_factory()
    with lab.connect() as client:
        assert client.request(b"GET / HTTP/9.9\r\nHost: lab\r\n\r\n").status == 505
    assert lab.wait_closed(1)
    assert [e.state for e in lab.states.records()] == [ConnState.NEW, ConnState.ACTIVE, ConnState.CLOSED]


# -- ServeMux and Redirect ---------------------------------------------------------------------


def test_serve_mux_answers_a_star_target_400_and_closes_an_http11_connection(lab_factory):
    # server.go ServeMux.ServeHTTP: RequestURI "*" -> "Connection: close" (HTTP/1.1 only), 400.
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)))
    with lab.connect() as client:
        response = client.request(b"GET * HTTP/1.1\r\nHost: lab\r\n\r\n")
        assert (response.status, response.header("Connection")) == (400, "close")
        assert client.wait_closed() < 2.0
    with lab.connect() as client:
        client.send(b"GET * HTTP/1.0\r\n\r\n")
        raw = client.read_raw_until_close()
        assert raw.startswith(b"HTTP/1.0 400 Bad Request\r\n")
        assert b"Connection:" not in raw


def test_serve_mux_redirects_an_unclean_path_to_its_clean_form_with_the_query(lab_factory):
    # server.go ServeMux.findHandler (cleanPath, path != escapedPath -> RedirectHandler 301) and
    # Redirect: Location (query kept, trailing slash kept), a text/html body for GET only.
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)))
    with lab.connect() as client:
        for target, location in [
            ("/a/../b//c/./d?x=1&y=2", "/b/c/d?x=1&y=2"),
            ("/a//b/", "/a/b/"),
            ("/../..", "/"),
            ("/x/.", "/x"),
            ("//q?a?b", "/q?a?b"),  # the query starts at the first "?"
            ("//p?next=/a/../b", "/p?next=/a/../b"),  # and is not cleaned
            ("http://lab", "/"),  # absolute form, empty path: cleanPath("") is "/"
        ]:
            response = client.request(get(target))
            assert (response.status, response.header("Location")) == (301, location), target
            assert response.header("Content-Type") == "text/html; charset=utf-8"
            assert response.body == f'<a href="{location.replace("&", "&amp;")}">Moved Permanently</a>.\n\n'.encode()
        head = client.request(get("//x").replace(b"GET", b"HEAD", 1), method="HEAD")
        assert (head.status, head.header("Location"), head.body) == (301, "/x", b"")
        assert head.header("Content-Type") == "text/html; charset=utf-8"
        post = client.request(b"POST //x?q HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\n\r\n")
        assert (post.status, post.header("Location"), post.body) == (301, "/x?q", b"")
        assert post.header("Content-Type") is None
        assert client.request(get("/clean/path/")).status == 200  # clean: served
    assert [r.target for r in lab.logged(10) if r.status == 200] == ["/clean/path/"]


def test_redirect_escapes_non_ascii_bytes_in_location_and_html_in_the_body(lab_factory):
    # server.go Redirect: hexEscapeNonASCII (lower-case hex) for Location, htmlEscape for the body.
    # Only the query reaches Location as it came: the path is the escaped one (below).
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)))
    with lab.connect() as client:
        response = client.request(b"GET //x?q=caf\xc3\xa9\x80<b>'\"& HTTP/1.1\r\nHost: lab\r\n\r\n")
    assert response.status == 301
    assert response.header("Location") == "/x?q=caf%c3%a9%80<b>'\"&"
    body = '<a href="/x?q=caf\xc3\xa9\x80&lt;b&gt;&#39;&#34;&amp;">Moved Permanently</a>.\n\n'
    assert response.body == body.encode("latin-1")


def test_serve_mux_cleans_the_escaped_path_and_escapes_it_again_in_location(lab_factory):
    # server.go findHandler: cleanPath(r.URL.EscapedPath()), then url.URL{Path: cleaned}.String()
    # escapes that once more; the Go 1.23.4 reference answers exactly these Locations.
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)))
    with lab.connect() as client:
        for target, location in [
            (b"//caf\xc3\xa9/<b>'\"x", "/caf%25C3%25A9/%253Cb%253E%2527%2522x"),  # RawPath invalid: escaped
            (b"//caf\xc3\xa9\x80/<b>'\"x", "/caf%25C3%25A9%2580/%253Cb%253E%2527%2522x"),
            (b"/a%2f..%2fb/./c", "/a%252f..%252fb/c"),  # RawPath valid: kept, "%2f" is no slash
            (b"//(%2f", "/%28%252f"),
            (b"/%41/../b", "/b"),
            (b"http://h/x#f/../y", "/y"),  # no fragment in a request: "#" is "%23" in the path
            (b"a:b", "/"),  # rootless: opaque "b", an empty path
            (b"a:b?q", "/?q"),
            (b"x:y:z", "/"),
        ]:
            response = client.request(b"GET " + target + b" HTTP/1.1\r\nHost: lab\r\n\r\n")
            assert (response.status, response.header("Location")) == (301, location), target
        for target in [b"/%2e%2e/x", b"/a/%2e%2e/x", b"/a?b/../c", b"/a;b/..;/c"]:  # clean as escaped
            assert client.request(b"GET " + target + b" HTTP/1.1\r\nHost: lab\r\n\r\n").status == 200, target


def test_redirect_leaves_a_location_url_parse_refuses_as_it_is(lab_factory):
    # server.go Redirect cleans the path only if url.Parse takes the URL: a "#" in the query starts
    # a fragment, and "%z" there is a bad escape. CONNECT's "//" then stays; Go sends these bytes.
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)))
    with lab.connect() as client:
        for target, location in [(b"lab:443?x#%zz", "//?x#%zz"), (b"lab:443?x#%41\xc3", "/?x#%41%c3"),
                                 (b"lab:443?q", "/?q")]:  # fmt: skip
            response = client.request(b"CONNECT " + target + b" HTTP/1.1\r\n\r\n")
            assert (response.status, response.header("Location")) == (301, location), target
        post = client.request(b"POST /a/../b?q#%z HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\n\r\n")
        assert (post.status, post.header("Location")) == (301, "/b?q#%z")


def test_serve_mux_does_not_clean_a_connect_target(lab_factory):
    # server.go ServeMux.findHandler: "CONNECT requests are not canonicalized".
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)))
    with lab.connect() as client:
        client.send(b"CONNECT //a/../b HTTP/1.1\r\nHost: lab\r\n\r\n")
        (record,) = lab.logged(1)
    assert (record.method, record.target, record.status) == ("CONNECT", "//a/../b", 200)
    # An authority has an empty path, which only "/" + "/" matches: matchOrRedirect's 301, cleaned to "/".
    with lab.connect() as client:
        client.send(b"CONNECT lab:443 HTTP/1.1\r\nHost: lab:443\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 301 Moved Permanently\r\n") and b"\r\nLocation: /\r\n" in head


@pytest.mark.parametrize("host", [b"Host: lab\r\n", b""])
def test_serve_mux_serves_a_connect_whose_path_is_not_empty(lab_factory, host):
    # request.go readRequest parses "http://" + target: "http://lab/" gives the authority "http:" and
    # the path "//lab/", "lab:443/x" the path "/x". findHandler does not clean a CONNECT path, and
    # "/" matches it: 200, with or without Host. Only an empty path ("ex.com:443") is redirected.
    lab = lab_factory(ServeMux(ArticleHandler(latency=0)))
    with lab.connect() as client:
        for target in [b"http://lab/", b"lab:443/x", b"/a/%2e%2e//b"]:
            response = client.request(b"CONNECT " + target + b" HTTP/1.1\r\n" + host + b"\r\n")
            assert (response.status, response.header("Location"), response.body) == (200, None, b"ok\n"), target
        response = client.request(b"CONNECT ex.com:443 HTTP/1.1\r\n" + host + b"\r\n")
        assert (response.status, response.header("Location")) == (301, "/")
        assert client.served_again(get())


# -- more of conn.serve, chunkWriter.writeHeader and shouldReuseConnection ---------------------


def test_request_too_large_closes_the_connection_unless_an_http10_keep_alive_handler_keeps_it(lab_factory):
    # server.go response.requestTooLarge (closeAfterReply, "Connection: close" if no head yet), then
    # chunkWriter.writeHeader: only wants10KeepAlive with the handler's own Content-Length and
    # "Connection: keep-alive" sets closeAfterReply back to false; nothing else undoes it.
    def too_large(w, r):
        if r.target == "/after-head":
            w.write(b"ok\n")
            w.flush()
            w.request_too_large()
            return
        w.request_too_large()
        if r.target == "/keep":
            w.header().set("Content-Length", "3")
            w.header().set("Connection", "keep-alive")
        elif r.target == "/keep-no-length":  # Go's automatic length is not the handler's own
            w.header().set("Connection", "keep-alive")
        else:  # /drop: the handler takes the "Connection: close" away again
            w.header().delete("Connection")
        w.write(b"ok\n")

    lab = lab_factory(too_large, rst_avoidance_delay=0.05)
    http10 = get("/keep", version="1.0", host=None, extra="Connection: keep-alive\r\n")
    with lab.connect() as client:
        assert client.request(http10).header("Connection") == "keep-alive"
        assert client.served_again(http10)
    with lab.connect() as client:
        client.send(http10.replace(b"/keep", b"/keep-no-length", 1))
        assert client.read_raw_until_close().endswith(b"\r\n\r\nok\n")
    # HTTP/1.1: the close stands, and Go's "Connection: close" replaces the handler's keep-alive.
    for target, connection in [("/keep", "close"), ("/drop", "close"), ("/after-head", None)]:
        with lab.connect() as client:
            response = client.request(get(target))
            assert (response.body, response.header("Connection")) == (b"ok\n", connection), target
            assert client.wait_closed() < 2.0, target


def test_a_body_the_handler_closed_keeps_the_connection_only_if_it_was_read_to_its_end(lab_factory):
    # transfer.go body.Close (doEarlyClose reads up to 256 KiB looking for EOF), then
    # chunkWriter.writeHeader: `case bdy.closed: if !bdy.sawEOF { w.closeAfterReply = true }`.
    def close_body(w, r):
        if r.target == "/read-fails":
            try:
                r.body.read()
            except Exception:
                pass
        r.body.close_early()
        w.write(b"ok\n")

    lab = lab_factory(close_body)
    with lab.connect() as client:
        small = b"POST /small HTTP/1.1\r\nHost: lab\r\nContent-Length: 10\r\n\r\n0123456789"
        assert client.request(small).status == 200
        assert client.served_again(get())
    with lab.connect() as client:
        bad = b"POST /read-fails HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        assert client.request(bad).status == 200
        assert client.wait_closed() < 2.0


def _chunked_post(size: int) -> bytes:
    return (b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % size + b"x" * size + b"\r\n0\r\n\r\n")  # fmt: skip


def test_an_unread_chunked_body_is_drained_up_to_256_kib_and_one_byte_more_closes(lab_factory):
    # server.go chunkWriter.writeHeader: io.CopyN(io.Discard, w.reqBody, maxPostHandlerReadBytes+1);
    # copying all of it (no EOF before) means tooBig: requestTooLarge, "Connection: close".
    lab = lab_factory(rst_avoidance_delay=0.05)
    with lab.connect() as client:
        response = client.request(_chunked_post(256 * 1024))
        assert response.header("Connection") is None
        assert client.served_again(get())
    with lab.connect() as client:
        client.send(_chunked_post(256 * 1024 + 1))
        assert client.read_response().header("Connection") == "close"


def test_a_body_too_big_to_drain_gets_connection_close_even_over_http10_keep_alive_and_the_handler(lab_factory):
    # server.go chunkWriter.writeHeader, tooBig: delHeader("Connection"); setHeader.connection = "close",
    # whatever the protocol version (the HTTP/1.1-only "close" comes later, for other closes).
    def keep_alive(w, r):
        w.header().set("Connection", "keep-alive")
        w.header().set("Content-Length", "3")
        w.write(b"ok\n")

    def close_token(w, r):  # "Close" is the close token, but not == "close": Go still drains
        w.header().set("Connection", "Close")
        w.write(b"ok\n")

    size = 300 * 1024
    for handler, head in [
        (keep_alive, b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n" % size),
        (close_token, b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: %d\r\n\r\n" % size),
    ]:
        lab = lab_factory(handler, rst_avoidance_delay=0.05)
        with lab.connect() as client:
            client.send(head + b"x" * size)
            response = client.read_response()
        assert [(k, v) for k, v in response.headers if k.lower() == "connection"] == [("Connection", "close")]


def test_a_head_answer_may_declare_a_length_it_never_writes_and_keep_the_connection(lab_factory):
    # server.go response.shouldReuseConnection: the short-body check skips HEAD.
    def declared(w, r):
        w.header().set("Content-Length", "10")

    lab = lab_factory(declared)
    head = get().replace(b"GET", b"HEAD", 1)
    with lab.connect() as client:
        assert client.request(head, method="HEAD").header("Content-Length") == "10"
        assert client.request(head, method="HEAD").status == 200  # same connection
    assert len({r.conn_id for r in lab.logged(2)}) == 1


def test_a_head_answer_whose_handler_wrote_nothing_gets_no_automatic_length(lab_factory):
    # server.go chunkWriter.writeHeader: automatic Content-Length only `(!isHEAD || len(p) > 0)`.
    lab = lab_factory(lambda w, r: None)
    with lab.connect() as client:
        response = client.request(get().replace(b"GET", b"HEAD", 1), method="HEAD")
        assert response.header("Content-Length") is None
        assert response.header("Transfer-Encoding") is None
        assert client.request(get()).header("Content-Length") == "0"  # a GET gets one, even 0


def _expect(version: str, length: int, target: str = "/") -> bytes:
    return (f"POST {target} HTTP/{version}\r\nHost: lab\r\nExpect: 100-continue\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()  # fmt: skip


def test_100_continue_is_sent_for_an_http11_body_of_any_length_when_read_and_never_for_http10(lab_factory):
    # server.go conn.serve: expectContinueReader only `if req.ProtoAtLeast(1, 1) && req.ContentLength != 0`;
    # chunkWriter.writeHeader closes when that reader never saw EOF, keeps the connection when it did.
    def echo(w, r):
        if r.target != "/ignore":
            w.write(b"".join(iter(r.body.read, b"")))  # to EOF, as io.ReadAll does

    lab = lab_factory(echo)
    with lab.connect() as client:
        client.send(_expect("1.1", 1))
        assert client.sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.send(b"x")
        assert client.read_response().body == b"x"
        assert client.served_again(get())  # the body was read to its end: the connection is kept
    with lab.connect() as client:
        client.send(_expect("1.1", 1, "/ignore"))
        response = client.read_response()  # at once: no 100 Continue, no waiting for the body first
        assert (response.status, response.header("Connection")) == (200, "close")
    with lab.connect() as client:
        client.send(_expect("1.0", 1) + b"y")
        raw = client.read_raw_until_close()
        assert raw.startswith(b"HTTP/1.0 200 OK\r\n") and raw.endswith(b"\r\n\r\ny")


def test_one_read_of_a_whole_100_continue_body_sees_its_end_and_keeps_the_connection(lab_factory):
    # transfer.go body.readLocked: `if err == nil && n > 0 { if lr.N == 0 { err = io.EOF; b.sawEOF = true } }`,
    # so expectContinueReader.Read sets sawEOF and chunkWriter.writeHeader keeps the connection.
    lab = lab_factory(lambda w, r: w.write(r.body.read(64)))  # one Read, with room for the whole body
    with lab.connect() as client:
        client.send(_expect("1.1", 1))
        assert client.sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.send(b"x")
        assert client.read_response().body == b"x"
        assert client.served_again(get())


def test_one_read_of_a_whole_chunked_100_continue_body_keeps_the_connection_when_the_last_chunk_came_with_it(
    lab_factory,
):
    # internal/chunked.go chunkedReader.Read reads on into a size line already buffered: the last
    # chunk's io.EOF comes with the data, transfer.go body.readLocked sets sawEOF and reads the trailer.
    # When the last chunk comes later, the one Read returns the data alone, and Go closes.
    lab = lab_factory(lambda w, r: w.write(r.body.read(64)))
    head = b"POST / HTTP/1.1\r\nHost: lab\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
    with lab.connect() as client:
        client.send(head)
        assert client.sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.send(b"5\r\nhello\r\n0\r\n\r\n")
        response = client.read_response()
        assert (response.body, response.header("Connection")) == (b"hello", None)
        assert client.served_again(get())
    with lab.connect() as client:
        client.send(head)
        assert client.sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.send(b"5\r\nhello\r\n")
        response = client.read_response()
        assert (response.body, response.header("Connection")) == (b"hello", "close")


def test_an_unknown_expectation_gets_417_and_a_close_and_the_handler_never_runs(lab_factory):
    # server.go conn.serve: `else if req.Header.get("Expect") != "" { w.sendExpectationFailed(); return }`.
    lab = lab_factory(ArticleHandler(latency=0))
    with lab.connect() as client:
        client.send(get(extra="Expect: teapot\r\n") + get())
        raw = client.read_raw_until_close()
    assert raw.startswith(b"HTTP/1.1 417 Expectation Failed\r\n")
    assert raw.count(b"HTTP/1.1") == 1
    assert lab.wait_closed(1) and lab.access.records() == []


def test_options_star_is_answered_by_the_server_and_never_reaches_the_handler(lab_factory):
    # server.go serverHandler.ServeHTTP: `if req.RequestURI == "*" && req.Method == "OPTIONS"`
    # -> globalOptionsHandler: "Content-Length: 0", an empty 200.
    seen = []
    lab = lab_factory(lambda w, r: (seen.append(r.target), w.write(b"handler")))
    with lab.connect() as client:
        response = client.request(b"OPTIONS * HTTP/1.1\r\nHost: lab\r\n\r\n")
        assert (response.status, response.header("Content-Length"), response.body) == (200, "0", b"")
        assert client.request(get()).body == b"handler"
    assert seen == ["/"]


# -- the headers a handler sets ----------------------------------------------------------------


def test_the_handler_s_own_date_and_content_type_are_kept_and_its_content_encoding_stops_sniffing(lab_factory):
    # server.go chunkWriter.writeHeader: Date only `if !header.has("Date")`; sniffing only without
    # a Content-Type, a Content-Encoding and a Transfer-Encoding.
    def own(w, r):
        if r.target == "/date":
            w.header().set("Date", "yesterday")
        elif r.target == "/type":
            w.header().set("Content-Type", "a/b")
        elif r.target == "/gzip":
            w.header().set("Content-Encoding", "gzip")
        w.write(b"<html>")

    lab = lab_factory(own)
    with lab.connect() as client:
        date = client.request(get("/date"))
        assert [v for k, v in date.headers if k == "Date"] == ["yesterday"]
        assert date.header("Content-Type") == "text/html; charset=utf-8"
        assert [v for k, v in client.request(get("/type")).headers if k == "Content-Type"] == ["a/b"]
        gzip = client.request(get("/gzip"))
        assert gzip.header("Content-Encoding") == "gzip" and gzip.header("Content-Type") is None


def test_the_handler_s_transfer_encoding_chunked_drops_its_content_length_and_identity_keeps_it(lab_factory):
    # server.go chunkWriter.writeHeader: `if hasCL && hasTE && te != "identity"` delete Content-Length;
    # with a length, the handler's Transfer-Encoding is deleted.
    def framing(w, r):
        w.header().set("Content-Length", "3")
        w.header().set("Transfer-Encoding", r.target.strip("/"))
        w.write(b"ok\n")

    lab = lab_factory(framing)
    with lab.connect() as client:
        chunked = client.request(get("/chunked"))
        assert chunked.header("Content-Length") is None
        assert [v for k, v in chunked.headers if k == "Transfer-Encoding"] == ["chunked"]
        assert chunked.body == b"ok\n"
        identity = client.request(get("/identity"))
        assert (identity.header("Content-Length"), identity.header("Transfer-Encoding")) == ("3", None)
        assert client.served_again(get("/identity"))
    with lab.connect() as client:  # HTTP/1.0 cannot chunk: neither header, and the body ends with the close
        client.send(get("/chunked", version="1.0", host=None))
        head, _, body = client.read_raw_until_close().partition(b"\r\n\r\n")
    assert b"Content-Length" not in head and b"Transfer-Encoding" not in head and body == b"ok\n"


def test_an_http10_keep_alive_answer_gets_no_keep_alive_header_when_the_handler_set_connection(lab_factory):
    # server.go chunkWriter.writeHeader: "Connection: keep-alive" only `if !connectionHeaderSet`.
    def close(w, r):
        w.header().set("Connection", "close")
        w.write(b"ok\n")

    lab = lab_factory(close)
    with lab.connect() as client:
        client.send(get(version="1.0", host=None, extra="Connection: keep-alive\r\n"))
        raw = client.read_raw_until_close()
    head = raw.split(b"\r\n\r\n")[0]
    assert head.count(b"Connection:") == 1 and b"Connection: close\r\n" in head + b"\r\n"


def test_a_304_answer_is_not_chunked_and_a_205_one_is_like_any_other_status(lab_factory):
    # server.go chunkWriter.writeHeader: no Transfer-Encoding for HEAD, !bodyAllowedForStatus, 204
    # and a known length; else HTTP/1.1 chunks (205 allows a body).
    def status(w, r):
        code = int(r.target.strip("/"))
        w.write_header(code)
        if code == 205:
            w.write(b"x")
            w.flush()

    lab = lab_factory(status)
    with lab.connect() as client:
        not_modified = client.request(get("/304"))
        assert not_modified.header("Transfer-Encoding") is None and not_modified.header("Content-Length") is None
        reset = client.request(get("/205"))
        assert (reset.header("Transfer-Encoding"), reset.body) == ("chunked", b"x")
        assert client.served_again(get("/304"))


def test_header_lines_are_written_with_canonical_keys_cr_lf_as_spaces_and_trimmed_values(lab_factory):
    # header.go Header.writeSubset: headerNewlineToSpace, textproto.TrimString; the keys were
    # canonicalised by Header.Set (textproto.CanonicalMIMEHeaderKey); dropped keys leave the others.
    def headers(w, r):
        w.header().set("x-lower-case", "1")
        w.header().set("X-UPPER-CASE", "2")
        w.header().set("x-MiXeD-aZ", "3")
        w.header().set("X-Newlines", " a\r\nb\nc\t")
        w.header().set("Content-Length", "0")  # suppressed for 304, sorts before the X- ones
        w.header().set("Transfer-Encoding", "chunked")  # suppressed too, after Content-Length
        w.write_header(304)

    lab = lab_factory(headers)
    with lab.connect() as client:
        client.send(get())
        head = client.sock.recv(4096).split(b"\r\n\r\n")[0].decode()
    lines = head.split("\r\n")[1:]
    assert [line for line in lines if line.startswith("X-")] == [
        "X-Lower-Case: 1", "X-Mixed-Az: 3", "X-Newlines: a  b c", "X-Upper-Case: 2",
    ]  # fmt: skip


def test_flush_commits_the_status_so_a_later_write_header_is_ignored(lab_factory):
    # server.go response.Flush -> `if !w.wroteHeader { w.WriteHeader(StatusOK) }`.
    def flush_first(w, r):
        w.flush()
        w.write_header(404)
        w.write(b"x")

    lab = lab_factory(flush_first)
    with lab.connect() as client:
        response = client.request(get())
    assert (response.status, response.body) == (200, b"x")


def test_write_header_accepts_codes_100_to_999_and_refuses_others(lab_factory):
    # server.go checkWriteHeaderCode: `if code < 100 || code > 999 { panic(...) }`.
    refused = {}

    def code(w, r):
        value = int(r.target.strip("/"))
        try:
            w.write_header(value)
        except ValueError:
            refused[value] = True
        else:
            refused[value] = False

    lab = lab_factory(code)
    for value in (99, 100, 999, 1000):
        with lab.connect() as client:
            client.send(get(f"/{value}", extra="Connection: close\r\n"))
            client.read_raw_until_close()
    assert refused == {99: True, 100: False, 999: False, 1000: True}


# -- reading a request head (textproto, conn.readRequest) -------------------------------------


def test_a_request_line_cut_by_the_read_header_timeout_closes_the_connection_without_a_reply(lab_factory):
    # server.go conn.serve: the timeout is a common net read error (isCommonNetReadError): no reply,
    # even with part of a line read (bufio hands the fragment over first; it parses).
    lab = lab_factory(read_header_timeout=0.3)
    with lab.connect() as client:
        client.send(b"GET / HTTP/1.1")
        assert client.read_raw_until_close() == b""
    assert lab.errors == []


def test_a_folded_header_line_continues_the_one_before_but_cannot_be_the_first(lab_factory):
    # textproto Reader.readContinuedLineSlice (obs-fold, space or tab) and ReadMIMEHeader's
    # "malformed MIME header initial line" for a continuation before any field.
    lab = lab_factory(ArticleHandler(latency=0))
    with lab.connect() as client:
        assert client.request(get(extra="X-A: a\r\n b\r\nX-B: c\r\n\td\r\n")).status == 200
    with lab.connect() as client:
        assert client.request(b"GET / HTTP/1.1\r\n X-A: a\r\nHost: lab\r\n\r\n").status == 400


def test_lines_may_end_with_a_bare_lf(lab_factory):
    # textproto Reader.readLineSlice: the line ends at "\n", a "\r" before it is dropped if present.
    lab = lab_factory(ArticleHandler(latency=0))
    with lab.connect() as client:
        assert client.request(b"GET /a HTTP/1.1\nHost: lab\nX-A: 1\n\n").status == 200
        assert client.request(b"GET /b HTTP/1.1\nHost: lab\n\n").status == 200
    assert [r.target for r in lab.logged(2)] == ["/a", "/b"]


# -- Server: Shutdown, SetKeepAlivesEnabled, closeIdleConns -------------------------------------


def _wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # polling an event no hook reports, not waiting for time to pass
    return True


def test_a_request_answered_during_shutdown_gets_connection_close(lab_factory):
    # server.go Server.doKeepAlives: `!s.disableKeepAlives.Load() && !s.shuttingDown()`,
    # read by chunkWriter.writeHeader; Shutdown closes the listeners first.
    release = threading.Event()

    def held(w, r):
        release.wait(5)
        w.write(b"ok\n")

    lab = lab_factory(held)
    results = []
    with lab.connect() as client:
        client.send(get())
        assert lab.wait_state(ConnState.ACTIVE)
        stopper = threading.Thread(target=lambda: results.append(lab.server.shutdown(5.0)))
        stopper.start()
        assert _wait_until(lambda: lab.listener.closed)
        release.set()
        response = client.read_response()
        assert response.header("Connection") == "close"
        assert client.wait_closed() < 2.0
        stopper.join(5)
    assert results == [True]


def test_shutdown_polls_from_one_millisecond_and_returns_once_idle_connections_are_gone(lab_factory):
    # server.go Server.Shutdown: pollIntervalBase = time.Millisecond, doubled up to 500 ms.
    lab = lab_factory(ArticleHandler(latency=0))
    with lab.connect() as client:
        assert client.request(get()).status == 200
        assert lab.wait_state(ConnState.IDLE)
        start = time.monotonic()
        assert lab.server.shutdown(5.0)
        assert time.monotonic() - start < 0.5
        assert client.wait_closed() < 2.0


def test_a_new_connection_silent_for_five_seconds_counts_as_idle_and_a_younger_one_does_not(lab_factory):
    # server.go Server.closeIdleConns: `if st == StateNew && unixSec < time.Now().Unix()-5 { st = StateIdle }`
    # (golang/go#22682). The stale connection's clock is set back instead of waiting five seconds.
    lab = lab_factory(ArticleHandler(latency=0), limit=2)
    with lab.connect() as stale, lab.connect() as fresh:
        assert lab.wait_state(ConnState.NEW, 2)
        stale_addr = "%s:%d" % stale.sock.getsockname()
        for c in list(lab.server._conns.values()):
            if c.rwc.remote_addr == stale_addr:
                c.state_since -= 10.0
        lab.server.set_keep_alives_enabled(False)
        assert stale.wait_closed() < 2.0
        # closeIdleConns closed what it closes before returning: the younger one is still served.
        assert fresh.request(get()).header("Connection") == "close"


# -- DetectContentType (sniff.go) ----------------------------------------------------------------


def test_html_signatures_match_case_insensitively_and_need_a_tag_terminating_byte():
    # sniff.go htmlSig.match: upper-case letters of the signature match either case (db &= 0xDF);
    # the byte after it must be ' ' or '>' (isTT), so the data must be one byte longer.
    html = "text/html; charset=utf-8"
    assert detect_content_type(b"<b>") == html
    assert detect_content_type(b"<a href='x'>") == html
    assert detect_content_type(b"<A>") == html
    assert detect_content_type(b"<b") == "text/plain; charset=utf-8"
    assert detect_content_type(b"<BX") == "text/plain; charset=utf-8"


def test_the_text_signature_refuses_exactly_go_s_binary_bytes():
    # sniff.go textSig.match: b <= 0x08, b == 0x0B, 0x0E..0x1A, 0x1C..0x1F are binary.
    binary = {0x00, 0x08, 0x0B, 0x0E, 0x1A, 0x1C, 0x1F}
    text = {0x09, 0x0A, 0x0C, 0x0D, 0x1B, 0x20}
    for byte in binary | text:
        want = "application/octet-stream" if byte in binary else "text/plain; charset=utf-8"
        assert detect_content_type(b"a" + bytes([byte]) + b"a") == want, hex(byte)


def test_only_go_s_whitespace_is_skipped_before_a_signature():
    # sniff.go isWS: '\t', '\n', '\x0c', '\r', ' ' (not '\x0b').
    assert detect_content_type(b"\t\n\x0c\r <html>") == "text/html; charset=utf-8"
    assert detect_content_type(b"\x0b<html>") == "application/octet-stream"


def test_byte_order_marks_need_four_bytes_and_exact_signatures_do_not():
    # sniff.go: the BOM signatures are 4-byte maskedSigs (len(data) < len(pat) fails); exactSig is a prefix.
    assert detect_content_type(b"\xfe\xff\x00a") == "text/plain; charset=utf-16be"
    assert detect_content_type(b"\xfe\xff") == "text/plain; charset=utf-8"
    assert detect_content_type(b"BM") == "image/bmp"


def test_serve_retries_a_failing_accept_after_5_ms_doubling_to_1_s_and_starts_again_after_a_success(monkeypatch):
    # server.go Server.Serve: tempDelay 5 ms, doubled on each failed Accept, at most 1 s, reset to 0
    # once an Accept succeeds.
    import socket

    from keepalive_lab.goserver import server as server_module
    from keepalive_lab.goserver.net import Conn, ListenerClosed
    from keepalive_lab.goserver.server import Server

    ours, theirs = socket.socketpair()
    theirs.close()  # the connection's thread meets EOF at once and ends
    script = [OSError("too many open files")] * 9 + [Conn(ours, "peer", "local"), OSError("again"), None]

    class Flaky:
        closed = False

        def accept(self):
            step = script.pop(0)
            if step is None:
                self.closed = True
                raise ListenerClosed("closed")
            if isinstance(step, OSError):
                raise step
            return step

        def close(self):
            self.closed = True

    slept = []
    monkeypatch.setattr(server_module.time, "sleep", slept.append)
    server = Server(ArticleHandler(latency=0))
    server.serve(Flaky())  # returns once the listener is closed
    for thread in server.threads():
        thread.join(5)
    assert slept == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 0.005])


def test_an_informational_status_is_sent_at_once_and_the_handler_goes_on(lab_factory):
    # server.go response.WriteHeader: `if code >= 100 && code <= 199 && code != StatusSwitchingProtocols`
    # writeStatusLine, the header, a blank line, Flush, and return (the final WriteHeader is still to come).
    def early_hints(w, r):
        w.write_header(103)
        w.write(b"ok")

    lab = lab_factory(early_hints)
    with lab.connect() as client:
        client.send(get(extra="Connection: close\r\n"))
        raw = client.read_raw_until_close()
    assert raw.startswith(b"HTTP/1.1 103 Early Hints\r\n")
    assert b"\r\n\r\nHTTP/1.1 200 OK\r\n" in raw and raw.endswith(b"\r\n\r\nok")


# The handlers below and the bytes they send (every Date line taken out) were recorded from a Go
# 1.23.4 net/http server running the same handlers, each request sent whole with its body.


def _read_all(r) -> bytes:
    return b"".join(iter(r.body.read, b""))  # io.ReadAll


def _hints(w, r):
    h = w.header()
    h.set("Link", "</style.css>; rel=preload; as=style")
    h.set("Content-Length", "2")
    h.set("Transfer-Encoding", "chunked")
    h.set("X-Multi", "a\r\nb")
    h.add("Zed", "1")
    h.add("Alpha", "2")
    w.write_header(103)
    h.delete("Transfer-Encoding")
    h.set("Link", "</app.js>; rel=preload; as=script")
    w.write_header(102)
    w.write_header(199)
    w.write_header(150)
    h.set("Content-Type", "text/plain")
    w.write(b"ok")


def _continue_by_hand(w, r):
    w.header().set("X-A", "b")
    w.write_header(100)
    w.write(_read_all(r))


def _hint_then_read(w, r):
    w.write_header(103)
    w.write(_read_all(r))


def _status_then_read(w, r):
    w.write_header(200)
    w.write(_read_all(r))


def _flush_then_read(w, r):
    w.write(b"x")
    w.flush()
    w.write(_read_all(r))


def _expect_close(body: bytes) -> bytes:
    return (b"POST / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip


_INFORMATIONAL_EXCHANGES = {
    # Each 1xx carries the handler's header as it is then, less Content-Length and Transfer-Encoding,
    # values cleaned as in any head; unknown codes get "status code N"; no limit on how many.
    "hints": (_hints, b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n",
              b"HTTP/1.1 103 Early Hints\r\nAlpha: 2\r\nLink: </style.css>; rel=preload; as=style\r\n"
              b"X-Multi: a  b\r\nZed: 1\r\n\r\n"
              b"HTTP/1.1 102 Processing\r\nAlpha: 2\r\nLink: </app.js>; rel=preload; as=script\r\n"
              b"X-Multi: a  b\r\nZed: 1\r\n\r\n"
              b"HTTP/1.1 199 status code 199\r\nAlpha: 2\r\nLink: </app.js>; rel=preload; as=script\r\n"
              b"X-Multi: a  b\r\nZed: 1\r\n\r\n"
              b"HTTP/1.1 150 status code 150\r\nAlpha: 2\r\nLink: </app.js>; rel=preload; as=script\r\n"
              b"X-Multi: a  b\r\nZed: 1\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nAlpha: 2\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n"
              b"Link: </app.js>; rel=preload; as=script\r\nX-Multi: a  b\r\nZed: 1\r\nConnection: close\r\n\r\nok"),
    # writeStatusLine: the request's version, HTTP/1.0 included.
    "http10": (lambda w, r: (w.write_header(103), w.write(b"ok")), b"GET / HTTP/1.0\r\n\r\n",
               b"HTTP/1.0 103 Early Hints\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 2\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n\r\nok"),
    # WriteHeader(100) is sent like any 1xx, with the header, and the body read then sends none.
    "100 by hand": (_continue_by_hand, _expect_close(b"hi"),
                    b"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\nHTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 2\r\n"
                    b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nhi"),
    # A 1xx other than 100 leaves the automatic 100 Continue to the first body read.
    "103 then read": (_hint_then_read, _expect_close(b"hi"),
                      b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                      b"Content-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nhi"),
    # A final status, or a write, before the first body read: no 100 Continue at all (disableWriteContinue),
    # never one in the middle of a response.
    "200 then read": (_status_then_read, _expect_close(b"hi"),
                      b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      b"Connection: close\r\n\r\nhi"),
    "flush then read": (_flush_then_read, _expect_close(b"hi"),
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n2\r\nhi\r\n0\r\n\r\n"),
}


@pytest.mark.parametrize("case", list(_INFORMATIONAL_EXCHANGES))
def test_informational_responses_and_100_continue_are_the_bytes_go_sends(lab_factory, case):
    # server.go response.WriteHeader (the 1xx branch, disableWriteContinue), response.write,
    # expectContinueReader.Read; transfer.go excludedHeadersNoBody; header.go writeSubset.
    handler, request, expected = _INFORMATIONAL_EXCHANGES[case]
    lab = lab_factory(handler)
    with lab.connect() as client:
        client.send(request)
        raw = client.read_raw_until_close()
    assert re.sub(rb"Date: [^\r]*\r\n", b"", raw) == expected
