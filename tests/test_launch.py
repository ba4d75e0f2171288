"""Starting the article's program (lab/launch.py): ServerConfig's checks and helpers, start_server, close."""

from __future__ import annotations

import dataclasses
import errno
import gc
import socket
import threading

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.goserver.net import TCPListener
from keepalive_lab.goserver.netutil import LimitListener
from keepalive_lab.lab.launch import RunningServer, ServerConfig, start_server
from keepalive_lab.lab.rawclient import RawClient, request_bytes
from keepalive_lab.records import Recorder

from .conftest import WAIT

_LAB_THREADS = ("http-serve", "http-conn-", "idle-culler")


def _lab_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(_LAB_THREADS) and t.is_alive())


@pytest.fixture
def no_threads_left():
    """Whatever the test started, no server thread survives it."""
    before = _lab_threads()
    yield
    assert _lab_threads() == before, "server threads left behind"


# -- ServerConfig: validation --------------------------------------------------------------------


@pytest.mark.parametrize("name", ServerConfig.DURATIONS)
@pytest.mark.parametrize("value", [-1.0, -1e-9, float("nan"), float("inf"), float("-inf")])
def test_a_duration_that_is_negative_nan_or_infinite_is_refused(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a finite duration >= 0"):
        ServerConfig(**{name: value})


@pytest.mark.parametrize("name", ["limit", "work_limit", "body_bytes", "max_header_bytes"])
def test_a_negative_count_is_refused(name):
    with pytest.raises(ValueError, match="must not be negative"):
        ServerConfig(**{name: -1})


def test_zero_durations_are_gos_zero_values_and_accepted():
    config = ServerConfig(**{name: 0.0 for name in ServerConfig.DURATIONS})
    assert all(getattr(config, name) == 0.0 for name in ServerConfig.DURATIONS)


def test_settings_are_keyword_only():
    with pytest.raises(TypeError):
        ServerConfig(1)  # type: ignore[misc]


def test_the_defaults_are_the_articles_program():
    config = ServerConfig()
    assert (config.limit, config.read_timeout, config.write_timeout, config.keep_alives) == (1, 30.0, 30.0, True)
    assert (config.work_limit, config.cull_idle, config.conn_close) == (0, False, False)


# -- ServerConfig: helpers -----------------------------------------------------------------------


def test_scaled_converts_every_duration_and_nothing_else():
    config = ServerConfig(read_timeout=30.0, write_timeout=20.0, idle_timeout=60.0, latency=0.2, limit=3,
                          body_bytes=7)  # fmt: skip
    lab = config.scaled(lambda s: s / 20)
    assert (lab.read_timeout, lab.write_timeout, lab.idle_timeout, lab.latency, lab.read_header_timeout) == (
        1.5, 1.0, 3.0, 0.01, 0.0
    )  # fmt: skip
    assert (lab.limit, lab.body_bytes, lab.max_header_bytes) == (3, 7, config.max_header_bytes)
    assert config.read_timeout == 30.0  # the original is unchanged


def test_scaled_still_checks_the_converted_durations():
    with pytest.raises(ValueError, match="finite duration"):
        ServerConfig().scaled(lambda s: s - 100.0)


def test_with_changes_only_the_named_settings():
    config = ServerConfig()
    changed = config.with_(limit=2, keep_alives=False)
    assert (changed.limit, changed.keep_alives) == (2, False)
    assert dataclasses.replace(changed, limit=1, keep_alives=True) == config
    assert config.limit == 1


def test_with_checks_the_new_settings_and_refuses_unknown_ones():
    with pytest.raises(ValueError, match="read_timeout"):
        ServerConfig().with_(read_timeout=float("nan"))
    with pytest.raises(TypeError):
        ServerConfig().with_(timeout=1.0)


@pytest.mark.parametrize(
    "changes, text",
    [({}, "keep-alive (as in the incident)"), ({"keep_alives": False}, "SetKeepAlivesEnabled(false)"),
     ({"conn_close": True}, "handler Connection: close"),
     ({"keep_alives": False, "conn_close": True}, "SetKeepAlivesEnabled(false)")],
)  # fmt: skip
def test_describe_says_how_the_server_closes_connections(changes, text):
    assert ServerConfig(**changes).describe() == text


def test_settings_lists_the_fields_not_the_class_constants():
    names = ServerConfig.settings()
    assert names[:3] == ["limit", "read_timeout", "read_header_timeout"]
    assert "cull_idle" in names and "DURATIONS" not in names


# -- start_server --------------------------------------------------------------------------------


def test_start_server_serves_on_a_free_loopback_port_and_close_stops_it(no_threads_left):
    running = start_server(ServerConfig(latency=0.0, read_timeout=5.0, write_timeout=5.0))
    try:
        assert isinstance(running, RunningServer)
        assert running.port != 0 and running.addr == f"127.0.0.1:{running.port}"
        assert running.url == f"http://127.0.0.1:{running.port}/"
        assert "http-serve" in _lab_threads()
        with RawClient(running.port) as client:
            response = client.request(request_bytes())
        assert response.status == 200 and len(response.body) == 3  # the article's handler, body_bytes=3
    finally:
        running.close()
    assert running.listener.closed and running.tcp.closed
    assert "http-serve" not in _lab_threads()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", running.port), timeout=WAIT).close()


def test_close_stops_a_server_with_a_connection_still_open(no_threads_left):
    states: Recorder = Recorder()
    with start_server(ServerConfig(latency=0.0, read_timeout=30.0), conn_state=states) as running:
        client = RawClient(running.port)
        client.request(request_bytes())  # now idle, kept alive, holding a connection thread
    try:
        assert client.wait_closed(WAIT) < WAIT  # the server closed it instead of waiting 30 s
        assert [s.state for s in states.records()][-1] == "closed"
    finally:
        client.close()


def test_closing_twice_is_harmless(no_threads_left):
    running = start_server(ServerConfig(latency=0.0))
    running.close()
    running.close()
    assert running.listener.closed


def test_the_limit_wraps_the_listener_and_zero_means_none(no_threads_left):
    with start_server(ServerConfig(limit=1)) as limited, start_server(ServerConfig(limit=0)) as plain:
        assert isinstance(limited.listener, LimitListener)
        assert isinstance(plain.listener, TCPListener) and plain.listener is plain.tcp
        assert "LimitListener" in repr(limited) and limited.addr in repr(limited)


def test_a_handler_given_replaces_the_articles(no_threads_left):
    with start_server(ServerConfig(), handler=ArticleHandler(latency=0.0, body_bytes=11)) as running:
        with RawClient(running.port) as client:
            assert len(client.request(request_bytes()).body) == 11


def test_keep_alives_off_makes_the_server_close_after_the_response(no_threads_left):
    with start_server(ServerConfig(latency=0.0, keep_alives=False)) as running, RawClient(running.port) as client:
        response = client.request(request_bytes())
        assert response.header("Connection") == "close"
        assert client.wait_closed(WAIT) < WAIT


def test_cull_idle_starts_the_culler_which_frees_the_slot_for_a_waiting_connection(no_threads_left):
    config = ServerConfig(latency=0.0, read_timeout=30.0, cull_idle=True)
    with start_server(config) as running:
        assert "idle-culler" in _lab_threads()
        with RawClient(running.port) as holder, RawClient(running.port) as waiter:
            holder.request(request_bytes())  # holds the one slot with an idle connection
            waiter.send(request_bytes())
            assert waiter.read_response(timeout=WAIT).status == 200  # not after the 30 s idle timeout
            assert holder.wait_closed(WAIT) < WAIT  # the culled connection
    assert "idle-culler" not in _lab_threads()


def test_no_culler_runs_unless_asked(no_threads_left):
    with start_server(ServerConfig()):
        assert "idle-culler" not in _lab_threads()


def test_a_port_that_is_taken_raises_and_leaves_nothing_running(no_threads_left):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError) as caught:
            start_server(ServerConfig(), port=taken.getsockname()[1])
    assert caught.value.errno == errno.EADDRINUSE
    del caught
    gc.collect()  # a socket left open would warn here (and warnings are errors)
