"""A rig: the lab server behind real HAProxy and nginx instances, recorded, torn down as one.

Theory of operation
-------------------
``with RealRig(lbs, server=..., times=...) as rig`` starts, in this order,
a private folder (:func:`~keepalive_lab.reallb.process.workspace`), the lab server in
this process (Go's ``Server`` + ``LimitListener``, :func:`~keepalive_lab.goserver.server.serving`),
a sampler of its accept queue, and one process per load-balancer instance,
each on a free loopback port with a config written for this run
(:mod:`keepalive_lab.reallb.config`). Clients are keep-alive clients whose requests go
through :func:`keepalive_lab.lab.traffic.send_one`, so every request becomes a
:class:`~keepalive_lab.records.RequestRecord` whose ``node`` is the instance
name (``"haproxy-1"``). HAProxy instances with a health check also get a
poller that reads the server's state from the instance's stats socket.
:meth:`RealRig.settle_sockets` records the kernel's view of the server's
connections (``/proc/net/tcp``, what ``ss -tan`` shows): which side of a
closed connection is in ``TIME-WAIT`` tells who closed it first.

On the way out, also after an exception or Ctrl-C, everything stops in the
reverse order: clients, pollers, load balancers (by PID), then their logs are
read into records before the folder goes, then the sampler and the server.

:meth:`RealRig.tables` returns DataFrames with times in lab seconds since
the rig started: ``requests`` (the columns of ``Testbed.tables()["requests"]``),
``lb`` (:class:`~keepalive_lab.records.BalancerRecord`), ``lb_timing`` (connect
and response times per request), ``access``, ``states``, ``queue``, ``health``,
``sockets`` (:class:`SocketSample`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Sequence

import pandas as pd

from keepalive_lab.goserver.server import Handler
from keepalive_lab.kernel import tcp_sockets
from keepalive_lab.lab.httpclient import KeepAliveClient
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.observers import QueueSampler
from keepalive_lab.lab.recordings import Recordings
from keepalive_lab.lab.stacked import Stacked
from keepalive_lab.lab.traffic import send_one
from keepalive_lab.reallb.config import HAProxySpec, LBSpec, NginxSpec, render
from keepalive_lab.reallb.logs import LBLogLine, balancer_records, join_server_side, parse_fields, parse_line
from keepalive_lab.reallb.process import LBProcess, LBStartError, find_binary, free_port, workspace
from keepalive_lab.reallb.stats import HealthSample, haproxy_server_status
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.records import AccessRecord, ConnState, Outcome, to_frame
from keepalive_lab.ticker import Ticker

__all__ = ["Instance", "RealRig", "MissingBinary", "SocketSample"]

_START_ATTEMPTS = 3
# TCP states a closing connection passes through on its way to TIME-WAIT or to nothing.
_CLOSING = frozenset({"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "LAST-ACK", "CLOSING", "CLOSE"})


@dataclass(frozen=True)
class SocketSample:
    """One socket of the server's port as the kernel listed it (``ss -tan``); ``side`` says whose it is."""

    TIMES: ClassVar[tuple[str, ...]] = ("at",)

    at: float
    side: str  # "server" (its local port is the server's), "peer" (a load balancer's end)
    local: str
    remote: str
    state: str  # "LISTEN", "ESTAB", "TIME-WAIT"...


class MissingBinary(RuntimeError):
    """haproxy or nginx is not installed (``make lbs`` installs both)."""


