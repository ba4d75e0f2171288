"""When Go closes a connection after its response, rule by rule, probed live; and the server that never does.

:func:`close_rules` sends one request per rule to the lab server (the
article's program, ``LimitListener(l, 1)``) and records whether the
connection survived the response, checked by sending a second request on it.
The rules are those of Go's ``chunkWriter.writeHeader`` and ``conn.serve``
(server.go): a request or handler ``Connection: close``, keep-alives
disabled, HTTP/1.0 without keep-alive, an HTTP/1.0 response without a
length, a request body of 256 KiB or more left unread, and an
``Expect: 100-continue`` body the handler never read.

:func:`zero_timeouts_probe` runs Go's zero ``http.Server{}``: no
``ReadTimeout``, no ``IdleTimeout``, so nothing ever closes an idle
connection and the slot it holds never comes back.
"""

from __future__ import annotations

import pandas as pd

from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.rawclient import RawClient, request_bytes
from keepalive_lab.lab.registry import claim
from keepalive_lab.lab.results import ProbeResult
from keepalive_lab.lab.timescale import TimeScale
from keepalive_lab.records import ConnState, Recorder

__all__ = ["CLOSE_RULES", "close_rules", "zero_timeouts_probe"]

_GET = request_bytes()
_UNREAD = 300 * 1024  # more than Go's 256 KiB maxPostHandlerReadBytes


def _post(size: int, extra: str = "") -> bytes:
    return f"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: {size}\r\n{extra}\r\n".encode("latin-1") + b"x" * size


# (rule, the request, server changes, Go closes after the response)
CLOSE_RULES: tuple[tuple[str, bytes, dict, bool], ...] = (
    ("nothing asks for it (HTTP/1.1)", _GET, {}, False),
    ("the request says Connection: close", request_bytes(extra="Connection: close\r\n"), {}, True),
    ("the handler says Connection: close", _GET, {"conn_close": True}, True),
    ("SetKeepAlivesEnabled(false)", _GET, {"keep_alives": False}, True),
    ("HTTP/1.0 without keep-alive", request_bytes(version="1.0"), {}, True),
    ("HTTP/1.0 keep-alive, response without a length",
     request_bytes(version="1.0", extra="Connection: keep-alive\r\n"), {"body_bytes": 5000, "content_length": False}, True),
    ("HTTP/1.0 keep-alive, response with a length", request_bytes(version="1.0", extra="Connection: keep-alive\r\n"),
     {}, False),
    ("300 KiB of request body left unread", _post(_UNREAD), {}, True),
    ("a small request body left unread (Go reads it)", _post(1024), {}, False),
    ("an Expect: 100-continue body never read", _post(1024, "Expect: 100-continue\r\n")[:-1024], {}, True),
)  # fmt: skip


def _closes(request: bytes, changes: dict) -> bool:
    """Send ``request``, read the answer, then try a second request on the same connection."""
    with start_server(ServerConfig(latency=0.0, **changes)) as running, RawClient(running.port) as client:
        client.request(request)
        return not client.served_again(_GET, timeout=2.0)


def close_rules() -> ProbeResult:
    """Each rule of :data:`CLOSE_RULES`, live: did the connection survive the response?"""
    rows = []
    for rule, request, changes, expected in CLOSE_RULES:
        rows.append({"after the response": rule, "Go closes (server.go)": expected,
                     "the lab server closed": _closes(request, changes)})  # fmt: skip
    table = pd.DataFrame(rows)
    wrong = table[table["Go closes (server.go)"] != table["the lab server closed"]]
    claims = [
        claim("rules", "Each rule closes (or keeps) the connection as Go's writeHeader and conn.serve say.",
              wrong.empty, "all as Go" if wrong.empty else "; ".join(wrong["after the response"])),
    ]  # fmt: skip
    return ProbeResult("close rules", {"rules": len(table)}, claims, table)


def zero_timeouts_probe(scale: TimeScale, watch_article_s: float = 90.0) -> ProbeResult:
    """Go's zero ``http.Server{}``: an idle connection keeps the slot for as long as anyone watches.

    Watches for ``watch_article_s`` article seconds: three times the article's
    ReadTimeout, long enough that any idle deadline would have closed it.
    """
    states: Recorder = Recorder()
    watch = scale.lab(watch_article_s)
    config = ServerConfig(latency=0.0, read_timeout=0.0, write_timeout=0.0, idle_timeout=0.0)
    with start_server(config, conn_state=states) as running:
        with RawClient(running.port) as holder, RawClient(running.port) as waiter:
            holder.request(_GET)
            waiter.send(_GET)
            waited_unanswered = waiter.gets_nothing_for(watch)
            seen = running.server.connections()
            closed = sum(s.state is ConnState.CLOSED for s in states.records())
    still_idle = list(seen.values()) == [ConnState.IDLE]
    values = {"watched_s": watch_article_s, "closed_connections": closed}
    claims = [
        claim("never_closed", f"After {watch_article_s:g} s the idle connection is still open, holding the slot.",
              still_idle and closed == 0, f"server connections: {[str(v) for v in seen.values()]}, {closed} closed"),
        claim("waits_forever", "The second request is still waiting, unanswered.", waited_unanswered,
              f"answered within {watch_article_s:g} s: {not waited_unanswered}"),
    ]  # fmt: skip
    return ProbeResult("zero timeouts", values, claims)
