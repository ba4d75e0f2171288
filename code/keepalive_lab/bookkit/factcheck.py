"""Live checks of the article's statements, and of what an operator can see from outside.

Each function starts its own server on 127.0.0.1
(:func:`~keepalive_lab.lab.launch.start_server`), probes it with
:class:`~keepalive_lab.lab.rawclient.RawClient`, and returns a
:class:`~keepalive_lab.lab.results.ProbeResult` for the "Beyond the article"
chapter: a table or values, and the claims the chapter makes, which it checks
with ``require()``. Times are lab seconds unless a column says otherwise.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pandas as pd

from keepalive_lab.kernel import PROC_NET_TCP, accept_queue
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.rawclient import RawClient, request_bytes
from keepalive_lab.lab.registry import claim
from keepalive_lab.lab.results import ProbeResult
from keepalive_lab.lab.timescale import ARTICLE, TimeScale

__all__ = ["keepalive_by_framing", "idle_close_times", "health_checks_while_starved", "ss_listen_line",
           "ss_while_starved", "proc_net_tcp_while_starved"]  # fmt: skip

_GET = request_bytes()


def _framing_of(head: str) -> str:
    if "Transfer-Encoding: chunked" in head:
        return "chunked"
    if "Content-Length:" in head:
        return "Content-Length"
    return "until close"


def keepalive_by_framing() -> ProbeResult:
    """Does the connection stay open after the response, for each way of framing the body?"""
    cases = [
        ("1.1", "", "the handler sets Content-Length", 3, True),
        ("1.1", "", "no Content-Length, 3-byte body", 3, False),
        ("1.1", "", "no Content-Length, 5000-byte body", 5000, False),
        ("1.0", "Connection: keep-alive\r\n", "the handler sets Content-Length", 3, True),
        ("1.0", "Connection: keep-alive\r\n", "no Content-Length, 5000-byte body", 5000, False),
    ]
    rows = []
    for version, extra, label, size, content_length in cases:
        request = request_bytes(extra=extra, version=version)
        config = ServerConfig(latency=0.0, body_bytes=size, content_length=content_length)
        with start_server(config) as running, RawClient(running.port) as client:
            head = client.request(request).head
            kept = client.served_again(request)
        rows.append({"request": f"HTTP/{version}" + (" keep-alive" if extra else ""), "response body": label,
                     "framing Go chose": _framing_of(head), "connection kept alive": kept})  # fmt: skip
    table = pd.DataFrame(rows)
    kept = dict(zip(table["request"] + " / " + table["response body"], table["connection kept alive"]))
    http11 = table[table["request"] == "HTTP/1.1"]
    claims = [
        claim("http11_kept", "HTTP/1.1 keeps the connection however the body is framed.",
              http11["connection kept alive"].all(), str(kept)),
        claim("http11_framings", "Go framed the HTTP/1.1 bodies both with a length and chunked.",
              set(http11["framing Go chose"]) == {"Content-Length", "chunked"}, str(set(http11["framing Go chose"]))),
        claim("http10_length", "HTTP/1.0 keep-alive is kept with a known length...",
              kept["HTTP/1.0 keep-alive / the handler sets Content-Length"], str(kept)),
        claim("http10_no_length", "...and closed without one.",
              not kept["HTTP/1.0 keep-alive / no Content-Length, 5000-byte body"], str(kept)),
    ]  # fmt: skip
    return ProbeResult("keep-alive by framing", {}, claims, table)


def _idle_close_after(config: ServerConfig) -> float:
    with start_server(config) as running, RawClient(running.port) as client:
        client.request(_GET)
        return client.wait_closed(config.read_timeout + config.idle_timeout + 5)


def idle_close_times(scale: TimeScale, idle_timeout: float = 90.0) -> ProbeResult:
    """How long Go keeps an idle connection: IdleTimeout if set, else ReadTimeout (article seconds in and out)."""
    read_timeout = ARTICLE.read_timeout
    rows = []
    for label, idle in (("ReadTimeout only (the article)", 0.0), ("ReadTimeout and IdleTimeout", idle_timeout)):
        config = ServerConfig(latency=0.0, read_timeout=read_timeout, idle_timeout=idle).scaled(scale.lab)
        rows.append({"configuration": label, "closed after (article s)": round(scale.article(_idle_close_after(config)), 1)})
    table = pd.DataFrame(rows)
    default, set_ = table["closed after (article s)"]
    claims = [
        claim("fallback", "With IdleTimeout unset, Go closes an idle connection after ReadTimeout.",
              abs(default - read_timeout) < 1.5, f"{default} s vs ReadTimeout {read_timeout:g} s"),
        claim("idle_set", "With IdleTimeout set, after IdleTimeout.", abs(set_ - idle_timeout) < 1.5,
              f"{set_} s vs IdleTimeout {idle_timeout:g} s"),
    ]  # fmt: skip
    return ProbeResult("idle close", {"idle_default": round(default), "idle_set": round(set_)}, claims, table)


def health_checks_while_starved(check_timeout: float) -> ProbeResult:
    """A TCP check (connect, close) and an HTTP check (GET /, wait) while an idle connection holds the slot."""
    with start_server(ServerConfig(latency=0.0, read_timeout=60)) as running:
        port = running.port
        with RawClient(port) as holder:
            holder.request(_GET)  # the slot is now held by this idle connection
            start = time.monotonic()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=check_timeout).close()
                connected = True  # the kernel completed the handshake; nothing else was needed
            except OSError:
                connected = False
            tcp_seconds = time.monotonic() - start
            with RawClient(port, timeout=check_timeout) as http:
                http.send(request_bytes("/healthz"))
                start = time.monotonic()
                answered = http.answered_within(check_timeout)
                waited = time.monotonic() - start
            queued = accept_queue(port)
    values = {"tcp_check_connected": connected, "tcp_ms": round(tcp_seconds * 1000, 2),
              "http_check_answered": answered, "http_check_waited_s": round(waited, 3), "queue_after": queued}  # fmt: skip
    claims = [
        claim("tcp_passes", "A TCP check connects, and so passes.", connected, f"connected: {connected}"),
        claim("tcp_instant", "It connects at once: the kernel completes the handshake.",
              tcp_seconds < 0.01 * check_timeout, f"{tcp_seconds * 1000:.2f} ms"),
        claim("http_fails", "An HTTP check gets no answer and times out.", not answered, f"answered: {answered}"),
    ]  # fmt: skip
    return ProbeResult("health checks", values, claims)


def ss_listen_line(port: int) -> str | None:
    """What ``ss -lnt`` prints for the listener on ``port`` (None when ss is not installed)."""
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(["ss", "-lnt", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout
    return "\n".join(line for line in out.splitlines() if line.strip())


def ss_while_starved() -> ProbeResult:
    """``ss -lnt`` output while two connections wait behind an idle one."""
    with start_server(ServerConfig(latency=0.0, read_timeout=60)) as running:
        with RawClient(running.port) as holder:
            holder.request(_GET)
            waiting = [RawClient(running.port) for _ in range(2)]
            try:
                text, queued = ss_listen_line(running.port), accept_queue(running.port)
            finally:
                for client in waiting:
                    client.close()
    shown = text if text is not None else f"(ss is not installed here; the accept queue held {queued})"
    ss_queue = int(text.splitlines()[1].split()[1]) if text is not None else queued
    claims = [
        claim("queue_two", "The listening socket's queue holds the two waiting connections.", queued == 2,
              f"/proc/net/tcp: {queued}"),
        claim("ss_agrees", "ss -lnt shows the same number as its Recv-Q.", ss_queue == queued, f"ss: {ss_queue}"),
    ]  # fmt: skip
    return ProbeResult("ss while starved", {"ss": shown, "queue": queued}, claims)


def proc_net_tcp_while_starved() -> ProbeResult:
    """The rows of ``/proc/net/tcp`` for the server's port while one connection waits behind an idle one."""
    with start_server(ServerConfig(latency=0.0, read_timeout=60)) as running:
        with RawClient(running.port) as holder:
            holder.request(_GET)
            with RawClient(running.port):
                lines = PROC_NET_TCP.read_text().splitlines()
    local = f":{running.port:04X} "
    rows = ["sl local_address rem_address st tx_queue:rx_queue"] + [l.strip() for l in lines[1:] if local in l[:40]]
    listen = [r.split() for r in rows[1:] if r.split()[3] == "0A"]
    rx = int(listen[0][4].split(":")[1], 16) if listen else -1
    claims = [claim("listen_rx_queue", "The LISTEN row (state 0A) shows one connection in its rx_queue.", rx == 1,
                    f"rx_queue {rx}")]  # fmt: skip
    # Only the first columns matter here; the rest (timers, inode...) would not fit on a page.
    short = "\n".join("  ".join(r.split()[:5]) for r in rows)
    return ProbeResult("/proc/net/tcp", {"rows": short, "rx_queue": rx}, claims)
