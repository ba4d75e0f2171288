"""A run's recorders and its clock (lab/recordings.py): tables in seconds since the start."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from keepalive_lab.lab.recordings import Recordings
from keepalive_lab.records import ConnState, ConnStateChange, Outcome, QueueSample, Recorder, RequestRecord


def test_recordings_hold_one_recorder_per_name_in_order():
    rec = Recordings("requests", "queue")
    assert rec.names == ["requests", "queue"]
    assert isinstance(rec["requests"], Recorder)
    assert rec["requests"] is rec["requests"] and rec["requests"] is not rec["queue"]


def test_an_unknown_recorder_is_a_key_error():
    with pytest.raises(KeyError):
        Recordings("requests")["access"]


def test_tables_shift_every_time_column_by_t0_and_nothing_else():
    rec = Recordings("requests", "queue", "states")
    t0 = rec.t0
    rec["requests"](RequestRecord("r-0", "c", "LB1", t0 + 1.0, t0 + 1.25, Outcome.OK, 200))
    rec["queue"](QueueSample(t0 + 2.5, 3))
    rec["states"](ConnStateChange(7, "127.0.0.1:5000", ConnState.IDLE, t0 + 0.5))
    tables = rec.tables()
    assert set(tables) == {"requests", "queue", "states"}
    req = tables["requests"].iloc[0]
    assert req["start"] == pytest.approx(1.0) and req["end"] == pytest.approx(1.25)
    assert (req["status"], req["outcome"], req["request_id"]) == (200, "ok", "r-0")  # not shifted; enum as text
    assert tables["queue"].iloc[0].to_dict() == {"at": pytest.approx(2.5), "length": 3}
    states = tables["states"].iloc[0]
    assert states["at"] == pytest.approx(0.5) and states["conn_id"] == 7 and states["state"] == "idle"


def test_start_clock_moves_time_zero_to_now():
    rec = Recordings("queue")
    before = rec.t0
    sample_at = time.monotonic()
    rec["queue"](QueueSample(sample_at, 1))
    t0 = rec.start_clock()
    assert t0 == rec.t0 and t0 >= sample_at >= before
    assert rec.tables()["queue"]["at"].iloc[0] == pytest.approx(sample_at - t0)
    assert rec.tables()["queue"]["at"].iloc[0] <= 0  # recorded before the new time zero


def test_now_counts_seconds_since_time_zero():
    rec = Recordings()
    first = rec.now()
    second = rec.now()
    assert 0 <= first <= second < 5.0


def test_a_recorder_with_no_records_gives_an_empty_table():
    tables = Recordings("access").tables()
    assert isinstance(tables["access"], pd.DataFrame) and tables["access"].empty


def test_the_repr_counts_the_records_of_each_recorder():
    rec = Recordings("requests", "queue")
    rec["queue"](QueueSample(rec.t0, 0))
    rec["queue"](QueueSample(rec.t0, 1))
    assert repr(rec) == "<Recordings requests=0, queue=2>"
