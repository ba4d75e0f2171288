"""Go's automatic headers: Content-Length within the 2048-byte buffer, chunked beyond, order, sniffing."""

from __future__ import annotations

import re

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler, body_of
from keepalive_lab.goserver.sniff import detect_content_type

from .conftest import get

DATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def test_the_article_handler_on_the_wire(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0))
    with lab.connect() as client:
        response = client.request(get())
    assert response.raw.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: ")
    assert response.raw.endswith(b" GMT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok\n")
    assert DATE.match(response.header("Date"))


@pytest.mark.parametrize("size, framing", [(2048, "Content-Length"), (2049, "Transfer-Encoding")])
def test_the_2048_byte_boundary(lab_factory, size, framing):
    lab = lab_factory(ArticleHandler(latency=0, body_bytes=size, content_length=False))
    with lab.connect() as client:
        response = client.request(get())
    assert response.body == body_of(size)
    if framing == "Content-Length":
        assert response.header_names == ["Date", "Content-Length", "Content-Type"]
        assert response.header("Content-Length") == "2048"
    else:
        assert response.header_names == ["Date", "Content-Type", "Transfer-Encoding"]
        assert response.header("Transfer-Encoding") == "chunked"
        # One big write bypasses Go's buffer: a single chunk, then the terminator.
        assert response.raw.endswith(b"\r\n801\r\n" + body_of(2049) + b"\r\n0\r\n\r\n")


def test_small_writes_are_chunked_as_the_buffer_fills(lab_factory):
    def many_writes(w, r):
        for _ in range(3):
            w.write(b"a" * 1000)

    lab = lab_factory(many_writes)
    with lab.connect() as client:
        response = client.request(get())
    assert response.body == b"a" * 3000
    # bufio.Writer(2048): fill to 2048, flush a 2048-byte chunk, the rest at the end.
    assert b"\r\n800\r\n" in response.raw and b"\r\n3b8\r\n" in response.raw


def test_an_empty_response_gets_a_zero_length_and_no_content_type(lab_factory):
    lab = lab_factory(lambda w, r: None)
    with lab.connect() as client:
        response = client.request(get())
    assert response.header_names == ["Date", "Content-Length"]
    assert response.header("Content-Length") == "0"


def test_handler_headers_come_first_sorted_then_go_s_extras(lab_factory):
    def handler(w, r):
        w.header().set("x-zeta", "1")
        w.header().set("X-Alpha", "2")
        w.write(b"<html><body>hi</body></html>")

    lab = lab_factory(handler)
    with lab.connect() as client:
        response = client.request(get())
    assert response.header_names == ["X-Alpha", "X-Zeta", "Date", "Content-Length", "Content-Type"]
    assert response.header("Content-Type") == "text/html; charset=utf-8"


def test_head_gets_no_body(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0, content_length=False))
    with lab.connect() as client:
        response = client.request(b"HEAD / HTTP/1.1\r\nHost: lab\r\n\r\n", method="HEAD")
        assert response.body == b""
        assert response.header("Content-Length") == "3"
        assert client.request(get()).body == b"ok\n"  # the stream stayed in sync


def test_status_without_body_suppresses_length(lab_factory):
    lab = lab_factory(lambda w, r: w.write_header(204))
    with lab.connect() as client:
        response = client.request(get())
    assert response.status == 204
    assert response.header_names == ["Date"]


@pytest.mark.parametrize(
    "body, media_type",
    [
        (b"ok\n", "text/plain; charset=utf-8"),
        (b"  <!DOCTYPE html><p>", "text/html; charset=utf-8"),
        (b"<?xml version='1.0'?>", "text/xml; charset=utf-8"),
        (b"%PDF-1.7", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\x00\x01\x02", "application/octet-stream"),
        (b'{"json": true}', "text/plain; charset=utf-8"),
    ],
)
def test_content_sniffing(body, media_type):
    assert detect_content_type(body) == media_type
