"""Load-balancer nodes and the fleet: pooling, 504s, modes, routing and demotion."""

from __future__ import annotations

import threading

import httpx
import pytest
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.kernel import accept_queue
from keepalive_lab.lbmodel.fleet import Fleet
from keepalive_lab.lbmodel.nodes import NodeConfig
from keepalive_lab.records import Recorder

from .conftest import WAIT


@pytest.fixture
def fleet_factory(lab_factory):
    fleets = []

    def make(config: NodeConfig, limit: int = 1, latency: float = 0.0, read_timeout: float = 5.0, **fleet_kw):
        lab = lab_factory(ArticleHandler(latency=latency), limit=limit, read_timeout=read_timeout)
        lb_log, upstream = Recorder(), Recorder()
        fleet = Fleet(lab.port, config, log=lb_log, upstream_log=upstream, **fleet_kw)
        fleets.append(fleet)
        return lab, fleet, lb_log, upstream

    yield make
    for fleet in fleets:
        fleet.close()


def _get(url: str, rid: str, timeout: float = WAIT) -> httpx.Response:
    with httpx.Client(timeout=timeout, trust_env=False, verify=False) as client:
        return client.get(url, headers={"X-Request-Id": rid})


def test_the_pool_reuses_an_idle_connection(fleet_factory):
    lab, fleet, lb_log, upstream = fleet_factory(NodeConfig(timeout=2.0))
    node = fleet.scale_out("LB1")
    for n in range(3):
        assert _get(node.url, f"r{n}").status_code == 200
    records = lb_log.records()
    assert [r.reused for r in records] == [False, True, True]
    assert len({r.upstream_conn for r in records}) == 1
    assert {r.remote_addr for r in lab.logged(3)} == {records[0].upstream_conn}  # same socket pair


def test_a_busy_pool_opens_a_new_connection(fleet_factory):
    lab, fleet, lb_log, upstream = fleet_factory(NodeConfig(timeout=2.0), limit=2, latency=0.3)
    node = fleet.scale_out("LB1")
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(_get(node.url, f"r{n}"))) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert [r.status_code for r in results] == [200, 200]
    assert len({r.upstream_conn for r in lb_log.records()}) == 2
    assert [e.event for e in upstream.records()].count("open") == 2


def test_a_response_that_never_comes_is_a_504(fleet_factory):
    lab, fleet, lb_log, upstream = fleet_factory(NodeConfig(timeout=0.3), read_timeout=30)
    lb1 = fleet.scale_out("LB1", NodeConfig(timeout=10.0))  # keeps its idle connection longer than LB2 waits
    lb2 = fleet.scale_out("LB2")
    assert _get(lb1.url, "holds").status_code == 200  # LB1's idle connection now holds the one slot
    response = _get(lb2.url, "starved")
    assert response.status_code == 504
    (record,) = [r for r in lb_log.records() if r.node == "LB2"]
    assert record.status == 504 and 0.3 <= record.end - record.start < 2.0
    assert "timeout" in [e.event for e in upstream.records() if e.node == "LB2"]


def test_idle_connections_expire_at_the_node_timeout(fleet_factory):
    lab, fleet, lb_log, upstream = fleet_factory(NodeConfig(timeout=0.3), read_timeout=30)
    node = fleet.scale_out("LB1")
    assert _get(node.url, "r0").status_code == 200
    assert upstream.wait_for(lambda es: any(e.event == "expire" for e in es), WAIT)
    assert lab.wait_closed(1)  # and the server saw it go: the slot is free again


def test_a_connection_the_server_closed_is_not_reused(fleet_factory):
    lab, fleet, lb_log, upstream = fleet_factory(NodeConfig(timeout=10.0), read_timeout=0.2)
    node = fleet.scale_out("LB1")
    assert _get(node.url, "r0").status_code == 200
    assert lab.wait_closed(1)  # Go's idle timeout closed the pooled connection
    assert _get(node.url, "r1").status_code == 200
    events = [e.event for e in upstream.records()]
    assert events == ["open", "server_closed", "open"]
    assert [r.reused for r in lb_log.records()] == [False, False]


def test_no_keepalive_mode_opens_a_connection_per_request(fleet_factory):
    lab, fleet, lb_log, upstream = fleet_factory(NodeConfig(mode="no-keepalive", timeout=2.0), read_timeout=30)
    lb1, lb2 = fleet.scale_out("LB1"), fleet.scale_out("LB2")
    for n in range(2):
        assert _get(lb1.url, f"a{n}").status_code == 200
        assert _get(lb2.url, f"b{n}").status_code == 200  # nobody holds the slot between requests
    assert [r.proto for r in lab.logged(4)] == ["HTTP/1.0"] * 4
    assert len({r.upstream_conn for r in lb_log.records()}) == 4


def test_l4_mode_pins_each_client_connection_to_one_server_connection(fleet_factory):
    lab, fleet, lb_log, upstream = fleet_factory(NodeConfig(mode="l4", timeout=2.0), read_timeout=30)
    node = fleet.scale_out("LB1")
    with httpx.Client(timeout=WAIT, trust_env=False, verify=False) as client:
        for n in range(3):
            assert client.get(node.url, headers={"X-Request-Id": f"r{n}"}).status_code == 200
        assert len({r.conn_id for r in lab.logged(3)}) == 1
        with httpx.Client(timeout=0.3, trust_env=False, verify=False) as other:
            with pytest.raises(httpx.TimeoutException):  # another client connection: its own server
                other.get(node.url)  # connection, queued behind the first one's
            assert accept_queue(lab.port) == 1


def test_round_robin_alternates(fleet_factory):
    lab, fleet, *_ = fleet_factory(NodeConfig(), routing="round_robin")
    fleet.scale_out("LB1")
    fleet.scale_out("LB2")
    assert [fleet.pick()[0] for _ in range(4)] == ["LB1", "LB2", "LB1", "LB2"]


def test_a_failing_node_is_demoted_fast_and_recovers_slowly(fleet_factory):
    lab, fleet, *_ = fleet_factory(NodeConfig(), routing="weighted", seed=1)
    fleet.scale_out("LB1")
    fleet.scale_out("LB2")
    fleet.report("LB2", "timeout")
    fleet.report("LB2", "timeout")
    assert fleet.weights() == pytest.approx({"LB1": 1.0, "LB2": 0.04})
    picks = [fleet.pick()[0] for _ in range(500)]
    assert picks.count("LB2") < 50  # about 4 %
    fleet.report("LB2", "ok")
    assert fleet.weights()["LB2"] == pytest.approx(0.08)


def test_scale_in_stops_routing_and_stops_the_node(fleet_factory):
    lab, fleet, *_ = fleet_factory(NodeConfig())
    fleet.scale_out("LB1")
    lb2 = fleet.scale_out("LB2")
    fleet.scale_in("LB2")
    assert fleet.live == ["LB1"]
    with pytest.raises(httpx.ConnectError):
        _get(lb2.url, "gone", timeout=1.0)
    assert [kind for _, kind, _ in fleet.events] == ["scale_out", "scale_out", "scale_in"]
