"""Traffic patterns: what the clients of one real-load-balancer scenario do, and when.

Theory of operation
-------------------
A pattern is a function ``(rig, scenario, times) -> Plan``: it sends requests
through the rig's load-balancer instances (``scenario.nodes``) on the
schedule it describes, waits only on the rig's records (bounded) or on the
schedule itself, and returns a :class:`~keepalive_lab.reallb.scenario.Plan`
naming the requests that needed a server connection of their own (the
*victims*, whose fate decides ``starved`` or ``served``). Durations come from
:class:`~keepalive_lab.reallb.times.RealLBTimes`, in lab (wall-clock) seconds.

``two_lbs``
    client 1 through the first instance, then ``gap`` later client 2 through
    the second: the autoscaling case;
``two_conns``
    the same through one instance, on two client connections;
``client_close``
    ``two_lbs``, but client 1 sends ``Connection: close`` and its connection
    ends with the response: whether the load balancer closes its server
    connection too;
``overlap``
    client 2 sends while the server is running client 1's request;
``workers``
    one nginx with two workers: after client 1, fresh client connections
    until one is on the same worker and one on the other, each then sends;
``health``
    a holder client keeps the first instance's connection busy, a probe
    client sends through the second, health-checked, instance;
``idle``
    one request through the one instance, then nothing until the server's
    connection from the load balancer closes (bounded by Go's idle timeout):
    how long the load balancer keeps an idle server connection, and who
    closes it (:meth:`~keepalive_lab.reallb.rig.RealRig.settle_sockets`
    records the kernel's view of the close).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Callable

from keepalive_lab.lab.traffic import Direct, SerialClient
from keepalive_lab.reallb.rig import RealRig
from keepalive_lab.reallb.scenario import Plan, Scenario
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.records import ConnState

__all__ = ["PATTERNS"]


def _two_clients(rig: RealRig, sc: Scenario, t: RealLBTimes, same_lb: bool, close_first: bool = False) -> Plan:
    first = sc.nodes[0]
    second = first if same_lb else sc.nodes[1]
    c1, c2 = rig.new_client(), rig.new_client()
    sent = rig.now()
    rig.send(c1, "client-1", first, "client-1-0", close=close_first)
    rig.wait_until(sent + t.gap)  # the schedule: client 2 sends `gap` after client 1 did
    rig.send(c2, "client-2", second, "client-2-0")
    return Plan(["client-2-0"], {"client 1 sent Connection: close": True} if close_first else {})


def _overlap(rig: RealRig, sc: Scenario, t: RealLBTimes) -> Plan:
    # The rig holds client 1's request in the handler (rig.hold) until client 2's request has reached
    # the load balancer and it has acted on it: a new connection in the server's accept queue, or,
    # failing that within the rig's bound, nothing. Both requests are then truly in flight at once.
    node = sc.nodes[0]
    c1, c2 = rig.new_client(), rig.new_client()
    first = threading.Thread(target=rig.send, args=(c1, "client-1", node, "client-1-0"), daemon=True)
    first.start()
    in_flight = rig.wait_state(ConnState.ACTIVE, 1, timeout=t.lb_timeout + 1.0)
    second = threading.Thread(target=rig.send, args=(c2, "client-2", node, "client-2-0"), daemon=True)
    sent = time.monotonic()
    second.start()
    queued = rig.queue.wait_for(lambda qs: any(q.at > sent and q.length > 0 for q in qs), rig.hold_max)
    rig.release()
    first.join(t.client_timeout + 1.0)
    second.join(t.client_timeout + 1.0)
    return Plan(["client-2-0"], {"first_in_flight": in_flight, "second_connection_queued": queued})


def _workers(rig: RealRig, sc: Scenario, t: RealLBTimes) -> Plan:
    node = sc.nodes[0]
    c1 = rig.new_client()
    holder_worker = rig.worker_of(c1, node)
    rig.send(c1, "client-1", node, "client-1-0")
    same = other = None
    workers: dict[str, str] = {"client-1": holder_worker}
    for _ in range(32):  # new client connections until one lands on each worker
        client = rig.new_client()
        worker = rig.worker_of(client, node)
        if worker == holder_worker and same is None:
            same = client
        elif worker != holder_worker and other is None:
            other, workers["client-other"] = client, worker
        else:
            client.close()
        if same is not None and other is not None:
            break
    victims = []
    if same is not None:
        workers["client-same"] = holder_worker
        rig.send(same, "client-same", node, "client-same-0")
    if other is not None:
        rig.send(other, "client-other", node, "client-other-0")
        victims.append("client-other-0")
    return Plan(victims, {"workers": workers})


HOLDER_SERVED_BY = 0.5  # seconds into a run by which the health pattern's holder has its first answer, normally


def _health(rig: RealRig, sc: Scenario, t: RealLBTimes) -> Plan:
    holder_node, probe_node = sc.nodes
    holder = SerialClient(
        "holder", Direct(rig.url(holder_node), holder_node), rig.requests, timeout=t.client_timeout,
        gaps=itertools.repeat(t.hold_gap), duration=t.hold_for, stop=rig.stop,
    ).start()  # fmt: skip
    # The probe starts once the holder's first request has been served. On an idle machine that is
    # within a few hundred milliseconds; when a busy one serves it later, the slot is freed later too,
    # and the probe's end moves by as much, so that it still sees the server come back UP.
    rig.requests.wait_for(lambda rs: any(r.client == "holder" for r in rs), t.client_timeout + 1.0)
    late = max(0.0, rig.now() - HOLDER_SERVED_BY)
    probe = SerialClient(
        "probe", Direct(rig.url(probe_node), probe_node), rig.requests, timeout=t.client_timeout,
        gaps=itertools.repeat(t.probe_gap), duration=max(0.0, t.probe_until + late - rig.now()), stop=rig.stop,
    ).start()  # fmt: skip
    holder.join(t.hold_for + t.client_timeout + 2.0)
    probe.join(t.probe_until + late + t.client_timeout + 2.0)
    return Plan([], {})


def _idle(rig: RealRig, sc: Scenario, t: RealLBTimes) -> Plan:
    node = sc.nodes[0]
    client = rig.new_client()  # stays open: the load balancer keeps it for client_keepalive
    rig.send(client, "client-1", node, "client-1-0")
    # The server's connection from the load balancer closes: the load balancer closed it, or Go did at
    # its idle timeout. The bound leaves a busy machine a second past that timeout.
    closed = rig.wait_state(ConnState.CLOSED, 1, timeout=t.read_timeout + 1.0)
    served = rig.access.records()
    if served:
        rig.settle_sockets(served[0].remote_addr)
    return Plan([], {"server connection closed within the bound": closed})


PATTERNS: dict[str, Callable[[RealRig, Scenario, RealLBTimes], Plan]] = {
    "two_lbs": lambda rig, sc, t: _two_clients(rig, sc, t, same_lb=False),
    "two_conns": lambda rig, sc, t: _two_clients(rig, sc, t, same_lb=True),
    "client_close": lambda rig, sc, t: _two_clients(rig, sc, t, same_lb=False, close_first=True),
    "overlap": _overlap,
    "workers": _workers,
    "health": _health,
    "idle": _idle,
}
