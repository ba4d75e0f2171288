"""A load-balancer node's upstream pool (lbmodel/pool.py) against a real lab server on 127.0.0.1."""

from __future__ import annotations

import threading
import time

import pytest
from keepalive_lab.lbmodel.pool import UpstreamFailed, UpstreamPool, UpstreamTimeout
from keepalive_lab.records import ConnState, Recorder, UpstreamEventKind

from .conftest import WAIT, get

HEAD = get(host="backend")
OPEN, CLOSE, EXPIRE = UpstreamEventKind.OPEN, UpstreamEventKind.CLOSE, UpstreamEventKind.EXPIRE


@pytest.fixture
def pool_factory():
    """Pools on a lab server's port, with their events in a Recorder; closed after the test."""
    pools: list[UpstreamPool] = []

    def make(port: int, *, keep_alive: bool = True, idle_timeout: float = 60.0, max_idle: int | None = None):
        events: Recorder = Recorder()
        pool = UpstreamPool("lb1", "127.0.0.1", port, keep_alive=keep_alive, idle_timeout=idle_timeout,
                            max_idle=max_idle, on_event=events)  # fmt: skip
        pools.append(pool)
        return pool, events

    yield make
    for pool in pools:
        pool.close()
    assert not [t.name for t in threading.enumerate() if t.name == "reaper-lb1" and t.is_alive()]


def _kinds(events: Recorder) -> list[str]:
    return [e.event for e in events.records()]


def _get(pool: UpstreamPool, timeout: float = WAIT):
    """Acquire, send a GET, release: ``(connection, reused, response)``."""
    c, reused = pool.acquire()
    response = c.exchange("GET", HEAD, b"", timeout)
    pool.release(c, response.reusable)
    return c, reused, response


def _holding_handler():
    """A handler that answers only once ``release`` is set; ``entered`` is set when it runs."""
    entered, release = threading.Event(), threading.Event()

    def handler(w, r):
        entered.set()
        release.wait(WAIT)
        w.write(b"late\n")

    return handler, entered, release


def test_a_released_connection_is_reused_for_the_next_request(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port)
    first, reused_first, response = _get(pool)
    second, reused_second, _ = _get(pool)
    assert (response.status, response.body, response.reusable) == (200, b"ok\n", True)
    assert second is first and (reused_first, reused_second) == (False, True)
    assert first.requests == 2 and first.state is ConnState.IDLE
    assert not first.server_closed()
    assert _kinds(events) == [OPEN]
    assert {r.remote_addr for r in lab.logged(2)} == {first.name}  # the node's local address is the server's peer


def test_a_busy_pool_opens_a_new_connection(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port)
    busy, _ = pool.acquire()
    other, reused = pool.acquire()
    assert other is not busy and not reused
    assert pool.snapshot()["active"] == 2
    assert _kinds(events) == [OPEN, OPEN]
    for c in (busy, other):
        pool.release(c, True)
    assert pool.snapshot()["idle"] == 2


def test_the_most_recently_released_idle_connection_is_taken_first(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, _ = pool_factory(lab.port)
    older, newer = pool.acquire()[0], pool.acquire()[0]
    pool.release(older, True)
    pool.release(newer, True)
    assert pool.acquire() == (newer, True)
    assert pool.acquire() == (older, True)
    for c in (newer, older):
        pool.release(c, True)  # a busy connection is its user's to close


def test_an_idle_connection_the_server_closed_is_dropped_and_replaced(lab_factory, pool_factory):
    lab = lab_factory(limit=0, idle_timeout=0.1)  # Go's IdleTimeout closes the pooled connection
    pool, events = pool_factory(lab.port)
    old, _, _ = _get(pool)
    assert lab.wait_closed(1)
    assert old.server_closed()
    fresh, reused = pool.acquire()
    assert fresh is not old and not reused
    assert [(e.event, e.conn) for e in events.records()] == [
        (OPEN, old.name), (UpstreamEventKind.SERVER_CLOSED, old.name), (OPEN, fresh.name)
    ]  # fmt: skip
    assert old.state is ConnState.CLOSED
    pool.release(fresh, True)


def test_the_reaper_closes_an_idle_connection_at_the_node_s_idle_timeout(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port, idle_timeout=0.05)
    released = time.monotonic()
    c, _, _ = _get(pool)
    assert events.wait_for(lambda rs: any(e.event is EXPIRE for e in rs), WAIT)
    expired = next(e for e in events.records() if e.event is EXPIRE)
    assert expired.conn == c.name and expired.at - released >= 0.05
    assert c.state is ConnState.CLOSED and pool.snapshot()["idle"] == 0
    assert lab.wait_closed(1)  # the server sees the node hang up


def test_max_idle_closes_connections_beyond_it(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port, max_idle=1)
    kept, extra = pool.acquire()[0], pool.acquire()[0]
    pool.release(kept, True)
    pool.release(extra, True)
    assert pool.snapshot()["idle"] == 1
    assert extra.state is ConnState.CLOSED and kept.is_idle()
    assert [(e.event, e.conn) for e in events.records()][-1] == (CLOSE, extra.name)


@pytest.mark.parametrize("keep_alive, reusable", [(True, False), (False, True)])
def test_a_connection_that_cannot_be_reused_is_closed_on_release(lab_factory, pool_factory, keep_alive, reusable):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port, keep_alive=keep_alive)
    c, _ = pool.acquire()
    pool.release(c, reusable)
    assert c.state is ConnState.CLOSED
    assert _kinds(events) == [OPEN, CLOSE]
    assert pool.snapshot() == {"new": 0, "active": 0, "idle": 0, "closed": 0}


