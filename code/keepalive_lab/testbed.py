"""A testbed: the server, its observers, a fleet of load-balancer nodes and clients, torn down as one.

Theory of operation
-------------------
An experiment describes its server with a :class:`ServerSpec` and its nodes
with a :class:`NodeSpec`, both in **article seconds**; the testbed converts
them with the experiment's :class:`~keepalive_lab.timescale.TimeScale`. Inside
``with Testbed(...) as bed`` everything runs on 127.0.0.1 with real threads
and sockets; on the way out (also after an exception or Ctrl-C) clients are
stopped, nodes, sampler and server closed, in that order, and no thread that
the testbed started is left running.

Every actor appends records to a recorder; :meth:`Testbed.tables` turns them
into DataFrames with times in lab seconds since the testbed started (``t``,
``start``, ``end``...).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, replace

import pandas as pd

from .balancer import Fleet, NodeConfig
from .fixes import IdleCuller, WorkLimitedHandler
from .handlers import ArticleHandler
from .limit import LimitListener
from .netconn import listen
from .observe import QueueSampler, WorkTracer
from .recorder import Recorder, to_frame
from .server import Server
from .timescale import ARTICLE, TimeScale
from .traffic import Direct, OpenLoopClient, SerialClient

__all__ = ["ServerSpec", "NodeSpec", "Testbed"]


@dataclass(frozen=True)
class ServerSpec:
    """The Go program's settings, durations in article seconds."""

    limit: int = 1  # LimitListener n; 0: no LimitListener
    read_timeout: float = ARTICLE.read_timeout
    write_timeout: float = ARTICLE.write_timeout
    idle_timeout: float = 0.0  # 0: falls back to read_timeout, as in Go
    keep_alives: bool = True  # False: SetKeepAlivesEnabled(false)
    conn_close: bool = False  # the handler answers Connection: close
    work_limit: int = 0  # > 0: a semaphore of this size around the handler's work
    cull_idle: bool = False  # close the longest-idle connection while another waits (not Go)
    handler_latency: float = ARTICLE.handler_latency

    def with_(self, **changes) -> "ServerSpec":
        return replace(self, **changes)


@dataclass(frozen=True)
class NodeSpec:
    """A load-balancer node's settings, durations in article seconds."""

    mode: str = "pool"
    timeout: float = ARTICLE.lb_idle_timeout
    max_idle: int | None = None


# Python hands the GIL between threads every 5 ms by default: a thread woken by a socket can wait
# that long, which would show up as latency. While any testbed runs, switch every 0.5 ms.
_SWITCH_INTERVAL = 0.0005
_switching_lock = threading.Lock()
_switching_users = 0
_saved_interval = sys.getswitchinterval()


def _fine_switching(on: bool) -> None:
    global _switching_users, _saved_interval
    with _switching_lock:
        if on:
            if _switching_users == 0:
                _saved_interval = sys.getswitchinterval()
                sys.setswitchinterval(_SWITCH_INTERVAL)
            _switching_users += 1
        else:
            _switching_users -= 1
            if _switching_users == 0:
                sys.setswitchinterval(_saved_interval)


