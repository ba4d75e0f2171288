"""The article's handler: do a little work, answer a small body with an explicit length.

The incident's service wrote a ``Content-Length`` itself, which the article
took for the reason Go kept connections alive (it is not: HTTP/1.1 keeps them
alive by default; see the book's fact-check). The handler here can do either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .request import Request
from .response import ResponseWriter

__all__ = ["ArticleHandler", "body_of"]

_PATTERN = b"abcdefghijklmnopqrstuvwxyz\n"


def body_of(size: int) -> bytes:
    """A deterministic text body of ``size`` bytes (``ok\\n`` for 3)."""
    if size == 3:
        return b"ok\n"
    return (_PATTERN * (size // len(_PATTERN) + 1))[:size]


@dataclass(frozen=True)
class ArticleHandler:
    """Sleep ``latency`` seconds, then write ``body_bytes`` of text.

    ``content_length``: set ``Content-Length`` explicitly, as the article's
    service did; otherwise Go decides (automatic length up to 2048 bytes,
    chunked beyond). ``conn_close``: answer ``Connection: close`` (the
    article's second fix).
    """

    latency: float = 0.1
    body_bytes: int = 3
    content_length: bool = True
    conn_close: bool = False

    def __call__(self, w: ResponseWriter, r: Request) -> None:
        if self.latency > 0:
            time.sleep(self.latency)  # the handler's work, not synchronisation
        body = body_of(self.body_bytes)
        if self.content_length:
            w.header().set("Content-Length", str(len(body)))
        if self.conn_close:
            w.header().set("Connection", "close")
        w.write(body)
