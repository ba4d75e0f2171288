"""The users' side (lab/traffic.py): one request and its record, serial and open-loop clients, pauses."""

from __future__ import annotations

import itertools
import socket
import threading

import pytest
from keepalive_lab.lab.httpclient import KeepAliveClient
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.lab.traffic import Direct, OpenLoopClient, SerialClient, jittered, outcome_of_status, send_one
from keepalive_lab.records import Outcome, Recorder, RequestRecord

from .conftest import WAIT


@pytest.fixture
def silent_port():
    """A port whose listener completes handshakes (the kernel does) but never accepts: nothing answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def refused_port():
    """A port that is bound but not listening: a connect gets RST, not a wait (and nobody else can take it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def _http(timeout: float = WAIT) -> KeepAliveClient:
    return KeepAliveClient(timeout)


class StopAfter:
    """A router with one destination that sets ``stop`` once ``n`` outcomes were reported."""

    def __init__(self, url: str, n: int, stop: threading.Event) -> None:
        self.url, self.n, self.stop = url, n, stop
        self.reports: list[tuple[str, Outcome]] = []

    def pick(self) -> tuple[str, str]:
        return "node-a", self.url

    def report(self, node: str, outcome: Outcome) -> None:
        self.reports.append((node, outcome))
        if len(self.reports) >= self.n:
            self.stop.set()


def _finished(client) -> bool:
    client.join(WAIT)
    return not client.thread.is_alive()


# -- outcome_of_status ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, outcome",
    [(200, Outcome.OK), (502, Outcome.BAD_GATEWAY), (503, Outcome.UNAVAILABLE), (504, Outcome.GATEWAY_TIMEOUT),
     (201, Outcome.ERROR), (404, Outcome.ERROR), (500, Outcome.ERROR), (0, Outcome.ERROR)],
)  # fmt: skip
def test_a_status_maps_to_the_outcome_a_client_reports(status, outcome):
    assert outcome_of_status(status) is outcome


def test_gateway_outcomes_compare_equal_to_their_status_text():
    assert outcome_of_status(504) == "504" and outcome_of_status(200) == "ok"


# -- send_one ------------------------------------------------------------------------------------


