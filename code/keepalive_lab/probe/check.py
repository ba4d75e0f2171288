"""``check``: does a running server stop serving new connections while idle ones hold its slots?

Theory of operation
-------------------
The pitfall needs two things: a limit that counts connections (not requests),
and idle keep-alive connections that count against it. From outside, that
shows as: every new connection is served at once until some number k of
idle keep-alive connections is open, then a new connection is not served at
all (it waits in the kernel's accept queue) until an idle one goes away.

The probe grows that number one connection at a time. At each step it opens
a *fresh* connection and sends one request; if the answer is prompt and the
server keeps the connection alive, that connection stays open and quiet and
becomes one more *idle* connection; then the next step. It stops at the
first fresh request that is not served promptly, at ``max_idle`` idle
connections, or when the server refuses. While a fresh request waits, the
idle connections are watched: a server that closes an idle connection
(its idle timeout) frees its slot, and the fresh request is answered late.

Verdicts:

- ``starves``: no answer within ``timeout`` while k idle connections were open.
- ``delays``: answered after ``prompt`` but within ``timeout``; usually once
  the server closed an idle connection: the idle-timeout race.
- ``rejects``: the server answered 503 or 429, or closed or reset the fresh
  connection without an answer: a visible limit, not the pitfall.
- ``ok``: every fresh request was served at once, up to ``max_idle`` idle
  connections, or the server keeps no connection alive (``idle_connections`` 0).

At most ``max_idle + 1`` connections are open at once, every wait ends at a
deadline, and every socket is closed before :func:`check` returns.
"""

from __future__ import annotations

import ipaddress
import json
import selectors
import socket
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from keepalive_lab import sockdiag
from keepalive_lab.probe.exchange import Answer, Outcome, closed_by_peer, connect, read_answer, request_bytes, send_request

__all__ = ["Verdict", "Step", "CheckResult", "ProbeError", "check", "MAX_IDLE_LIMIT"]

MAX_IDLE_LIMIT = 64  # a probe, not a load test
_REJECT_STATUSES = frozenset({429, 503})


class Verdict(StrEnum):
    STARVES = "starves"
    DELAYS = "delays"
    REJECTS = "rejects"
    OK = "ok"

    @property
    def exit_code(self) -> int:
        return 1 if self in (Verdict.STARVES, Verdict.DELAYS) else 0


class ProbeError(Exception):
    """The probe could not judge: bad settings, nothing listening, or no answer even with nothing idle."""


@dataclass
class Step:
    """One fresh request, sent while ``idle`` idle keep-alive connections were open."""

    idle: int
    outcome: str
    seconds: float
    status: int | None
    keeps_alive: bool
    idle_closed: int  # idle connections the server closed while this request waited
    at_s: float = 0.0  # when the fresh connection was opened, in seconds from the start of the check


@dataclass
class CheckResult:
    target: str
    verdict: Verdict
    idle_connections: int | None  # how many idle connections were open at the verdict
    delay_s: float | None  # for ``delays``: how long the fresh request waited
    prompt_s: float
    timeout_s: float
    max_idle: int
    keeps_alive: bool  # the server kept at least one connection alive
    server: str | None  # its Server header, if any
    idle_lifetimes_s: list[float] = field(default_factory=list)  # response end -> server closed it
    accept_queue: int | None = None  # queued connections on the listener, when it is on this machine
    backlog: int | None = None
    steps: list[Step] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def to_dict(self) -> dict:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass
class _Idle:
    sock: socket.socket
    answered_at: float  # when its response ended: the start of its idle time


def _validate(prompt: float, timeout: float, max_idle: int) -> None:
    if not (0 < prompt < float("inf")):
        raise ProbeError(f"--prompt must be a positive number of seconds, got {prompt}")
    if not (prompt < timeout <= 3600):
        raise ProbeError(f"--timeout must be longer than --prompt ({prompt:g} s) and at most 3600 s, got {timeout}")
    if not (1 <= max_idle <= MAX_IDLE_LIMIT):
        raise ProbeError(f"--max-idle must be between 1 and {MAX_IDLE_LIMIT}, got {max_idle}")