@dataclass
class Instance:
    """One running load-balancer instance."""

    node: str
    spec: LBSpec
    port: int
    folder: Path
    config: Path
    process: LBProcess
    stats_socket: Path | None = None
    lines: list[LBLogLine] = field(default_factory=list)
    output_text: str = ""  # everything it wrote (and nginx's error log), kept after the folder is gone

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class RealRig(Stacked):
    """The lab server behind real load balancers; a context manager."""

    def __init__(
        self,
        lbs: Sequence[tuple[str, LBSpec]],
        *,
        server: ServerConfig | None = None,
        times: RealLBTimes = RealLBTimes(),
        stop: threading.Event | None = None,
        sample_interval: float = 0.02,
        health_interval: float = 0.05,
        hold: str = "",
        hold_max: float = 0.5,
    ) -> None:
        super().__init__()
        for _, spec in lbs:
            if find_binary(spec.kind) is None:
                raise MissingBinary(f"{spec.kind} is not installed (make lbs)")
        self.lb_specs = list(lbs)
        # By default, the article's program at this run's times.
        self.server_config = server or ServerConfig(
            read_timeout=times.read_timeout, write_timeout=times.read_timeout, latency=times.handler_latency
        )
        self.times = times
        self.client_timeout = times.client_timeout
        self.stop = stop or threading.Event()
        self._sample_interval = sample_interval
        self._health_interval = health_interval
        # The request with X-Request-Id ``hold`` waits in the handler until release() (at most
        # ``hold_max`` s): a pattern that needs two requests in flight at once uses it.
        self.hold, self.hold_max = hold, hold_max
        self.released = threading.Event()
        self.rec = Recordings("requests", "access", "states", "queue", "health", "sockets")
        self.requests, self.access, self.states = self.rec["requests"], self.rec["access"], self.rec["states"]
        self.queue, self.health = self.rec["queue"], self.rec["health"]
        self.instances: dict[str, Instance] = {}
        self.started_pids: list[int] = []  # every LB process this rig started (for leak checks)
        self._clients: list[KeepAliveClient] = []
        self._clients_lock = threading.Lock()

    # -- set-up and tear-down (Stacked: entering calls _start, leaving closes the stack) ------

    def _start(self) -> None:
        self.folder = self._stack.enter_context(workspace())
        running = self._stack.enter_context(
            start_server(self.server_config, wrap=self._hold, conn_state=self.states, access_log=self.access)
        )
        self.server = running.server
        self.server_port = running.port
        self.t0 = self.rec.start_clock()
        self.wall_to_mono = self.t0 - time.time()
        self._stack.enter_context(QueueSampler(self.server_port, self.queue, self._sample_interval))
        self._stack.callback(self._harvest_logs)  # runs after the processes stopped, before the folder goes
        for node, lb in self.lb_specs:
            self.instances[node] = self._start_instance(node, lb)
        self._stack.callback(self._await_logs)  # before the processes stop: let them write their last lines
        for inst in self.instances.values():
            if isinstance(inst.spec, HAProxySpec) and inst.spec.check:
                self._stack.enter_context(Ticker(f"health-{inst.node}", self._health_interval, self._poller(inst)))
        self._stack.callback(self._close_clients)
        self._stack.callback(self.release)  # first of all: a held request must not hold up the teardown

    def _hold(self, inner: Handler) -> Handler:
        if not self.hold:
            return inner

        def held(w, r) -> None:
            if r.header.get("X-Request-Id") == self.hold:
                self.released.wait(self.hold_max)  # bounded: the load balancer must not time out on it
            inner(w, r)

        return held

    def release(self) -> None:
        """Let the held request go on."""
        self.released.set()

    def _start_instance(self, node: str, spec: LBSpec) -> Instance:
        binary = find_binary(spec.kind)
        assert binary is not None
        last_error: Exception | None = None
        for attempt in range(_START_ATTEMPTS):
            port = free_port()
            if isinstance(spec, NginxSpec):
                folder = self.folder / node
                folder.mkdir(exist_ok=True)
                folder.chmod(0o755)
                config = folder / "nginx.conf"
                argv = [binary, "-p", f"{folder}/", "-c", str(config), "-e", "stderr"]
            else:
                folder = self.folder
                config = folder / f"{node}.cfg"
                argv = [binary, "-db", "-f", str(config)]
            config.write_text(
                render(spec, node=node, listen_port=port, server_port=self.server_port, folder=folder, times=self.times)
            )
            process = LBProcess(node, argv, cwd=folder)
            self._stack.enter_context(process)
            if process.pid is not None:
                self.started_pids.append(process.pid)
            try:
                process.wait_listening(port)
            except LBStartError as exc:
                process.stop()
                last_error = exc
                if "bind" in str(exc).lower() or "in use" in str(exc).lower():
                    continue  # the port was taken after we chose it: choose another
                raise
            stats = folder / f"{node}.sock" if isinstance(spec, HAProxySpec) else None
            return Instance(node, spec, port, folder, config, process, stats)
        raise LBStartError(f"{node}: no free port after {_START_ATTEMPTS} attempts: {last_error}")

    @staticmethod
    def _log_texts(inst: Instance) -> list[str]:
        """The instance's access log so far: HAProxy logs to its stdout, nginx to access.log in its folder."""
        if isinstance(inst.spec, HAProxySpec):
            return [line.text for line in inst.process.lines("stdout")]
        log = inst.folder / "access.log"
        return log.read_text(errors="replace").splitlines() if log.exists() else []

    def _logged_ids(self, inst: Instance) -> set[str]:
        return {fields.get("id", "") for fields in map(parse_fields, self._log_texts(inst)) if fields}

    def _await_logs(self, timeout: float = 1.0) -> None:
        """Wait (bounded) until each instance has logged every request it answered.

        A load balancer writes a request's line just after the response's last byte; a stop
        right after the client got its answer could otherwise lose that line.
        """
        deadline = time.monotonic() + timeout
        for inst in self.instances.values():
            answered = {r.request_id for r in self.requests.records() if r.node == inst.node and r.status}
            while not answered <= self._logged_ids(inst) and time.monotonic() < deadline:
                time.sleep(0.01)  # polling the instance's log; bounded by the deadline

    def _harvest_logs(self) -> None:
        """Read each instance's access log into :class:`LBLogLine` records (processes already stopped)."""
        for inst in self.instances.values():
            parsed = [parse_line(inst.spec.kind, inst.node, text, self.wall_to_mono) for text in self._log_texts(inst)]
            inst.lines = [p for p in parsed if p is not None]
            inst.output_text = inst.process.text()
            error_log = inst.folder / "error.log"
            if isinstance(inst.spec, NginxSpec) and error_log.exists():
                inst.output_text += "\n" + error_log.read_text(errors="replace")

    # -- clients ----------------------------------------------------------------------

    def url(self, node: str) -> str:
        return self.instances[node].url

    def new_client(self) -> KeepAliveClient:
        """A fresh client: its first request opens a new connection to the load balancer."""
        client = KeepAliveClient(self.client_timeout)
        with self._clients_lock:
            self._clients.append(client)
        return client

    def send(self, http: KeepAliveClient, client: str, node: str, request_id: str, *, close: bool = False) -> Outcome:
        """One GET through ``node`` (``close``: with ``Connection: close``); its record goes to :attr:`requests`."""
        headers = {"Connection": "close"} if close else None
        return send_one(http, client, request_id, node, self.url(node), self.requests, headers)

    def worker_of(self, http: KeepAliveClient, node: str) -> str:
        """The pid of the nginx worker that holds this client's connection (opens it if needed)."""
        return http.fetch(self.url(node) + "lab-worker")[1].decode("ascii", "replace").strip()

    def _close_clients(self) -> None:
        self.stop.set()
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    # -- waiting on the server's records (no sleeping) ---------------------------------

    def wait_access(self, request_id: str, timeout: float) -> AccessRecord | None:
        """The server's access record for ``request_id`` once it exists, or None after ``timeout``."""
        found = self.access.wait_for(lambda rs: any(r.request_id == request_id for r in rs), timeout)
        if not found:
            return None
        return next(r for r in self.access.records() if r.request_id == request_id)

    def wait_state(self, state: ConnState, n: int, timeout: float) -> bool:
        return self.states.wait_for(lambda rs: sum(r.state is state for r in rs) >= n, timeout)

    def settle_sockets(self, addr: str, timeout: float = 1.0) -> None:
        """Record the server port's sockets once the connection from ``addr`` has finished closing.

        Polls the kernel's table (bounded by ``timeout``) until no end of that connection is in a
        closing state any more, then records every socket of the server's port (its listener
        included, so that a snapshot is never empty) into ``sockets``.
        """
        deadline = time.monotonic() + timeout
        while True:
            rows = self._server_sockets()
            closing = [r for r in rows if addr in (r.local, r.remote) and r.state in _CLOSING]
            if not closing or time.monotonic() >= deadline:
                break
            time.sleep(0.01)  # polling the kernel's table; bounded by the deadline
        now = time.monotonic()
        for r in rows:
            self.rec["sockets"](SocketSample(now, r.side, r.local, r.remote, r.state))

    def _server_sockets(self) -> list[SocketSample]:
        port = f":{self.server_port}"
        rows = []
        for sock in tcp_sockets():
            side = "server" if sock.local.endswith(port) else "peer" if sock.remote.endswith(port) else ""
            if side:
                rows.append(SocketSample(0.0, side, sock.local, sock.remote, sock.state))
        return rows

    def now(self) -> float:
        """Lab seconds since the rig started."""
        return self.rec.now()

    def wait_until(self, t: float) -> None:
        """Wait until ``t`` lab seconds after the start: a schedule, not a synchronisation."""
        self.stop.wait(max(0.0, self.t0 + t - time.monotonic()))

    # -- health checks -----------------------------------------------------------------

    def _poller(self, inst: Instance):
        assert inst.stats_socket is not None
        path = inst.stats_socket

        def poll() -> None:
            status = haproxy_server_status(path)
            if status:
                self.health(HealthSample(inst.node, time.monotonic(), status))

        return poll

    # -- results ---------------------------------------------------------------------

    def lb_lines(self) -> list[LBLogLine]:
        lines = [line for inst in self.instances.values() for line in inst.lines]
        return join_server_side(lines, self.access.records())

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every record as a DataFrame; times in lab seconds since the rig started."""
        lines = self.lb_lines()
        frames = self.rec.tables()
        frames["lb"] = to_frame(balancer_records(lines), self.t0)
        frames["lb_timing"] = to_frame(lines, self.t0).drop(columns="raw", errors="ignore")
        requests = frames["requests"]
        if "start" in requests:
            requests["latency"] = requests["end"] - requests["start"]
        else:
            frames["requests"] = pd.DataFrame(
                columns=["request_id", "client", "node", "start", "end", "outcome", "status", "detail", "latency"]
            )
        return frames
