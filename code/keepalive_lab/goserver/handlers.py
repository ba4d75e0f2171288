"""The article's handler, and the ``ServeMux`` it is registered on.

The incident's service wrote a ``Content-Length`` itself, which the article
took for the reason Go kept connections alive (it is not: HTTP/1.1 keeps them
alive by default; see the book's fact-check). The handler here can do either.

The service registered its handler on an ``http.NewServeMux()`` under ``/``.
:class:`ServeMux` is what that mux still does when ``/`` matches every path:
it turns away a ``*`` target, redirects unclean paths, and redirects a
CONNECT to an authority to ``/``.

:class:`WorkLimitedHandler` is the alternative to limiting connections:
every connection is accepted, and the handler's *work* runs at most ``n`` at
a time (in Go, a semaphore inside the handler).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from keepalive_lab.goserver.durations import LONGEST_WAIT
from keepalive_lab.goserver.header import status_text
from keepalive_lab.goserver.request import Request
from keepalive_lab.goserver.requesturi import escape_path, parse_request_uri
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
            time.sleep(min(self.latency, LONGEST_WAIT))  # the handler's work, not synchronisation
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
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def redirect(w: ResponseWriter, r: Request, url: str, code: int) -> None:
    """Go's ``http.Redirect`` to a rooted path: ``Location``, and a short HTML body for a GET.

    https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go#L2299 (``Redirect``),
    https://github.com/golang/go/blob/go1.23.4/src/net/http/http.go#L76 (``hexEscapeNonASCII``)

    Go cleans the path only if ``url.Parse`` takes ``url`` (server.go#L2300). The URLs the mux
    gives here are a rooted, escaped path and the raw query, so only the fragment can fail it: a
    ``%`` without two hex digits after a ``#`` in the query leaves ``url`` as it is.
    """
    if not _BAD_ESCAPE.search(url.partition("#")[2]):
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


def _url_string(path: str, raw_query: str) -> str:
    """``(&url.URL{Path: path, RawQuery: raw_query}).String()`` for a rooted path: escaped, ``?`` only with a query."""
    return escape_path(path) + (f"?{raw_query}" if raw_query else "")


@dataclass(frozen=True)
class ServeMux:
    """Go 1.22+'s ``http.ServeMux`` with one pattern, ``/``, as the reference program registers it.

    https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go#L2733 (``ServeMux.ServeHTTP``),
    https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go#L2585 (``findHandler``),
    https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go#L2647 (``matchOrRedirect``),
    https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go#L2524 (``cleanPath``)

    Everything is decided on the URL's *escaped* path (``URL.EscapedPath``: the path as it came if
    that is a valid encoding, else the decoded path escaped again), not on the target's bytes:

    * A ``*`` target (``RequestURI``, whatever the method) gets ``400`` with ``Connection: close``
      (HTTP/1.1) (server.go#L2734). ``OPTIONS *`` never gets here: the server answers it itself.
    * CONNECT: the path is not cleaned (server.go#L2590). ``/`` matches every path that starts
      with ``/``, whatever dots or slashes follow, so ``CONNECT /../x`` and ``CONNECT
      http://lab/`` (an authority ``http:``, path ``//lab/``) reach the handler. Only the empty
      path of an authority (``CONNECT example.com:443``) matches nothing; ``"" + "/"`` matches
      ``/`` exactly, so ``matchOrRedirect`` redirects, ``301``, to ``cleanPath(URL.Path) + "/"``
      with the query (server.go#L2659), which ``Redirect`` cleans to ``/``.
    * Every other method: the escaped path is cleaned (``cleanPath``: rooted, ``.`` and ``..``
      resolved, duplicate slashes gone, a trailing slash kept); if that changed it, ``301`` to a URL
      whose path is the cleaned *escaped* path, so it is escaped a second time (``%C3`` becomes
      ``%25C3``), and whose query is the request's (server.go#L2615). An empty path (``http://h``,
      or the opaque ``a:b``) cleans to ``/``. A ``#`` is no fragment in a request: it is part of the
      path, escaped as ``%23``, so ``/x#f/../y`` is redirected to ``/y``.

    No request gets a ``404`` or ``405`` from this mux: every cleaned path starts with ``/``, and
    so does every non-empty CONNECT path (the pattern has no method and no host, so neither
    ``stripHostPort`` nor the second match with ``r.Host`` changes anything).
    """

    handler: Callable[[ResponseWriter, Request], None]

    def __call__(self, w: ResponseWriter, r: Request) -> None:
        if r.target == "*":
            if r.proto_at_least(1, 1):
                w.header().set("Connection", "close")
            w.write_header(400)
            return
        url = r.url if r.url is not None else parse_request_uri(r.target, r.method)
        escaped = url.escaped_path()
        if r.method == "CONNECT":
            if escaped == "":  # an authority's empty path: "/" matches it only with a slash added
                redirect(w, r, _url_string(clean_path(url.path) + "/", url.raw_query), 301)
                return
        else:
            clean = clean_path(escaped)
            if clean != escaped:
                redirect(w, r, _url_string(clean, url.raw_query), 301)
                return
        self.handler(w, r)


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