def _resolve(host: str, port: int) -> tuple[str, int]:
    if not (0 < port < 65536):
        raise ProbeError(f"port must be between 1 and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ProbeError(f"cannot resolve {host!r}: {exc}") from None
    return infos[0][4][:2]


def _host_header(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == 80 else f"{shown}:{port}"


def _is_local(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    try:
        return address in {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return False


class _Probe:
    def __init__(self, address: tuple[str, int], request: bytes, prompt: float, timeout: float) -> None:
        self.began = time.monotonic()
        self.address = address
        self.request = request
        self.prompt = prompt
        self.timeout = timeout
        self.idle: list[_Idle] = []
        self.lifetimes: list[float] = []
        self.server: str | None = None
        self.kept_any = False
        self.fresh: socket.socket | None = None  # the last fresh connection, until it joins the idle ones

    def close(self) -> None:
        for conn in self.idle:
            conn.sock.close()
        self.idle.clear()
        if self.fresh is not None:
            self.fresh.close()
            self.fresh = None

    def _retire(self, conn: _Idle, now: float) -> None:
        self.lifetimes.append(round(now - conn.answered_at, 3))
        conn.sock.close()
        self.idle.remove(conn)

    def prune(self) -> None:
        """Forget idle connections the server closed between steps."""
        for conn in list(self.idle):
            if closed_by_peer(conn.sock):
                self._retire(conn, time.monotonic())

    def _watch(self, fresh: socket.socket, deadline: float) -> int:
        """Wait until the fresh connection has something to read; meanwhile note idle ones closing."""
        closed = 0
        with selectors.DefaultSelector() as sel:
            sel.register(fresh, selectors.EVENT_READ, None)
            for conn in self.idle:
                sel.register(conn.sock, selectors.EVENT_READ, conn)
            while (remaining := deadline - time.monotonic()) > 0:
                for key, _ in sel.select(remaining):
                    if key.data is None:
                        return closed
                    if closed_by_peer(key.fileobj):
                        sel.unregister(key.fileobj)
                        self._retire(key.data, time.monotonic())
                        closed += 1
                    else:  # an idle connection that talks (a 408 before closing, say): read and ignore
                        try:
                            key.fileobj.recv(65536)
                        except OSError:
                            pass
        return closed

    def step(self) -> tuple[Step, socket.socket | None]:
        """One fresh request; returns the step and, if kept alive, its connection."""
        idle = len(self.idle)
        started = time.monotonic()
        at = round(started - self.began, 3)
        deadline = started + self.timeout
        sock = connect(self.address, self.timeout)
        if isinstance(sock, Outcome):
            return Step(idle, str(sock), round(time.monotonic() - started, 3), None, False, 0, at), None
        failed = send_request(sock, self.request)
        if failed is not None:
            sock.close()
            return Step(idle, str(failed), round(time.monotonic() - started, 3), None, False, 0, at), None
        closed = self._watch(sock, deadline)
        answer: Answer = read_answer(sock, started, deadline)
        step = Step(idle, str(answer.outcome), round(answer.seconds, 3), answer.status, answer.keeps_alive, closed, at)
        if answer.server:
            self.server = answer.server
        if answer.outcome is Outcome.ANSWERED and answer.keeps_alive:
            self.kept_any = True
            return step, sock
        sock.close()
        return step, None


def _queue(port: int) -> tuple[int | None, int | None]:
    found = sockdiag.listeners(port)
    if not found:
        return None, None
    return max(x.queued for x in found), found[0].backlog


def check(host: str, port: int, *, prompt: float = 1.0, timeout: float = 10.0, max_idle: int = 8,
          path: str = "/") -> CheckResult:  # fmt: skip
    """Probe ``host:port`` and return its verdict (see the module's docstring)."""
    _validate(prompt, timeout, max_idle)
    address = _resolve(host, port)
    probe = _Probe(address, request_bytes(_host_header(host, port), path), prompt, timeout)
    began = probe.began
    steps: list[Step] = []

    def result(verdict: Verdict, idle: int | None, delay: float | None = None, queue=(None, None)) -> CheckResult:
        return CheckResult(
            f"{host}:{port}", verdict, idle, delay, prompt, timeout, max_idle, probe.kept_any, probe.server,
            probe.lifetimes, queue[0], queue[1], steps, round(time.monotonic() - began, 3),
        )  # fmt: skip

    try:
        for _ in range(max_idle + 1):
            probe.prune()
            step, kept = probe.step()
            steps.append(step)
            if kept is not None:
                probe.fresh = kept  # closed with the rest, whatever the verdict
            first = len(steps) == 1
            if step.outcome == Outcome.REFUSED and first:
                raise ProbeError(f"nothing accepts connections on {host}:{port}")
            if step.outcome == Outcome.NO_ANSWER:
                queue = _queue(port) if _is_local(address[0]) else (None, None)
                if step.idle == 0:
                    raise ProbeError(
                        f"no answer within {timeout:g} s even with no idle connection of ours open: "
                        "the server is busy or other clients hold its connections"
                    )
                return result(Verdict.STARVES, step.idle, queue=queue)
            if step.outcome != Outcome.ANSWERED or step.status in _REJECT_STATUSES:
                return result(Verdict.REJECTS, step.idle)
            if step.seconds > prompt:
                if step.idle == 0:
                    raise ProbeError(
                        f"the first request took {step.seconds:.3f} s with no idle connection open: "
                        f"raise --prompt above the server's own response time"
                    )
                return result(Verdict.DELAYS, step.idle, step.seconds)
            if kept is not None:
                if len(probe.idle) >= max_idle:
                    break
                probe.idle.append(_Idle(kept, time.monotonic()))
                probe.fresh = None
            elif not probe.kept_any:
                break  # the server closes every connection after its response: nothing can sit idle
        return result(Verdict.OK, len(probe.idle))
    finally:
        probe.close()
