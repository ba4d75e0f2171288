"""The fixes, as server settings, and the one that needs code: limiting work, not connections.

The article's two fixes change when a connection closes, so that the one
``LimitListener`` slot is held only while a request is in flight:
``SetKeepAlivesEnabled(false)`` and a handler ``Connection: close``. The
alternatives trade something else: a short ``IdleTimeout`` shrinks the window
(but keeps it), a larger limit lets more connections in (and more handlers run
at once, which the service wanted to avoid), and :class:`WorkLimitedHandler`
keeps the serial processing while accepting every connection: requests then
wait *inside* the application, where they are visible and bounded by the
server's own timeouts. :class:`IdleCuller` shows what other servers do
instead of not calling ``accept``: when a connection waits in the queue, close
the connection that has been idle the longest.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from .kernel import listener_queue
from .request import Request
from .response import ResponseWriter

__all__ = ["WorkLimitedHandler", "IdleCuller", "Fix", "FIXES", "fix_named"]


class WorkLimitedHandler:
    """Run ``inner`` at most ``n`` at a time; other requests wait for a turn in the handler."""

    def __init__(self, inner, n: int = 1) -> None:
        self.inner = inner
        self.n = n
        self._turns = threading.Semaphore(n)

    def __call__(self, w: ResponseWriter, r: Request) -> None:
        with self._turns:
            self.inner(w, r)


class IdleCuller:
    """While a connection waits in the accept queue, close the server's longest-idle connection.

    A thread polls the listening socket's queue (``TCP_INFO``) every
    ``interval`` seconds until :meth:`stop`; nginx and h2o cull idle
    keep-alive connections in the same spirit when they run out of room.
    """

    def __init__(self, server, listener: socket.socket, interval: float = 0.002) -> None:
        self.server = server
        self.listener = listener
        self.interval = interval
        self.culled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idle-culler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                waiting, _ = listener_queue(self.listener)
            except OSError:
                return  # the listener closed
            if waiting and self.server.close_longest_idle():
                self.culled += 1

    def start(self) -> "IdleCuller":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


@dataclass(frozen=True)
class Fix:
    """A named change to the server settings (:class:`~keepalive_lab.testbed.ServerSpec` fields)."""

    name: str
    label: str
    changes: tuple[tuple[str, object], ...]
    from_article: bool


FIXES = (
    Fix("baseline", "as in the incident", (), False),
    Fix("no_keep_alives", "SetKeepAlivesEnabled(false)", (("keep_alives", False),), True),
    Fix("conn_close", "handler sets Connection: close", (("conn_close", True),), True),
    Fix("short_idle", "IdleTimeout 1 s", (("idle_timeout", 1.0),), False),
    Fix("larger_limit", "LimitListener(l, 8)", (("limit", 8),), False),
    Fix("work_limit", "no LimitListener; 1 handler at a time", (("limit", 0), ("work_limit", 1)), False),
    Fix("cull_idle", "close an idle connection when one waits", (("cull_idle", True),), False),
)


def fix_named(name: str) -> Fix:
    for fix in FIXES:
        if fix.name == name:
            return fix
    raise ValueError(f"no fix {name!r}; the fixes are {', '.join(f.name for f in FIXES)}")
