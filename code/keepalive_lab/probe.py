"""Small live probes of the server's behaviour, for the book's pages and the command line."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from .handlers import ArticleHandler
from .kernel import accept_queue
from .limit import LimitListener
from .netconn import listen
from .server import Server, serving

__all__ = ["OneSlotProbe", "one_slot_probe"]

_REQUEST = b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"


@dataclass(frozen=True)
class OneSlotProbe:
    """What a second client saw while a first one held the only slot."""

    second_answered_while_first_open: bool
    accept_queue_while_waiting: int
    second_answered_after_first_closed: bool
    wait_after_close_s: float


def _answered_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except (TimeoutError, socket.timeout):
        return False


def one_slot_probe(patience: float = 0.5) -> OneSlotProbe:
    """Hold the only slot with an idle keep-alive connection; see what a second client gets."""
    server = Server(ArticleHandler(latency=0.01), read_timeout=30)
    listener = LimitListener(listen(), 1)
    with serving(server, listener):
        first = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        second = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        try:
            first.sendall(_REQUEST)
            first.recv(4096)  # served; the connection now sits idle, kept alive
            second.sendall(_REQUEST)
            answered_early = _answered_within(second, patience)
            queued = accept_queue(listener.port)
            first.close()
            start = time.monotonic()
            answered_late = _answered_within(second, 5.0)
            waited = time.monotonic() - start
        finally:
            first.close()
            second.close()
    return OneSlotProbe(answered_early, queued, answered_late, round(waited, 3))
