"""LimitListener, rule by rule (x/net netutil/listen.go)."""

from __future__ import annotations

import platform
import threading
import time
from pathlib import Path

import pytest
from keepalive_lab.goserver.net import ListenerClosed, listen
from keepalive_lab.goserver.netutil import LimitListener
from keepalive_lab.kernel import accept_queue

from .conftest import WAIT, get


def test_slot_is_taken_before_accept_so_the_kernel_queues_the_rest(connect_tcp):
    limited = LimitListener(listen(), 1)
    for _ in range(3):
        connect_tcp(limited.port)
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
        limited.close()


def test_slot_comes_back_exactly_once_and_only_on_server_close(connect_tcp):
    limited = LimitListener(listen(), 1)
    client = connect_tcp(limited.port)
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


class _ObservedCondition(threading.Condition):
    """A condition variable that counts the threads parked in ``wait`` (the listener's own lock).

    ``wait`` is entered with the lock held and releases it only once the waiter is registered, so
    whoever takes the lock and finds ``parked == 1`` knows a thread is asleep in ``wait`` and will be
    woken only by a ``notify``. ``entered`` is set the first time a thread starts to wait.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parked = 0
        self.woken = 0
        self.entered = threading.Event()

    def wait(self, timeout=None):
        self.parked += 1
        self.entered.set()
        try:
            return super().wait(timeout)
        finally:
            self.parked -= 1
            self.woken += 1


def test_close_wakes_an_accept_waiting_for_a_slot(connect_tcp):
    limited = LimitListener(listen(), 1)
    cond = limited._cond = _ObservedCondition()  # before any accept: acquire and close use it
    client = connect_tcp(limited.port)
    held = limited.accept()
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_accept_or_closed(limited)), daemon=True)
    try:
        thread.start()
        # Proof that the accept is blocked in acquire, waiting for the slot held above:
        assert cond.entered.wait(WAIT), "the second accept never waited for a slot"
        with cond:  # taken only once the waiter has released it inside wait()
            assert cond.parked == 1 and cond.woken == 0 and limited.in_use == 1
        limited.close()
        thread.join(WAIT)
        assert not thread.is_alive(), "close() did not wake the accept waiting for a slot"
        assert outcome == ["closed"]
        assert cond.woken == 1 and cond.parked == 0  # it left through wait(), woken by close()
        assert limited.in_use == 1  # the waiter never took a slot; the held connection still has its own
    finally:
        limited.close()
        held.close()
        client.close()
    assert limited.in_use == 0


# accept4(2) and accept(2) by machine: what /proc/self/task/TID/syscall shows while a thread is blocked in them.
_ACCEPT_SYSCALLS = {"x86_64": {43, 288}, "aarch64": {202, 242}}


def _blocked_in_accept(thread: threading.Thread, fd: int) -> bool:
    """Whether ``thread`` is inside accept(2) on ``fd`` right now, as the kernel reports it."""
    try:
        fields = Path(f"/proc/self/task/{thread.native_id}/syscall").read_text().split()
    except OSError:
        return False  # the thread has exited
    # "running", "-1 SP PC" (not in a system call), or "NR ARG1 ... ARG6 SP PC".
    return len(fields) > 3 and int(fields[0]) in _ACCEPT_SYSCALLS[platform.machine()] and int(fields[1], 16) == fd


def _can_read_syscalls() -> bool:
    try:
        return bool(Path(f"/proc/self/task/{threading.get_native_id()}/syscall").read_text().split())
    except OSError:
        return False


def _wait_until(predicate, timeout: float = WAIT) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes: for states that signal nothing (the kernel's)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.skipif(platform.machine() not in _ACCEPT_SYSCALLS, reason="accept(2) numbers unknown on this machine")
@pytest.mark.skipif(not _can_read_syscalls(), reason="/proc/PID/task/TID/syscall is not readable here")
def test_close_wakes_an_accept_blocked_in_the_kernel():
    limited = LimitListener(listen(), 2)
    fd = limited.listener.sock.fileno()
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_accept_or_closed(limited)), daemon=True)
    try:
        thread.start()
        # Proof that the accept got a slot and is asleep in the kernel's accept on our listener
        # (a blocked system call sends no event: poll the kernel's view with a deadline).
        assert _wait_until(lambda: _blocked_in_accept(thread, fd)), "the thread never blocked in accept(2)"
        assert limited.in_use == 1 and outcome == []
    finally:
        limited.close()
        thread.join(WAIT)
    assert not thread.is_alive(), "close() did not wake the accept blocked in the kernel"
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
