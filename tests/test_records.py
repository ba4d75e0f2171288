"""The records and their Recorder (records.py), and the one background loop (ticker.py)."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from keepalive_lab.records import (
    AccessRecord,
    BalancerRecord,
    ConnState,
    ConnStateChange,
    Outcome,
    QueueSample,
    Recorder,
    RequestRecord,
    UpstreamEvent,
    UpstreamEventKind,
    WorkRecord,
    to_frame,
)
from keepalive_lab.ticker import Ticker

from .conftest import WAIT

T0 = 1000.0

# One record of every class, its times at T0 + 1, T0 + 2, ...
SAMPLES = [
    ConnStateChange(1, "127.0.0.1:2", ConnState.IDLE, T0 + 1),
    AccessRecord(1, "127.0.0.1:2", "GET", "/", "HTTP/1.1", 200, 3, "r1", T0 + 1, T0 + 2, ""),
    RequestRecord("r1", "c1", "lb1", T0 + 1, T0 + 2, Outcome.GATEWAY_TIMEOUT, 504),
    BalancerRecord("lb1", "r1", "127.0.0.1:3", True, T0 + 1, T0 + 2, 200),
    UpstreamEvent("lb1", "127.0.0.1:3", UpstreamEventKind.SERVER_CLOSED, T0 + 1),
    QueueSample(T0 + 1, 4),
    WorkRecord("r1", T0 + 1, T0 + 2),
]


# -- Recorder -----------------------------------------------------------------


def test_the_recorder_keeps_every_record_appended_from_many_threads():
    recorder: Recorder = Recorder()
    start = threading.Barrier(8)

    def append(n: int) -> None:
        start.wait(WAIT)
        for i in range(500):
            recorder((n, i))

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(recorder) == 8 * 500
    assert sorted(recorder.records()) == [(n, i) for n in range(8) for i in range(500)]


def test_records_is_a_copy():
    recorder: Recorder = Recorder()
    recorder("a")
    recorder.records().append("b")
    assert recorder.records() == ["a"]


def test_wait_for_returns_as_soon_as_another_thread_makes_the_condition_true():
    recorder: Recorder = Recorder()
    go = threading.Event()

    def later() -> None:
        go.wait(WAIT)
        recorder("one")
        recorder("two")

    t = threading.Thread(target=later)
    t.start()
    go.set()
    assert recorder.wait_for(lambda rs: len(rs) >= 2, WAIT)
    t.join(WAIT)


def test_wait_for_gives_up_at_its_deadline():
    recorder: Recorder = Recorder()
    start = time.monotonic()
    assert not recorder.wait_for(lambda rs: len(rs) > 0, 0.05)
    assert 0.05 <= time.monotonic() - start < WAIT


def test_wait_for_a_condition_already_true_needs_no_time():
    recorder: Recorder = Recorder()
    recorder("x")
    assert recorder.wait_for(lambda rs: rs == ["x"], 0)


# -- to_frame -----------------------------------------------------------------


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_to_frame_shifts_each_class_s_times_by_t0(record):
    row = to_frame([record], t0=T0).iloc[0]
    assert record.TIMES
    for offset, name in enumerate(record.TIMES, start=1):
        assert row[name] == pytest.approx(offset)
    untimed = [k for k in row.index if k not in record.TIMES]
    assert all(row[k] == getattr(record, k) for k in untimed)


@pytest.mark.parametrize("record, key", [(SAMPLES[0], "state"), (SAMPLES[2], "outcome"), (SAMPLES[4], "event")],
                         ids=lambda x: x if isinstance(x, str) else type(x).__name__)  # fmt: skip
def test_to_frame_turns_enums_into_their_values(record, key):
    value = to_frame([record]).iloc[0][key]
    assert type(value) is str
    assert value == getattr(record, key).value


def test_to_frame_of_nothing_is_an_empty_frame():
    assert to_frame([]).empty


def test_recorder_frame_is_to_frame_of_its_records():
    recorder: Recorder = Recorder()
    recorder(QueueSample(T0 + 0.5, 2))
    frame = recorder.frame(t0=T0)
    pd.testing.assert_frame_equal(frame, pd.DataFrame([{"at": 0.5, "length": 2}]))


def test_str_enums_are_their_strings():
    assert ConnState.IDLE == "idle"
    assert Outcome.GATEWAY_TIMEOUT == "504"
    assert UpstreamEventKind.SERVER_CLOSED == "server_closed"
    assert f"{ConnState.CLOSED}" == "closed"
    assert ConnState("active") is ConnState.ACTIVE


def test_a_request_record_s_latency_is_end_minus_start():
    assert SAMPLES[2].latency == pytest.approx(1.0)


# -- Ticker -------------------------------------------------------------------


def _thread_named(name: str) -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name == name), None)


def test_a_ticker_ticks_at_once_with_first_now():
    ticked = threading.Event()
    with Ticker("t-first-now", 60.0, ticked.set) as ticker:
        assert ticked.wait(WAIT)
        assert ticker.ticks == 1 and ticker.running
    assert not ticker.running and _thread_named("t-first-now") is None


def test_a_ticker_without_first_now_waits_one_interval_first():
    ticks = []
    ticker = Ticker("t-later", 60.0, lambda: ticks.append(1), first_now=False).start()
    ticker.stop()  # wakes the first wait at once
    assert ticks == [] and not ticker.running


def test_a_ticker_ticks_every_interval():
    times: list[float] = []
    done = threading.Event()

    def tick() -> None:
        times.append(time.monotonic())
        if len(times) == 3:
            done.set()

    with Ticker("t-interval", 0.02, tick):
        assert done.wait(WAIT)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) >= 2 and all(gap >= 0.019 for gap in gaps)


def test_a_tick_returning_false_ends_the_loop():
    ticker = Ticker("t-false", 0.001, lambda: False).start()
    thread = _thread_named("t-false")
    if thread is not None:
        thread.join(WAIT)
    assert ticker.ticks == 1 and not ticker.running


def test_max_ticks_ends_the_loop():
    ticker = Ticker("t-max", 0.001, lambda: None, max_ticks=3).start()
    thread = _thread_named("t-max")
    if thread is not None:
        thread.join(WAIT)
    assert ticker.ticks == 3 and not ticker.running


def test_stop_from_inside_a_tick_does_not_wait_for_itself():
    holder: list[Ticker] = []
    ticked = threading.Event()

    def tick() -> None:
        holder[0].stop()
        ticked.set()

    holder.append(Ticker("t-self-stop", 0.001, tick))
    holder[0].start()
    assert ticked.wait(WAIT)
    holder[0].stop()
    assert holder[0].ticks == 1 and not holder[0].running


def test_stop_before_start_is_harmless():
    ticker = Ticker("t-never", 1.0, lambda: None)
    ticker.stop()
    assert not ticker.running and "stopped" in repr(ticker)


@pytest.mark.parametrize("interval", [0, -1.0])
def test_a_ticker_needs_a_positive_interval(interval):
    with pytest.raises(ValueError, match="positive interval"):
        Ticker("t-bad", interval, lambda: None)