def test_a_response_with_connection_close_is_not_reusable(lab_factory, pool_factory):
    lab = lab_factory(limit=0, keep_alives=False)
    pool, events = pool_factory(lab.port)
    c, _, response = _get(pool)
    assert response.status == 200 and not response.reusable
    assert _kinds(events) == [OPEN, CLOSE]


def test_discard_closes_a_failed_connection_and_records_why(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port)
    c, _ = pool.acquire()
    pool.discard(c, UpstreamEventKind.FAILED)
    assert c.state is ConnState.CLOSED
    assert _kinds(events) == [OPEN, UpstreamEventKind.FAILED]
    fresh, reused = pool.acquire()
    assert fresh is not c and not reused
    pool.release(fresh, True)


def test_no_response_within_the_timeout_raises_upstream_timeout(lab_factory, pool_factory):
    handler, entered, release = _holding_handler()
    lab = lab_factory(handler, limit=0)
    pool, events = pool_factory(lab.port)
    c, _ = pool.acquire()
    try:
        with pytest.raises(UpstreamTimeout):
            c.exchange("GET", HEAD, b"", timeout=0.1)
        assert entered.is_set()
    finally:
        release.set()
    pool.discard(c, UpstreamEventKind.TIMEOUT)
    assert _kinds(events) == [OPEN, UpstreamEventKind.TIMEOUT]


def test_closing_the_pool_wakes_a_busy_exchange(lab_factory, pool_factory):
    handler, entered, release = _holding_handler()
    lab = lab_factory(handler, limit=0)
    pool, events = pool_factory(lab.port)
    c, _ = pool.acquire()
    outcome: list[BaseException] = []

    def exchange() -> None:
        try:
            c.exchange("GET", HEAD, b"", timeout=WAIT)
        except (UpstreamFailed, UpstreamTimeout) as exc:
            outcome.append(exc)

    t = threading.Thread(target=exchange)
    t.start()
    try:
        assert entered.wait(WAIT)
        start = time.monotonic()
        pool.close()
        t.join(WAIT)
        assert time.monotonic() - start < WAIT / 2
        assert [type(e) for e in outcome] == [UpstreamFailed]  # EOF before a response, not a timeout
    finally:
        release.set()
    pool.discard(c, UpstreamEventKind.FAILED)  # what the proxy thread does next
    assert _kinds(events) == [OPEN, UpstreamEventKind.FAILED]


def test_a_connection_released_after_close_is_not_kept(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port)
    c, _ = pool.acquire()
    pool.close()
    pool.release(c, True)
    assert c.state is ConnState.CLOSED
    assert _kinds(events) == [OPEN, CLOSE]


def test_closing_the_pool_closes_its_idle_connections(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port)
    c, _, _ = _get(pool)
    pool.close()
    assert c.state is ConnState.CLOSED and _kinds(events) == [OPEN, CLOSE]
    assert lab.wait_closed(1)


def test_event_records_carry_the_node_the_connection_and_monotonic_times(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, events = pool_factory(lab.port)
    before = time.monotonic()
    c, _ = pool.acquire()
    pool.release(c, False)
    records = events.records()
    assert {(e.node, e.conn) for e in records} == {("lb1", c.name)}
    assert before <= records[0].at <= records[1].at <= time.monotonic()


def test_a_head_exchange_has_no_body_and_stays_reusable(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, _ = pool_factory(lab.port)
    c, _ = pool.acquire()
    response = c.exchange("HEAD", b"HEAD / HTTP/1.1\r\nHost: backend\r\n\r\n", b"", WAIT)
    pool.release(c, response.reusable)
    assert (response.status, response.body, response.reusable) == (200, b"", True)
    assert ("Content-Length", "3") in response.headers


def test_repr_shows_the_node_port_and_counts(lab_factory, pool_factory):
    lab = lab_factory(limit=0)
    pool, _ = pool_factory(lab.port)
    c, _, _ = _get(pool)
    assert repr(pool) == f"<UpstreamPool lb1 -> {lab.port} idle=1 active=0>"
    assert repr(c) == f"<UpstreamConnection {c.name} idle requests=1>"
