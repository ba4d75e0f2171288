"""The socket checks behind ``python -m keepalive_lab doctor``: can this machine run the lab at all?

Every experiment needs three things from the kernel: loopback TCP that works,
a few free ports on 127.0.0.1 at once, and an accept queue it can read, both
from the listening socket itself (``TCP_INFO``, what the observers sample)
and from ``/proc/net/tcp`` (what ``ss -lnt`` shows, and what works for a
server in another process). Each function here tries one of them for real,
on 127.0.0.1 only, with a deadline, and closes every socket it opened, also
on failure. A failure raises :class:`SelfCheckError` (or ``OSError``) with
what went wrong.
"""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

from keepalive_lab import kernel

__all__ = ["SelfCheckError", "loopback_roundtrip", "accept_queue_readings", "free_ports"]

LOOPBACK = "127.0.0.1"
_PROBE = b"keepalive-lab doctor\n"


class SelfCheckError(RuntimeError):
    """A check ran and the kernel did not behave as the lab needs."""


def _listener(stack: ExitStack, backlog: int) -> socket.socket:
    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.bind((LOOPBACK, 0))
    sock.listen(backlog)
    return sock


def _client(stack: ExitStack, port: int, timeout: float) -> socket.socket:
    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.settimeout(timeout)
    sock.connect((LOOPBACK, port))
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def loopback_roundtrip(timeout: float = 2.0) -> int:
    """Bind 127.0.0.1:0, connect, accept, and send bytes both ways; returns the port used."""
    with ExitStack() as stack:
        listener = _listener(stack, backlog=1)
        listener.settimeout(timeout)
        port = listener.getsockname()[1]
        client = _client(stack, port, timeout)
        server, _ = listener.accept()
        stack.enter_context(server)
        server.settimeout(timeout)
        client.sendall(_PROBE)
        if _recv_exactly(server, len(_PROBE)) != _PROBE:
            raise SelfCheckError("the bytes sent over loopback did not arrive")
        server.sendall(_PROBE)
        if _recv_exactly(client, len(_PROBE)) != _PROBE:
            raise SelfCheckError("the reply over loopback did not arrive")
        return port


def accept_queue_readings(timeout: float = 2.0) -> tuple[int, int]:
    """``(TCP_INFO, /proc/net/tcp)`` readings of a listener's accept queue with one connection in it.

    The listener never calls accept(), as a server behind a full LimitListener
    does not: the connection completes its handshake and waits in the queue.
    The handshake's last ACK reaches the listener a moment after connect()
    returns on the client's side, so the readings are retried (without a
    fixed wait) until both say 1 or the deadline passes; the last readings
    are returned either way, for the caller to judge.
    """
    with ExitStack() as stack:
        listener = _listener(stack, backlog=8)
        port = listener.getsockname()[1]
        _client(stack, port, timeout)
        deadline = time.monotonic() + timeout
        while True:
            via_tcp_info, _backlog = kernel.listener_queue(listener)
            via_proc = kernel.accept_queue(port)
            if (via_tcp_info, via_proc) == (1, 1) or time.monotonic() >= deadline:
                return via_tcp_info, via_proc
            time.sleep(0.01)  # a poll interval inside a deadline, not a wait for something to happen


def free_ports(count: int = 4) -> list[int]:
    """Bind ``count`` listeners on 127.0.0.1:0 at once (an experiment holds several); their ports."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            ports.append(_listener(stack, backlog=1).getsockname()[1])
        if len(set(ports)) != count:
            raise SelfCheckError(f"the kernel handed out the same port twice: {ports}")
        return ports
