"""Go's idle-timeout rules: IdleTimeout, else ReadTimeout, else none."""

from __future__ import annotations

import pytest
from keepalive_lab.goserver.server import Server
from keepalive_lab.records import ConnState

from .conftest import get


@pytest.mark.parametrize(
    "read_timeout, idle_timeout, expected",
    [
        (0.4, 0.0, 0.4),  # IdleTimeout unset: ReadTimeout is used (the article's configuration)
        (0.4, 0.8, 0.8),  # IdleTimeout wins when set
        (5.0, 0.3, 0.3),
    ],
)
def test_idle_keep_alive_connection_is_closed_at_the_idle_timeout(lab_factory, read_timeout, idle_timeout, expected):
    lab = lab_factory(read_timeout=read_timeout, idle_timeout=idle_timeout)
    with lab.connect() as client:
        assert client.request(get()).status == 200
        waited = client.wait_closed()
    # Lower bound: the server must not close early. Upper bound: generous for a busy machine.
    assert expected - 0.05 <= waited < expected + 1.5
    assert lab.wait_closed(1)
    idle_at = next(e.at for e in lab.states.records() if e.state is ConnState.IDLE)
    closed_at = next(e.at for e in lab.states.records() if e.state is ConnState.CLOSED)
    assert closed_at - idle_at >= expected - 0.01


def test_no_timeouts_means_an_idle_connection_stays(lab_factory):
    lab = lab_factory(read_timeout=0, idle_timeout=0)
    with lab.connect() as client:
        assert client.request(get()).status == 200
        assert client.gets_nothing_for(0.5)  # still open: neither bytes nor EOF
        assert client.request(get()).status == 200


def test_the_idle_deadline_is_per_wait_not_per_connection(lab_factory):
    lab = lab_factory(read_timeout=0.5)
    with lab.connect() as client:
        for _ in range(4):  # 4 requests 0.2 s apart: 0.8 s in all, longer than the idle timeout
            assert client.request(get()).status == 200
            assert client.gets_nothing_for(0.2)
    assert len({r.conn_id for r in lab.logged(4)}) == 1


def test_timeout_fallbacks():
    server = Server(lambda w, r: None, read_timeout=30)
    assert server.effective_idle_timeout() == 30
    assert server.effective_read_header_timeout() == 30
    server = Server(lambda w, r: None, read_timeout=30, idle_timeout=5, read_header_timeout=2)
    assert server.effective_idle_timeout() == 5
    assert server.effective_read_header_timeout() == 2
