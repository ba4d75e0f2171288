"""LimitListener, rule by rule (x/net netutil/listen.go)."""

from __future__ import annotations

import socket
import threading

import pytest
from keepalive_lab.goserver.net import ListenerClosed, listen
from keepalive_lab.goserver.netutil import LimitListener
from keepalive_lab.kernel import accept_queue

from .conftest import WAIT, get


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def test_slot_is_taken_before_accept_so_the_kernel_queues_the_rest():
    limited = LimitListener(listen(), 1)
    clients = [_connect(limited.port) for _ in range(3)]
    try:
        first = limited.accept()
        # The application holds its one slot and calls accept() no more: the kernel
        # completed the other two handshakes and keeps them queued (ss -lnt Recv-Q).
        assert accept_queue(limited.port) == 2
        assert limited.in_use == 1
        first.close()
        second = limited.accept()
        assert accept_queue(limited.port) == 1
        second.close()
    finally:
        for c in clients:
            c.close()
        limited.close()


def test_slot_comes_back_exactly_once_and_only_on_server_close():
    limited = LimitListener(listen(), 1)
    client = _connect(limited.port)
    try:
        conn = limited.accept()
        client.close()  # the peer hangs up: that alone frees nothing
        assert limited.in_use == limited.connections == 1
        assert conn.close() is True
        assert conn.close() is False  # releaseOnce: a second Close releases nothing
        assert limited.in_use == limited.connections == 0
    finally:
        limited.close()


class _FailingListener:
    """An inner listener whose accept fails, as with EMFILE (hard to provoke for real)."""

    addr = "127.0.0.1:0"
    port = 0
    closed = False

    def accept(self):
        raise OSError(24, "Too many open files")

    def close(self):
        self.closed = True


def test_failed_accept_gives_the_slot_back():
    limited = LimitListener(_FailingListener(), 1)
    with pytest.raises(OSError):
        limited.accept()
    assert limited.in_use == 0
    with pytest.raises(OSError):  # and the next accept can take the slot again
        limited.accept()


def test_close_wakes_an_accept_waiting_for_a_slot():
    limited = LimitListener(listen(), 1)
    client = _connect(limited.port)
    held = limited.accept()
    outcome: list = []
    waiting = threading.Event()

    def accept_again():
        waiting.set()
        try:
            limited.accept()
            outcome.append("accepted")
        except ListenerClosed:
            outcome.append("closed")

    thread = threading.Thread(target=accept_again)
    thread.start()
    waiting.wait(WAIT)
    limited.close()
    thread.join(WAIT)
    held.close()
    client.close()
    assert not thread.is_alive()
    assert outcome == ["closed"]


def test_close_wakes_an_accept_blocked_in_the_kernel():
    limited = LimitListener(listen(), 2)
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_accept_or_closed(limited)))
    thread.start()
    limited.close()
    thread.join(WAIT)
    assert outcome == ["closed"]
    assert limited.in_use == 0  # the failed accept released its slot


def _accept_or_closed(limited: LimitListener) -> str:
    try:
        limited.accept()
    except ListenerClosed:
        return "closed"
    return "accepted"


def test_n_must_be_positive():
    tcp = listen()
    try:
        with pytest.raises(ValueError):
            LimitListener(tcp, 0)
    finally:
        tcp.close()


@pytest.mark.parametrize("n", [1, 2])
def test_the_n_plus_first_connection_is_served_only_when_one_closes(lab_factory, n):
    lab = lab_factory(limit=n)
    held = [lab.connect() for _ in range(n)]
    for client in held:
        assert client.request(get()).status == 200  # each now holds a slot, idle, kept alive
    extra = lab.connect()
    try:
        extra.send(get())
        assert extra.gets_nothing_for(0.3), "the n+1-th connection was served while n slots were held"
        assert accept_queue(lab.port) == 1
        held[0].close()  # the server notices EOF, closes its side, and the slot comes back
        response = extra.read_response()
        assert response.status == 200
        assert accept_queue(lab.port) == 0
    finally:
        extra.close()
        for client in held[1:]:
            client.close()
