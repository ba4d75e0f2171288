"""The testbed's own machinery: the fleet's timetable, open-loop traffic, and the time scale."""

from __future__ import annotations

import pytest
from keepalive_lab.lab.testbed import Testbed
from keepalive_lab.lab.timescale import TimeScale

SCALE = TimeScale(20)


@pytest.mark.slow  # 20 article seconds: a whole second of lab time by construction
def test_the_fleet_follows_its_timetable():
    with Testbed(SCALE) as bed:
        bed.fleet.scale_out("LB1")
        thread = bed.schedule([(20.0, "scale_in", "LB2"), (10.0, "scale_out", "LB2")])
        thread.join(5.0)
        assert not thread.is_alive(), "the timetable was not done in time"  # not cut short by the testbed's exit
    events = bed.tables()["scale_events"]
    assert list(zip(events["event"], events["node"])) == [("scale_out", "LB1"), ("scale_out", "LB2"), ("scale_in", "LB2")]
    times = [SCALE.article(t) for t in events["at"]]
    assert 10.0 <= times[1] < 12.0 and 20.0 <= times[2] < 22.0  # never early; late only by scheduling
    assert bed.fleet.live == []  # closed with the testbed


def test_a_timetable_with_an_unknown_event_is_refused():
    with Testbed(SCALE) as bed:
        with pytest.raises(ValueError, match="unknown fleet event"):
            bed.schedule([(1.0, "reboot", "LB1")])


@pytest.mark.slow  # 20 article seconds of traffic, then its timeouts: over a second of lab time
def test_open_loop_traffic_keeps_its_rate_whatever_happens_to_earlier_requests():
    with Testbed(SCALE) as bed:
        bed.fleet.scale_out("LB1")
        bed.fleet.scale_out("LB2")  # LB2's requests starve: open-loop traffic must not slow down for them
        client = bed.open_loop_client("load", rate=2.0, duration=20.0, timeout=5.0)
        client.join(SCALE.lab(20.0 + 5.0) + 5)
        assert not client.thread.is_alive(), "the open-loop client did not finish in time"
    requests = bed.tables()["requests"]
    assert len(requests) == 40  # 2 per article second for 20 s
    starts = sorted(SCALE.article(t) for t in requests["start"])
    assert starts[-1] - starts[0] < 21.0  # started on time, not after the timeouts
    assert (requests["outcome"] == "timeout").sum() > 0 and (requests["outcome"] == "ok").sum() > 0
