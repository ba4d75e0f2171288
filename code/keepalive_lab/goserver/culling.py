"""``IdleCuller``: make room by closing an idle connection, instead of not calling ``accept``.

Not a Go API. Other servers, at their connection limit, close idle keep-alive
connections to make room (nginx's ``ngx_drain_connections``, h2o); a Go
program can do the same with a ``ConnState`` hook. The culler polls the
listening socket's accept queue (``TCP_INFO``, :mod:`keepalive_lab.kernel`)
and, while a connection waits there, closes the server's longest-idle
connection (:meth:`~keepalive_lab.goserver.server.Server.close_longest_idle`).
"""

from __future__ import annotations

import socket

from keepalive_lab.kernel import listener_queue
from keepalive_lab.ticker import Ticker, TickerBacked

__all__ = ["IdleCuller"]


class IdleCuller(TickerBacked):
    """While a connection waits in the accept queue, close the server's longest-idle connection."""

    def __init__(self, server, listener: socket.socket, interval: float = 0.002) -> None:
        self.server = server
        self.listener = listener
        self.culled = 0
        self._ticker = Ticker("idle-culler", interval, self._tick, first_now=False)

    def _tick(self) -> bool:
        try:
            waiting, _ = listener_queue(self.listener)
        except OSError:
            return False  # the listener closed
        if waiting and self.server.close_longest_idle():
            self.culled += 1
        return True
