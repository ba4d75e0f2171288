"""Measurements over a run's tables (lab/analysis.py), on small hand-made DataFrames."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from keepalive_lab.lab.analysis import (
    connections_opened,
    first_access_at,
    latency_summary,
    max_concurrency,
    max_open_connections,
    outcome_rate,
    peak_overlap,
    queue_max_during,
)


def _requests(*rows: tuple[str, float]) -> pd.DataFrame:
    """(outcome, latency) rows, in the columns of Testbed.tables()["requests"]."""
    return pd.DataFrame(
        [{"request_id": f"r{i}", "outcome": o, "start": float(i), "end": i + lat, "latency": lat}
         for i, (o, lat) in enumerate(rows)],
        columns=["request_id", "outcome", "start", "end", "latency"],
    )  # fmt: skip


def _states(*rows: tuple[int, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"conn_id": c, "remote_addr": f"127.0.0.1:{5000 + c}", "state": s, "at": at} for c, s, at in rows],
        columns=["conn_id", "remote_addr", "state", "at"],
    )


# -- latency_summary -----------------------------------------------------------------------------


def test_latency_summary_gives_count_median_p99_and_max_of_the_ok_requests():
    req = _requests(("ok", 0.1), ("ok", 0.2), ("ok", 0.3), ("timeout", 10.0), ("ok", 0.4))
    s = latency_summary(req)
    assert s["count"] == 4
    assert s["p50"] == pytest.approx(0.25)
    assert s["p99"] == pytest.approx(0.397)  # numpy's linear interpolation between 0.3 and 0.4
    assert s["max"] == pytest.approx(0.4)  # the timeout is not an ok request
    assert all(type(v) in (int, float) for v in s.values())  # plain Python numbers, for glue


def test_latency_summary_of_every_outcome_includes_the_timeouts():
    req = _requests(("ok", 0.1), ("timeout", 10.0))
    assert latency_summary(req, outcome=None) == {"count": 2, "p50": pytest.approx(5.05), "p99": pytest.approx(9.901),
                                                  "max": 10.0}  # fmt: skip
    assert latency_summary(req, outcome="timeout")["count"] == 1


def test_latency_summary_of_no_matching_request_is_nan_not_an_error():
    for req in (_requests(("timeout", 10.0)), _requests()):
        s = latency_summary(req)
        assert s["count"] == 0
        assert all(math.isnan(s[k]) for k in ("p50", "p99", "max"))


# -- queue_max_during ----------------------------------------------------------------------------


def test_queue_max_during_reads_only_the_window_including_its_edges():
    queue = pd.DataFrame({"at": [0.0, 1.0, 2.0, 3.0, 4.0], "length": [5, 1, 2, 3, 7]})
    assert queue_max_during(queue, 1.0, 3.0) == 3  # 5 and 7 lie outside; both edges count
    assert queue_max_during(queue, 1.5, 2.5) == 2
    assert type(queue_max_during(queue, 0.0, 4.0)) is int


def test_queue_max_during_an_empty_window_or_table_is_zero():
    queue = pd.DataFrame({"at": [0.0, 4.0], "length": [5, 7]})
    assert queue_max_during(queue, 1.0, 3.0) == 0
    assert queue_max_during(pd.DataFrame(columns=["at", "length"]), 0.0, 10.0) == 0


# -- peak_overlap, max_concurrency ---------------------------------------------------------------


def test_peak_overlap_counts_intervals_open_at_one_instant():
    assert peak_overlap([0.0, 1.0, 2.0], [3.0, 4.0, 2.5]) == 3
    assert peak_overlap([0.0, 5.0], [1.0, 6.0]) == 1


def test_an_interval_that_ends_as_another_starts_does_not_overlap_it():
    assert peak_overlap([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]) == 1  # [start, end): an end frees its place first


def test_intervals_that_start_at_the_same_instant_all_overlap():
    assert peak_overlap([1.0, 1.0, 1.0], [2.0, 3.0, 4.0]) == 3


def test_peak_overlap_of_nothing_is_zero():
    assert peak_overlap([], []) == 0


def test_max_concurrency_reads_the_work_tracers_intervals():
    work = pd.DataFrame({"request_id": ["a", "b", "c"], "start": [0.0, 0.5, 1.0], "end": [1.0, 1.5, 2.0]})
    assert max_concurrency(work) == 2  # a and b, then b and c (a ends as c starts)
    assert max_concurrency(pd.DataFrame()) == 0  # a recorder with no records


# -- max_open_connections, connections_opened ----------------------------------------------------


def test_max_open_connections_counts_from_new_to_closed():
    states = _states(
        (1, "new", 0.0), (1, "active", 0.1), (1, "idle", 0.2),
        (2, "new", 0.5), (2, "active", 0.6),
        (1, "closed", 1.0),
        (3, "new", 1.0),  # accepted at the instant conn 1 closed: the slot passed on, never 3 at once
        (2, "closed", 2.0), (3, "closed", 3.0),
    )  # fmt: skip
    assert max_open_connections(states) == 2
    assert connections_opened(states) == 3


def test_a_connection_never_closed_stays_open_to_the_end():
    states = _states((1, "new", 0.0), (2, "new", 1.0), (3, "new", 2.0), (1, "closed", 3.0))
    assert max_open_connections(states) == 3


def test_connection_counts_of_an_empty_table_are_zero():
    assert max_open_connections(pd.DataFrame()) == 0
    assert connections_opened(pd.DataFrame()) == 0
    assert max_open_connections(_states()) == 0 and connections_opened(_states()) == 0


# -- first_access_at -----------------------------------------------------------------------------


def test_first_access_at_is_the_earliest_handler_start_of_that_request():
    access = pd.DataFrame({"request_id": ["a", "b", "a"], "handler_start": [3.0, 1.0, 2.0]})
    assert first_access_at(access, "a") == 2.0
    assert type(first_access_at(access, "b")) is float


def test_first_access_at_of_a_request_the_server_never_ran_is_none():
    access = pd.DataFrame({"request_id": ["a"], "handler_start": [1.0]})
    assert first_access_at(access, "ghost") is None
    assert first_access_at(pd.DataFrame(columns=["request_id", "handler_start"]), "a") is None


# -- outcome_rate --------------------------------------------------------------------------------


def test_outcome_rate_is_the_share_of_requests_with_that_outcome():
    req = _requests(("ok", 0.1), ("timeout", 10.0), ("ok", 0.1), ("504", 60.0))
    assert outcome_rate(req, "ok") == 0.5
    assert outcome_rate(req, "timeout") == 0.25
    assert outcome_rate(req, "502") == 0.0


def test_outcome_rate_of_no_requests_is_zero():
    assert outcome_rate(_requests(), "ok") == 0.0
    assert outcome_rate(pd.DataFrame(), "ok") == 0.0
