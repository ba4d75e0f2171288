"""A testbed: the server, its observers, a fleet of load-balancer nodes and clients, torn down as one.

Theory of operation
-------------------
An experiment describes its server with a
:class:`~keepalive_lab.lab.launch.ServerConfig` and its nodes with a
:class:`~keepalive_lab.lbmodel.nodes.NodeConfig`, both in **article
seconds**; the testbed converts them with the experiment's
:class:`~keepalive_lab.lab.timescale.TimeScale`. Inside ``with Testbed(...)
as bed`` everything runs on 127.0.0.1 with real threads and sockets. The
parts are started onto one ``ExitStack``, so on the way out (also after an
exception or Ctrl-C) they stop in reverse order: clients, fleet, sampler,
server, and no thread that the testbed started is left running.

Every actor appends records to the run's
:class:`~keepalive_lab.lab.recordings.Recordings`; :meth:`Testbed.tables`
turns them into DataFrames with times in lab seconds since the start.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Iterator

import pandas as pd

from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.observers import QueueSampler, WorkTracer
from keepalive_lab.lab.recordings import Recordings
from keepalive_lab.lab.stacked import Stacked
from keepalive_lab.lab.timescale import ARTICLE, TimeScale
from keepalive_lab.lab.traffic import Direct, OpenLoopClient, SerialClient
from keepalive_lab.lbmodel.fleet import Fleet, FleetEvent, Routing
from keepalive_lab.lbmodel.nodes import NodeConfig
from keepalive_lab.records import Recorder

__all__ = ["Testbed", "INCIDENT_SERVER", "INCIDENT_NODE", "fine_switching"]

# The incident's server and load-balancer nodes, in article seconds.
INCIDENT_SERVER = ServerConfig(
    read_timeout=ARTICLE.read_timeout, write_timeout=ARTICLE.write_timeout, latency=ARTICLE.handler_latency
)
INCIDENT_NODE = NodeConfig(timeout=ARTICLE.lb_idle_timeout)

# Python hands the GIL between threads every 5 ms by default: a thread woken by a socket can wait
# that long, which would show up as latency. While any testbed runs, switch every 0.5 ms.
_SWITCH_INTERVAL = 0.0005
_switching_lock = threading.Lock()
_switching_users = 0
_saved_interval = sys.getswitchinterval()


@contextlib.contextmanager
def fine_switching() -> Iterator[None]:
    """Switch threads every 0.5 ms for the ``with`` block (shared by concurrent testbeds)."""
    global _switching_users, _saved_interval
    with _switching_lock:
        if _switching_users == 0:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(_SWITCH_INTERVAL)
        _switching_users += 1
    try:
        yield
    finally:
        with _switching_lock:
            _switching_users -= 1
            if _switching_users == 0:
                sys.setswitchinterval(_saved_interval)


class Testbed(Stacked):
    """Server + observers + fleet + clients on loopback; use as a context manager."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        scale: TimeScale,
        server: ServerConfig = INCIDENT_SERVER,
        node: NodeConfig = INCIDENT_NODE,
        *,
        routing: Routing = Routing.WEIGHTED,
        seed: int = 0,
        sample_interval: float = 0.01,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.config = server
        self.node_config = node
        self.rec = Recordings("requests", "access", "states", "lb", "upstream", "queue", "work")
        self.stop = threading.Event()
        self.clients: list[SerialClient | OpenLoopClient] = []
        self._schedules: list[threading.Thread] = []
        self._routing = routing
        self._seed = seed
        self._sample_interval = sample_interval

    # The recorders, by the names the experiments use.
    requests = property(lambda self: self.rec["requests"])
    access = property(lambda self: self.rec["access"])
    states = property(lambda self: self.rec["states"])
    lb_log = property(lambda self: self.rec["lb"])
    upstream = property(lambda self: self.rec["upstream"])
    queue = property(lambda self: self.rec["queue"])
    work = property(lambda self: self.rec["work"])

    # -- set-up and tear-down (Stacked: entering calls _start, leaving closes the stack) --------

    def _start(self) -> None:
        stack = self._stack
        stack.enter_context(fine_switching())
        work: Recorder = self.work
        self.running = stack.enter_context(
            start_server(
                self.config.scaled(self.scale.lab),
                wrap=lambda handler: WorkTracer(handler, work),
                conn_state=self.states,
                access_log=self.access,
            )
        )
        self.server = self.running.server
        self.port = self.running.port
        self.rec.start_clock()
        stack.enter_context(QueueSampler(self.running.tcp.sock, self.queue, self._sample_interval))
        self.fleet = stack.enter_context(
            Fleet(self.port, self.node_config.scaled(self.scale.lab), log=self.lb_log, upstream_log=self.upstream,
                  routing=self._routing, seed=self._seed)
        )  # fmt: skip
        stack.callback(self._stop_clients)

    def _stop_clients(self) -> None:
        self.stop.set()
        for thread in self._schedules:
            thread.join(5.0)
        for client in self.clients:
            client.join(self.scale.lab(ARTICLE.client_timeout) + 5)

    @property
    def t0(self) -> float:
        return self.rec.t0

    # -- actors ----------------------------------------------------------------

    def serial_client(self, name: str, *, gaps, duration: float, timeout: float = ARTICLE.client_timeout, node=None):
        """A serial client, durations in article seconds; routed by the fleet unless ``node`` is given."""
        lab = self.scale.lab
        router = self.fleet if node is None else Direct(self.fleet.node(node).url, node)
        client = SerialClient(
            name, router, self.requests, timeout=lab(timeout), gaps=(lab(g) for g in gaps), duration=lab(duration),
            stop=self.stop,
        )  # fmt: skip
        self.clients.append(client)
        return client.start()

    def open_loop_client(self, name: str, *, rate: float, duration: float, timeout: float = ARTICLE.client_timeout):
        """Requests at ``rate`` per article second for ``duration`` article seconds."""
        lab = self.scale.lab
        client = OpenLoopClient(
            name, self.fleet, self.requests, timeout=lab(timeout), rate=rate * self.scale.factor,
            duration=lab(duration), stop=self.stop,
        )  # fmt: skip
        self.clients.append(client)
        return client.start()

    def wait_clients(self, timeout: float) -> None:
        """Wait (lab seconds) for the clients to finish on their own."""
        deadline = time.monotonic() + timeout
        for client in self.clients:
            client.join(max(0.0, deadline - time.monotonic()))

    def sleep_until(self, article_t: float) -> None:
        """Wait until ``article_t`` article seconds after the start (a schedule, not a sync)."""
        self.stop.wait(max(0.0, self.t0 + self.scale.lab(article_t) - time.monotonic()))

    def schedule(self, events: list[tuple[float, FleetEvent, str]]) -> threading.Thread:
        """Scale the fleet on a timetable: ``(article second, scale_out | scale_in, node)``.

        A thread carries the events out in time order, and stops early with the testbed.
        """
        known = {e.value for e in FleetEvent}
        for _, kind, _ in events:
            if kind not in known:
                raise ValueError(f"unknown fleet event {kind!r}; the events are {', '.join(sorted(known))}")
        timetable = sorted((at, FleetEvent(kind), node) for at, kind, node in events)

        def follow() -> None:
            for at, kind, node in timetable:
                self.sleep_until(at)
                if self.stop.is_set():
                    return
                self.fleet.apply(kind, node)

        thread = threading.Thread(target=follow, name="fleet-schedule", daemon=True)
        self._schedules.append(thread)
        thread.start()
        return thread

    # -- results ------------------------------------------------------------------

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every record as a DataFrame, times in lab seconds since the start."""
        frames = self.rec.tables()
        if "start" in frames["requests"]:
            frames["requests"]["latency"] = frames["requests"]["end"] - frames["requests"]["start"]
        frames["scale_events"] = pd.DataFrame(
            [{"at": at - self.t0, "event": kind.value, "node": node} for at, kind, node in self.fleet.events]
        )
        return frames
