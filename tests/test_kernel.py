"""The accept-queue probe agrees with the kernel (and with ss -lnt when it is installed)."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
from keepalive_lab.goserver.net import listen
from keepalive_lab.kernel import accept_queue, somaxconn, tcp_sockets


def test_accept_queue_counts_handshakes_nobody_accepted(connect_tcp):
    tcp = listen()
    try:
        assert accept_queue(tcp.port) == 0
        for expected in (1, 2, 3):
            connect_tcp(tcp.port)
            assert accept_queue(tcp.port) == expected
        conn = tcp.accept()
        assert accept_queue(tcp.port) == 2
        conn.close()
    finally:
        tcp.close()
    # No listener any more (accept_queue reads 0 for a missing listener, so ask the kernel directly).
    assert [s for s in tcp_sockets(tcp.port) if s.state == "LISTEN"] == []


def test_queued_request_bytes_wait_in_the_kernel():
    tcp = listen()
    try:
        with socket.create_connection(("127.0.0.1", tcp.port)) as client:
            request = b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"
            client.sendall(request)
            rows = [s for s in tcp_sockets(tcp.port) if s.state == "ESTAB"]
            assert [s.recv_q for s in rows] == [len(request)]  # the whole request, unread, not accepted
    finally:
        tcp.close()


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is not installed")
def test_accept_queue_matches_ss(connect_tcp):
    tcp = listen()
    for _ in range(2):
        connect_tcp(tcp.port)
    try:
        out = subprocess.run(["ss", "-lnt", f"sport = :{tcp.port}"], capture_output=True, text=True, check=True)
        recv_q, send_q = out.stdout.splitlines()[1].split()[1:3]
        assert int(recv_q) == accept_queue(tcp.port) == 2
        assert int(send_q) == somaxconn()  # Go's backlog, and ours
    finally:
        tcp.close()


def test_the_listener_itself_reports_the_same_queue_and_backlog(connect_tcp):
    from keepalive_lab.kernel import listener_queue

    tcp = listen()
    for _ in range(3):
        connect_tcp(tcp.port)
    try:
        assert listener_queue(tcp.sock) == (accept_queue(tcp.port), somaxconn()) == (3, somaxconn())
    finally:
        tcp.close()
