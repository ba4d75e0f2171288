"""Arbitrary bytes never crash the server, never leak a slot, never leave a thread behind."""

from __future__ import annotations

import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import WAIT, get

_FRAGMENTS = [
    b"GET / HTTP/1.1\r\n", b"POST / HTTP/1.1\r\n", b"GET / HTTP/1.0\r\n", b"HEAD / HTTP/1.1\r\n",
    b"Host: lab\r\n", b"Connection: close\r\n", b"Connection: keep-alive\r\n", b"Content-Length: 5\r\n",
    b"Content-Length: 999\r\n", b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n",
    b"5\r\nhello\r\n", b"0\r\n\r\n", b"\r\n", b"\n", b" ", b":", b"\x00", b"\xff",
]  # fmt: skip

http_ish = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=12)), max_size=14).map(b"".join)
payloads = st.one_of(st.binary(max_size=600), http_ish)


def test_arbitrary_bytes(lab_factory):
    lab = lab_factory(limit=2, read_timeout=2, rst_avoidance_delay=0.01, max_header_bytes=256)
    sent = [0]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payloads)
    def one_connection(data: bytes) -> None:
        with socket.create_connection(("127.0.0.1", lab.port), timeout=WAIT) as sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)  # EOF after the bytes: every path ends promptly
                while sock.recv(65536):
                    pass
            except ConnectionResetError:
                pass  # the server closed with bytes unread: a reset is a fine answer
        sent[0] += 1
        # Every connection ends in StateClosed, and its slot comes back.
        assert lab.wait_closed(sent[0]), "a connection never closed"
        assert lab.listener.connections == 0

    one_connection()
    assert sent[0] >= 300, f"only {sent[0]} connections were tried"
    assert lab.errors == []  # no internal error was logged for any input
    assert lab.server.connections() == {}
    with lab.connect() as client:  # and the server still serves
        assert client.request(get()).status == 200
