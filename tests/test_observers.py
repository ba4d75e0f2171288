"""Observers for what no log shows (lab/observers.py): the accept queue, and when the work ran."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace

import pytest
from keepalive_lab.goserver.header import Header
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.observers import QueueSampler, WorkTracer
from keepalive_lab.lab.rawclient import RawClient, request_bytes
from keepalive_lab.records import QueueSample, Recorder, WorkRecord

from .conftest import WAIT


@pytest.fixture
def backlog():
    """A listener that never accepts, and a way to queue connections on it; everything closed after."""
    stack = ExitStack()
    listener = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def queue(n: int) -> None:
        for _ in range(n):  # the kernel completes each handshake and queues the connection
            stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=WAIT))

    with stack:
        yield SimpleNamespace(sock=listener, port=port, queue=queue)


def _sampler_thread(port: int) -> threading.Thread:
    (thread,) = [t for t in threading.enumerate() if t.name == f"queue-sampler-{port}"]
    return thread


def _lengths_after(samples: Recorder, t: float) -> list[int]:
    return [s.length for s in samples.records() if s.at > t]


@contextmanager
def _listener_closed_while_sampling(backlog, listener: socket.socket | int, queued: int):
    """Sample ``listener`` (the backlog's socket or its port) until ``queued`` connections wait, then close
    the listener; yields ``(samples, the sampler's thread, when it closed)``, and stops the sampler after."""
    samples: Recorder = Recorder()
    sampler = QueueSampler(listener, samples, interval=0.005).start()
    try:
        backlog.queue(queued)
        assert samples.wait_for(lambda ss: any(s.length == queued for s in ss), WAIT)
        thread = _sampler_thread(backlog.port)
        backlog.sock.close()
        yield samples, thread, time.monotonic()
    finally:
        sampler.stop()


# -- QueueSampler --------------------------------------------------------------------------------


def test_a_sampler_on_the_socket_records_the_connections_waiting_to_be_accepted(backlog):
    samples: Recorder = Recorder()
    with QueueSampler(backlog.sock, samples, interval=0.005) as sampler:
        assert sampler.port == backlog.port
        assert samples.wait_for(lambda ss: len(ss) >= 1, WAIT)
        assert samples.records()[0].length == 0
        backlog.queue(2)
        assert samples.wait_for(lambda ss: any(s.length == 2 for s in ss), WAIT)
    assert all(isinstance(s, QueueSample) for s in samples.records())
    assert not [t for t in threading.enumerate() if t.name == f"queue-sampler-{backlog.port}"]  # stopped on exit


def test_a_sampler_on_the_socket_stops_by_itself_when_the_listener_closes(backlog):
    with _listener_closed_while_sampling(backlog, backlog.sock, queued=1) as (_, thread, _):
        thread.join(WAIT)
        assert not thread.is_alive()  # TCP_INFO on a closed socket fails: nothing left to sample


def test_a_sampler_on_the_port_reads_the_same_queue_from_proc(backlog):
    samples: Recorder = Recorder()
    with QueueSampler(backlog.port, samples, interval=0.005) as sampler:
        assert sampler.port == backlog.port
        backlog.queue(3)
        assert samples.wait_for(lambda ss: any(s.length == 3 for s in ss), WAIT)


def test_a_sampler_on_the_port_reads_zero_once_the_listener_is_gone_until_stopped(backlog):
    with _listener_closed_while_sampling(backlog, backlog.port, queued=2) as (samples, thread, closed_at):
        # /proc/net/tcp has no row for a closed listener: the queue reads 0, and sampling goes on.
        assert samples.wait_for(lambda ss: _lengths_after(samples, closed_at).count(0) >= 2, WAIT)
        assert thread.is_alive()
    assert not thread.is_alive()


def test_samples_are_stamped_on_the_monotonic_clock_in_order(backlog):
    samples: Recorder = Recorder()
    with QueueSampler(backlog.sock, samples, interval=0.002):
        assert samples.wait_for(lambda ss: len(ss) >= 5, WAIT)
    times = [s.at for s in samples.records()]
    assert times == sorted(times) and len(set(times)) == len(times)


# -- WorkTracer ----------------------------------------------------------------------------------


def test_the_work_tracer_records_when_a_real_requests_work_ran():
    work: Recorder = Recorder()
    config = ServerConfig(latency=0.05, read_timeout=5.0, write_timeout=5.0)
    with start_server(config, wrap=lambda inner: WorkTracer(inner, work)) as running:
        with RawClient(running.port) as client:
            response = client.request(request_bytes(extra="X-Request-Id: w-1\r\n"))
            assert response.status == 200
            client.request(request_bytes())  # no X-Request-Id
    assert work.wait_for(lambda rs: len(rs) == 2, WAIT)
    first, second = work.records()
    assert isinstance(first, WorkRecord)
    assert first.request_id == "w-1" and second.request_id == ""  # Go's Header.Get of a missing key
    assert first.end - first.start >= 0.05  # the handler's latency ran inside the traced interval
    assert first.end <= second.start


def test_the_work_tracer_records_the_interval_even_when_the_handler_raises():
    work: Recorder = Recorder()

    def failing(w, r):
        raise RuntimeError("handler failed")

    tracer = WorkTracer(failing, work)
    request = SimpleNamespace(header=Header([("x-request-id", "boom-1")]))
    with pytest.raises(RuntimeError, match="handler failed"):  # the error still reaches the server
        tracer(None, request)
    (record,) = work.records()
    assert record.request_id == "boom-1" and record.start <= record.end


def test_the_work_tracer_passes_the_writer_and_request_through():
    seen = []
    tracer = WorkTracer(lambda w, r: seen.append((w, r)), Recorder())
    request = SimpleNamespace(header=Header())
    tracer("writer", request)
    assert seen == [("writer", request)]