def test_an_answered_request_is_recorded_as_ok_with_its_status_and_id(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    records: Recorder = Recorder()
    with _http() as http:
        outcome = send_one(http, "alice", "alice-0", "LB1", lab.running.url, records)
    assert outcome is Outcome.OK
    (record,) = records.records()
    assert isinstance(record, RequestRecord)
    assert (record.request_id, record.client, record.node, record.status, record.detail) == (
        "alice-0", "alice", "LB1", 200, ""
    )  # fmt: skip
    assert record.outcome is Outcome.OK and 0 <= record.latency < WAIT
    (access,) = lab.logged(1)
    assert access.request_id == "alice-0"  # the X-Request-Id header reached the server


def test_extra_headers_go_with_the_request_but_never_replace_its_id(lab_factory):
    seen = []

    def handler(w, r):
        seen.append({k: r.header.get(k) for k in ("X-Request-Id", "X-Extra", "Connection")})
        w.write(b"ok")

    lab = lab_factory(handler)
    records: Recorder = Recorder()
    with _http() as http:
        headers = {"X-Extra": "1", "Connection": "close", "X-Request-Id": "forged"}
        assert send_one(http, "dave", "dave-0", "", lab.running.url, records, headers) is Outcome.OK
    assert seen == [{"X-Request-Id": "dave-0", "X-Extra": "1", "Connection": "close"}]
    assert headers == {"X-Extra": "1", "Connection": "close", "X-Request-Id": "forged"}  # the caller's dict untouched
    assert lab.wait_closed(1)  # Go closes after a request that says Connection: close


def test_a_request_nobody_answers_is_recorded_as_a_timeout(silent_port):
    records: Recorder = Recorder()
    with _http(timeout=0.2) as http:
        outcome = send_one(http, "bob", "bob-0", "", f"http://127.0.0.1:{silent_port}/", records)
    assert outcome is Outcome.TIMEOUT
    (record,) = records.records()
    assert record.status == 0 and record.detail.startswith("read: nothing for")
    assert 0.2 <= record.latency < WAIT


def test_a_refused_connection_is_recorded_as_an_error_with_its_reason(refused_port):
    records: Recorder = Recorder()
    with _http() as http:
        outcome = send_one(http, "carol", "carol-0", "", f"http://127.0.0.1:{refused_port}/", records)
    assert outcome is Outcome.ERROR
    (record,) = records.records()
    assert record.status == 0 and record.detail.startswith(f"connect to 127.0.0.1:{refused_port}:")
    assert "refused" in record.detail.lower()


# -- Direct --------------------------------------------------------------------------------------


def test_a_direct_router_always_picks_its_one_destination_and_ignores_reports():
    router = Direct("http://127.0.0.1:1/", "srv")
    assert [router.pick() for _ in range(3)] == [("srv", "http://127.0.0.1:1/")] * 3
    assert router.report("srv", Outcome.ERROR) is None
    assert router.pick() == ("srv", "http://127.0.0.1:1/")  # a failure does not demote the only node


def test_a_direct_router_names_no_node_by_default():
    assert Direct("http://x/").pick() == ("", "http://x/")


# -- SerialClient --------------------------------------------------------------------------------


def test_a_serial_client_stops_after_its_request_count(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    records: Recorder = Recorder()
    client = SerialClient("u", Direct(lab.running.url, "srv"), records, timeout=WAIT, gaps=itertools.repeat(0.0),
                          duration=60.0, max_requests=3).start()  # fmt: skip
    assert _finished(client)
    assert [r.request_id for r in records.records()] == ["u-0", "u-1", "u-2"]
    assert all(r.outcome is Outcome.OK and r.node == "srv" for r in records.records())
    assert sorted(a.request_id for a in lab.logged(3)) == ["u-0", "u-1", "u-2"]


def test_a_serial_client_stops_when_its_pauses_run_out(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    records: Recorder = Recorder()
    client = SerialClient("u", Direct(lab.running.url), records, timeout=WAIT, gaps=[0.0], duration=60.0).start()
    assert _finished(client)
    assert [r.request_id for r in records.records()] == ["u-0", "u-1"]  # a request, a pause, a request


def test_a_serial_client_sends_nothing_after_its_duration(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    records: Recorder = Recorder()
    client = SerialClient("u", Direct(lab.running.url), records, timeout=WAIT, gaps=itertools.repeat(0.02),
                          duration=0.3).start()  # fmt: skip
    assert _finished(client)
    starts = [r.start for r in records.records()]
    assert 2 <= len(starts) < 100  # it sent for a while, not 10,000 requests (which would take minutes)
    assert max(starts) - min(starts) < 0.3 + 0.5  # none started after the end, give or take a busy machine


def test_a_serial_client_whose_stop_is_set_sends_nothing(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    records: Recorder = Recorder()
    stop = threading.Event()
    stop.set()
    client = SerialClient("u", Direct(lab.running.url), records, timeout=WAIT, gaps=itertools.repeat(0.0),
                          duration=60.0, stop=stop).start()  # fmt: skip
    assert _finished(client)
    assert records.records() == [] and lab.states.records() == []


def test_a_stop_during_a_pause_ends_the_client_at_once(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    records: Recorder = Recorder()
    stop = threading.Event()
    router = StopAfter(lab.running.url, 1, stop)
    # The pause after the first request is 30 s: the client ends within WAIT only because the pause
    # (stop.wait) wakes as soon as stop is set.
    client = SerialClient("u", router, records, timeout=WAIT, gaps=itertools.repeat(30.0), duration=60.0,
                          stop=stop).start()  # fmt: skip
    assert stop.wait(WAIT)
    assert _finished(client)
    assert [r.request_id for r in records.records()] == ["u-0"]
    assert router.reports == [("node-a", Outcome.OK)]


# -- OpenLoopClient ------------------------------------------------------------------------------


def test_an_open_loop_client_sends_rate_times_duration_requests(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0), limit=0)
    records: Recorder = Recorder()
    client = OpenLoopClient("o", Direct(lab.running.url), records, timeout=WAIT, rate=40.0, duration=0.1).start()
    assert _finished(client)
    assert sorted(r.request_id for r in records.records()) == ["o-0", "o-1", "o-2", "o-3"]
    assert all(r.outcome is Outcome.OK for r in records.records())


def test_an_open_loop_client_whose_stop_is_set_sends_nothing(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0), limit=0)
    records: Recorder = Recorder()
    stop = threading.Event()
    stop.set()
    client = OpenLoopClient("o", Direct(lab.running.url), records, timeout=WAIT, rate=40.0, duration=1.0,
                            stop=stop).start()  # fmt: skip
    assert _finished(client)
    assert records.records() == []


# -- jittered ------------------------------------------------------------------------------------


def test_jittered_pauses_are_reproducible_from_their_seed():
    first = list(itertools.islice(jittered(1.0, 0.5, seed=7), 50))
    again = list(itertools.islice(jittered(1.0, 0.5, seed=7), 50))
    other = list(itertools.islice(jittered(1.0, 0.5, seed=8), 50))
    assert first == again
    assert first != other


def test_jittered_pauses_stay_within_mean_plus_or_minus_spread():
    pauses = list(itertools.islice(jittered(1.0, 0.5, seed=1), 500))
    assert all(0.5 <= p <= 1.5 for p in pauses)
    assert min(pauses) < 0.6 and max(pauses) > 1.4  # spread over the range, not one value


def test_jittered_pauses_never_go_below_zero():
    pauses = list(itertools.islice(jittered(0.1, 1.0, seed=3), 200))
    assert min(pauses) == 0.0  # clamped, not negative
    assert any(p > 0 for p in pauses)


def test_jittered_pauses_never_end():
    pauses = jittered(0.0, 0.0, seed=0)
    assert list(itertools.islice(pauses, 10_000)) == [0.0] * 10_000
