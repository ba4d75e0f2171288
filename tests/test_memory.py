"""Memory under hostile input: an endless framing line must not grow the server, and a closed
connection's objects must go as soon as it closes, without the cycle collector.

Go caps a chunk-size or trailer line at 4096 bytes (net/http/internal/chunked.go ``maxLineLength``),
so 160 MiB sent as one such line costs a Go server nothing; ours, in its own process, may grow by less
than 64 MiB. In-process, each ``ServerConn`` is watched through a weak reference with the cycle
collector off: once its connection has closed, whatever ended it (a read error among them), reference
counting alone must free it. ``benchmarks/memory.py`` prints the figures.
"""

from __future__ import annotations

import gc
import time
import weakref

import pytest
from keepalive_lab.fidelity.hostile.flood import ENDLESS, MIB, flood, memory_of
from keepalive_lab.fidelity.hostile.runner import HostileTimes, served
from keepalive_lab.fidelity.process import ServerProcess, python_server_command
from keepalive_lab.goserver import server as server_module

from .conftest import WAIT

GROWTH_LIMIT = 64 * MIB
FLOOD = 160 * MIB


def test_an_endless_trailer_line_does_not_grow_the_server():
    # A long ReadTimeout: only the framing limit may stop this line, not the deadline.
    with ServerProcess(python_server_command(["--latency", "0", "--read-timeout", "60s"])) as server:
        assert served(server.port, HostileTimes())  # first allocations done before the baseline
        before = memory_of(server.pid).peak
        prefix, filler = ENDLESS["trailer line"]
        result = flood(server.port, prefix, filler, limit=FLOOD, seconds=60.0)
        grown = memory_of(server.pid).peak - before
        assert served(server.port, HostileTimes()), "the server stopped serving after the flood"
    assert grown < GROWTH_LIMIT, f"peak grew by {grown / MIB:.0f} MiB: {result}"


# -- in-process: a closed connection is freed by reference counting alone --------------------------


@pytest.fixture
def watched(monkeypatch):
    """Weak references to every ``ServerConn`` the server creates, with the cycle collector off."""
    refs: list[weakref.ref] = []

    class Watched(server_module.ServerConn):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            refs.append(weakref.ref(self))

    monkeypatch.setattr(server_module, "ServerConn", Watched)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield refs
    finally:
        if was_enabled:
            gc.enable()


def _freed(ref: weakref.ref, timeout: float = WAIT) -> bool:
    """Whether the object goes within ``timeout`` (its thread may still be unwinding just after the close)."""
    deadline = time.monotonic() + timeout
    while ref() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    return ref() is None


def _served_then_client_closes(client) -> None:
    client.request(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    client.close()


def _bad_request_line(client) -> None:
    client.send(b"GARBAGE\r\n\r\n")
    assert client.read_raw_until_close().startswith(b"HTTP/1.1 400 ")


def _head_too_large(client) -> None:
    client.send(b"GET / HTTP/1.1\r\nHost: lab\r\nX-Pad: " + b"p" * 6000 + b"\r\n\r\n")
    assert client.read_raw_until_close().startswith(b"HTTP/1.1 431 ")


def _malformed_chunk(client) -> None:
    client.send(b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
    client.read_raw_until_close()


def _endless_trailer(client) -> None:
    prefix, filler = ENDLESS["trailer line"]
    client.send(prefix + filler * (64 * 1024))
    client.read_raw_until_close()


def _head_cut_by_the_deadline(client) -> None:
    client.send(b"GET / HTTP/1.1\r\nHost: la")
    client.read_raw_until_close()


def _reset_mid_body(client) -> None:
    client.send(b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 100\r\n\r\nhello")
    time.sleep(0.1)
    client.reset()


@pytest.mark.parametrize(
    "action",
    [_served_then_client_closes, _bad_request_line, _head_too_large, _malformed_chunk, _endless_trailer,
     _head_cut_by_the_deadline, _reset_mid_body],
    ids=lambda f: f.__name__.strip("_"),
)  # fmt: skip
def test_a_closed_connection_is_freed_without_the_cycle_collector(lab_factory, watched, action):
    lab = lab_factory(read_timeout=0.3, max_header_bytes=1024, rst_avoidance_delay=0.05)
    client = lab.connect()
    try:
        action(client)
    finally:
        client.close()
    assert lab.wait_closed(1)
    (ref,) = watched
    assert _freed(ref), f"the connection object outlived its connection: {gc.get_referrers(ref())!r:.500}"