class Testbed:
    """Server + observers + fleet + clients on loopback; use as a context manager."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        scale: TimeScale,
        server: ServerSpec = ServerSpec(),
        node: NodeSpec = NodeSpec(),
        *,
        routing: str = "weighted",
        seed: int = 0,
        sample_interval: float = 0.01,
    ) -> None:
        self.scale = scale
        self.spec = server
        self.node_spec = node
        self.requests: Recorder = Recorder()
        self.access: Recorder = Recorder()
        self.states: Recorder = Recorder()
        self.lb_log: Recorder = Recorder()
        self.upstream: Recorder = Recorder()
        self.queue: Recorder = Recorder()
        self.work: Recorder = Recorder()
        self.stop = threading.Event()
        self.clients: list[SerialClient | OpenLoopClient] = []
        self._schedules: list[threading.Thread] = []
        self._routing = routing
        self._seed = seed
        self._sample_interval = sample_interval
        self._started: list = []

    # -- set-up and tear-down ------------------------------------------------

    def __enter__(self) -> "Testbed":
        _fine_switching(True)
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._teardown()

    def _start(self) -> None:
        lab = self.scale.lab
        spec = self.spec
        handler = WorkTracer(ArticleHandler(latency=lab(spec.handler_latency), conn_close=spec.conn_close), self.work)
        if spec.work_limit:
            handler = WorkLimitedHandler(handler, spec.work_limit)
        self.server = Server(
            handler,
            read_timeout=lab(spec.read_timeout),
            write_timeout=lab(spec.write_timeout),
            idle_timeout=lab(spec.idle_timeout),
            conn_state=self.states,
            access_log=self.access,
        )
        if not spec.keep_alives:
            self.server.set_keep_alives_enabled(False)
        tcp = listen()
        self._tcp = tcp
        self.port = tcp.port
        self.listener = LimitListener(tcp, spec.limit) if spec.limit else tcp
        self.t0 = time.monotonic()
        self._serve_thread = threading.Thread(target=self.server.serve, args=(self.listener,), daemon=True)
        self._serve_thread.start()
        self._started.append("server")
        if spec.cull_idle:
            self.culler = IdleCuller(self.server, self._tcp.sock).start()
            self._started.append("culler")
        self.sampler = QueueSampler(self._tcp.sock, self.queue, self._sample_interval).start()
        self._started.append("sampler")
        config = NodeConfig(self.node_spec.mode, lab(self.node_spec.timeout), self.node_spec.max_idle)
        self.fleet = Fleet(
            self.port, config, log=self.lb_log, upstream_log=self.upstream, routing=self._routing, seed=self._seed
        )
        self._started.append("fleet")

    def _teardown(self) -> None:
        try:
            self._stop_everything()
        finally:
            _fine_switching(False)

    def _stop_everything(self) -> None:
        self.stop.set()
        for thread in self._schedules:
            thread.join(5.0)
        for client in self.clients:
            client.join(self.scale.lab(ARTICLE.client_timeout) + 5)
        if "fleet" in self._started:
            self.fleet.close()
        if "culler" in self._started:
            self.culler.stop()
        if "sampler" in self._started:
            self.sampler.stop()
        if "server" in self._started:
            self.server.close()
            self.listener.close()
            self._serve_thread.join(5.0)
        self._started.clear()

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

    def schedule(self, events: list[tuple[float, str, str]]) -> threading.Thread:
        """Scale the fleet on a timetable: ``(article second, "scale_out" | "scale_in", node)``.

        A thread carries the events out in time order, and stops early with the testbed.
        """
        for _, kind, _ in events:
            if kind not in ("scale_out", "scale_in"):
                raise ValueError(f"unknown fleet event {kind!r}")

        def follow() -> None:
            for at, kind, node in sorted(events):
                self.sleep_until(at)
                if self.stop.is_set():
                    return
                self.fleet.scale_out(node) if kind == "scale_out" else self.fleet.scale_in(node)

        thread = threading.Thread(target=follow, name="fleet-schedule", daemon=True)
        self._schedules.append(thread)
        thread.start()
        return thread

    # -- results ------------------------------------------------------------------

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every record as a DataFrame, times in lab seconds since the start."""
        t0 = self.t0
        shift = {
            "requests": ("start", "end"),
            "access": ("handler_start", "handler_end"),
            "states": ("at",),
            "lb": ("start", "end"),
            "upstream": ("at",),
            "queue": ("at",),
            "work": ("start", "end"),
        }
        frames = {
            "requests": to_frame(self.requests.records()),
            "access": to_frame(self.access.records()),
            "states": to_frame(self.states.records()),
            "lb": to_frame(self.lb_log.records()),
            "upstream": to_frame(self.upstream.records()),
            "queue": to_frame(self.queue.records()),
            "work": to_frame(self.work.records()),
        }
        for name, columns in shift.items():
            for column in columns:
                if column in frames[name]:
                    frames[name][column] = frames[name][column] - t0
        if "start" in frames["requests"]:
            frames["requests"]["latency"] = frames["requests"]["end"] - frames["requests"]["start"]
        frames["scale_events"] = pd.DataFrame(
            [{"at": at - t0, "event": kind, "node": node} for at, kind, node in self.fleet.events]
        )
        return frames
