"""The article's handler, and the ``ServeMux`` it is registered on.

The incident's service wrote a ``Content-Length`` itself, which the article
took for the reason Go kept connections alive (it is not: HTTP/1.1 keeps them
alive by default; see the book's fact-check). The handler here can do either.

The service registered its handler on an ``http.NewServeMux()`` under ``/``.
:class:`ServeMux` is what that mux still does when ``/`` matches every path:
it turns away a ``*`` target and redirects unclean paths.

:class:`WorkLimitedHandler` is the alternative to limiting connections:
every connection is accepted, and the handler's *work* runs at most ``n`` at
a time (in Go, a semaphore inside the handler).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from keepalive_lab.goserver.header import status_text
from keepalive_lab.goserver.request import Request
from keepalive_lab.goserver.response import ResponseWriter

__all__ = ["ArticleHandler", "ServeMux", "WorkLimitedHandler", "body_of", "clean_path"]

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


def _path_clean(p: str) -> str:
    """Go's ``path.Clean`` for a rooted path: no empty or ``.`` segments, ``..`` resolved."""
    parts: list[str] = []
    for segment in p.split("/"):
        if segment == "..":
            if parts:
                parts.pop()
        elif segment not in ("", "."):
            parts.append(segment)
    return "/" + "/".join(parts)


def clean_path(p: str) -> str:
    """Go's ``cleanPath`` (server.go): rooted, cleaned, the trailing slash kept."""
    if not p.startswith("/"):
        p = "/" + p
    clean = _path_clean(p)
    if p.endswith("/") and clean != "/":
        clean += "/"
    return clean


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def redirect(w: ResponseWriter, r: Request, url: str, code: int) -> None:
    """Go's ``http.Redirect`` to an absolute path: ``Location``, and a short HTML body for a GET."""
    url, mark, query = url.partition("?")
    trailing = url.endswith("/")
    url = _path_clean(url)  # "clean up but preserve trailing slash"
    if trailing and not url.endswith("/"):
        url += "/"
    url += mark + query
    h = w.header()
    had_type = h.has("Content-Type")
    # hexEscapeNonASCII: Go writes the byte in lower-case hex.
    h.set("Location", "".join(c if ord(c) < 0x80 else f"%{ord(c):x}" for c in url))
    if not had_type and r.method in ("GET", "HEAD"):
        h.set("Content-Type", "text/html; charset=utf-8")
    w.write_header(code)
    if not had_type and r.method == "GET":
        # Go's fmt.Fprintln adds a newline after the one the body ends with.
        w.write(f'<a href="{url.translate(_HTML_ESCAPES)}">{status_text(code)}</a>.\n\n'.encode("latin-1"))


@dataclass(frozen=True)
class ServeMux:
    """Go's ``http.ServeMux`` with one pattern, ``/`` (server.go ``ServeMux.ServeHTTP``, ``findHandler``).

    * A ``*`` target gets ``400`` with ``Connection: close`` (HTTP/1.1).
      ``OPTIONS *`` never gets here: the server answers it itself.
    * Other than for CONNECT, a path that is not clean (``//x``, ``/a/../b``,
      ``/a/./b``) is redirected, ``301``, to its clean form, query kept.
      Since Go 1.22 the mux cleans the path as it came (``EscapedPath``),
      not its percent-decoded form; so does this.
    """

    handler: Callable[[ResponseWriter, Request], None]

    def __call__(self, w: ResponseWriter, r: Request) -> None:
        if r.target == "*":
            if r.proto_at_least(1, 1):
                w.header().set("Connection", "close")
            w.write_header(400)
            return
        if r.method != "CONNECT":
            path, query = _path_and_query(r.target)
            clean = clean_path(path)
            if clean != path:
                redirect(w, r, clean + (f"?{query}" if query else ""), 301)
                return
        self.handler(w, r)


def _path_and_query(target: str) -> tuple[str, str]:
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path, query
    parts = urlsplit(target)  # absolute form: http://host/path?query
    return parts.path, parts.query


class WorkLimitedHandler:
    """Run ``inner`` at most ``n`` at a time; other requests wait for a turn inside the handler.

    The wait has no timeout, like Go's ``sem.Acquire(context.Background(), 1)``
    or a plain channel send: neither ``ReadTimeout`` nor ``WriteTimeout``
    interrupts a handler blocked here. (In Go only a context-aware wait,
    ``sem.Acquire(r.Context(), 1)``, ends early, when the request's context
    is cancelled; the lab does not model that.)
    """

    def __init__(self, inner, n: int = 1) -> None:
        if n < 1:
            raise ValueError("a work limit needs n >= 1")
        self.inner = inner
        self.n = n
        self._turns = threading.Semaphore(n)

    def __call__(self, w: ResponseWriter, r: Request) -> None:
        with self._turns:
            self.inner(w, r)
