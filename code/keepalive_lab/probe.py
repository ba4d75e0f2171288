"""Small live probes of the server's behaviour, for the code-reading chapter.

Each probe starts the server with ``LimitListener(l, 1)`` on 127.0.0.1,
connects raw sockets, and reports what happened as a frozen dataclass. Times
are lab seconds.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import pandas as pd

from .handlers import ArticleHandler
from .kernel import accept_queue
from .limit import LimitListener
from .netconn import listen
from .recorder import Recorder
from .server import ConnState, Server, serving

__all__ = ["OneSlotProbe", "one_slot_probe", "SlotReleaseProbe", "slot_release_probe", "fixes_on_the_wire"]

_REQUEST = b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"


def _answered_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except (TimeoutError, socket.timeout):
        return False


def _time_to_answer(sock: socket.socket, limit: float) -> float:
    start = time.monotonic()
    return time.monotonic() - start if _answered_within(sock, limit) else float("inf")


@dataclass(frozen=True)
class OneSlotProbe:
    """What a second client saw while a first one held the only slot with an idle connection."""

    second_answered_while_first_open: bool
    accept_queue_while_waiting: int
    connections_the_server_knew: int  # StateNew transitions seen by the ConnState hook
    second_answered_after_first_closed: bool


def one_slot_probe(patience: float = 0.5) -> OneSlotProbe:
    states: Recorder = Recorder()
    server = Server(ArticleHandler(latency=0.01), read_timeout=30, conn_state=states)
    listener = LimitListener(listen(), 1)
    with serving(server, listener):
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as first, \
                socket.create_connection(("127.0.0.1", listener.port), timeout=5) as second:  # fmt: skip
            first.sendall(_REQUEST)
            first.recv(4096)  # answered; the connection is now idle and kept alive
            second.sendall(_REQUEST)
            answered_early = _answered_within(second, patience)
            queued = accept_queue(listener.port)
            known = sum(s.state is ConnState.NEW for s in states.records())
            first.close()
            answered_late = _answered_within(second, 5.0)
    return OneSlotProbe(answered_early, queued, known, answered_late)


@dataclass(frozen=True)
class SlotReleaseProbe:
    """How long a queued request waits, depending on what the slot's holder does."""

    idle_timeout: float
    wait_when_holder_closes: float  # the holder closes its idle connection
    wait_when_holder_idles: float  # the holder keeps its connection open and silent

    def table(self, scale) -> pd.DataFrame:
        """Both waits in article seconds, for the page."""
        rows = [("closes its idle connection", self.wait_when_holder_closes),
                ("stays connected, sends nothing", self.wait_when_holder_idles)]  # fmt: skip
        return pd.DataFrame(
            [{"the slot's holder": who, "queued request waited (article s)": round(scale.article(w), 2)} for who, w in rows]
        )


def slot_release_probe(read_timeout: float) -> SlotReleaseProbe:
    """Measure both waits against a server whose idle timeout falls back to ``read_timeout``."""
    waits = []
    for holder_closes in (True, False):
        server = Server(ArticleHandler(latency=0.0), read_timeout=read_timeout)
        listener = LimitListener(listen(), 1)
        with serving(server, listener):
            with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as holder, \
                    socket.create_connection(("127.0.0.1", listener.port), timeout=5) as waiter:  # fmt: skip
                holder.sendall(_REQUEST)
                holder.recv(4096)
                waiter.sendall(_REQUEST)
                if holder_closes:
                    holder.close()
                waits.append(_time_to_answer(waiter, read_timeout + 5))
    return SlotReleaseProbe(read_timeout, waits[0], waits[1])


def _exchange_then_close_time(server: Server, wait: float) -> tuple[str, bool]:
    """One request: the response head (Date elided), and whether the server closed within ``wait``."""
    listener = LimitListener(listen(), 1)
    with serving(server, listener):
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
            sock.sendall(_REQUEST)
            data = b""
            while b"\r\n\r\nok\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            sock.settimeout(wait)
            try:
                closed = sock.recv(1) == b""
            except (TimeoutError, socket.timeout):
                closed = False
    head = data.split(b"\r\n\r\n")[0].decode("latin-1").splitlines()
    head = [line if not line.startswith("Date:") else "Date: (the current time)" for line in head]
    return "\n".join(head), closed


def fixes_on_the_wire(wait: float = 0.5) -> pd.DataFrame:
    """The response head and the server's close, without a fix and with each of the article's fixes."""
    rows = []
    for label, keep_alives, conn_close in (
        ("as in the incident", True, False),
        ("SetKeepAlivesEnabled(false)", False, False),
        ("handler sets Connection: close", True, True),
    ):
        server = Server(ArticleHandler(latency=0.0, conn_close=conn_close), read_timeout=30)
        server.set_keep_alives_enabled(keep_alives)
        head, closed = _exchange_then_close_time(server, wait)
        rows.append({"configuration": label, "response head": head, "closed after the response": closed})
    return pd.DataFrame(rows)
