"""The one mapping from the article's seconds to lab seconds (lab/timescale.py)."""

from __future__ import annotations

import pytest
from keepalive_lab.lab.timescale import ARTICLE, DEFAULT_SCALE, ArticleTimes, TimeScale


@pytest.mark.parametrize("factor", [float("nan"), 0.0, 1e-300, 0.5, -20.0, 1000.5, float("inf")])
def test_a_time_scale_outside_one_to_a_thousand_is_refused(factor):
    with pytest.raises(ValueError, match="the time scale must be between 1 and 1000"):
        TimeScale(factor)


@pytest.mark.parametrize("factor", [1.0, 20.0, 1000.0])
def test_a_time_scale_from_one_to_a_thousand_is_accepted(factor):
    assert TimeScale(factor).factor == factor


def test_lab_and_article_seconds_convert_both_ways():
    scale = TimeScale(20)
    assert scale.lab(30.0) == 1.5
    assert scale.article(1.5) == 30.0
    assert scale.article(scale.lab(60.0)) == pytest.approx(60.0)


def test_the_default_scale_runs_twenty_times_faster():
    assert DEFAULT_SCALE == TimeScale(20.0)
    assert DEFAULT_SCALE.describe() == "1 lab second = 20 article seconds"
    assert TimeScale(2.5).describe() == "1 lab second = 2.5 article seconds"


def test_the_table_shows_each_incident_duration_on_both_clocks():
    table = TimeScale(20).table()
    assert list(table.columns) == ["duration", "article (s)", "lab (s)"]
    assert table["article (s)"].tolist() == [30.0, 30.0, 60.0, 0.2, 10.0]
    assert table["lab (s)"].tolist() == [1.5, 1.5, 3.0, 0.01, 0.5]
    assert table["duration"].iloc[0] == "Go ReadTimeout (also the idle timeout)"
    assert table["duration"].iloc[2] == "load balancer idle timeout (504 after it)"


def test_the_table_rounds_lab_seconds_to_four_places_and_takes_other_times():
    times = ArticleTimes(read_timeout=1.0, write_timeout=2.0, lb_idle_timeout=3.0, handler_latency=0.001,
                         client_timeout=4.0)  # fmt: skip
    table = TimeScale(3).table(times)
    assert table["lab (s)"].tolist() == [0.3333, 0.6667, 1.0, 0.0003, 1.3333]


def test_the_article_times_are_the_incidents():
    assert ARTICLE.rows() == [("read_timeout", 30.0), ("write_timeout", 30.0), ("lb_idle_timeout", 60.0),
                              ("handler_latency", 0.2), ("client_timeout", 10.0)]  # fmt: skip
    assert ARTICLE.client_timeout < ARTICLE.lb_idle_timeout  # the clients give up before the load balancer
