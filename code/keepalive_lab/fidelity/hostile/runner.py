"""Playing the hostile corpus against a server: one case per connection, a health check after each.

Theory of operation
-------------------
:func:`run_corpus` starts ``jobs`` worker threads. Each owns a server process
of the implementation under test, started with the shared command line
(:func:`hostile_flags`: ``LimitListener(l, 1)``, no handler latency, a short
``ReadTimeout`` that bounds every slow or truncated input, and a long
``IdleTimeout`` so that a connection kept alive stays open while the client
looks). Workers take cases from a shared queue, so slow cases spread out.

:func:`play` runs one case on a fresh connection to 127.0.0.1. A sender
thread performs the case's steps on a duplicate of the socket while the
worker reads, so that the answer to a request the server cut short is read
before the client's next write fails; an ``await`` step holds the sender
until the reader has a response more. Once the steps are done the reader
waits, every wait bounded:

* for the connection to end (``closed``), or at most ``patience`` seconds
  (``open``);
* after a final response that keeps the connection, ``settle`` seconds for
  more; if nothing comes, the *probe* goes out on the same connection:
  ``OPTIONS *``, which the server answers itself with an empty 200, unlike
  anything the handler answers, so its answer is known when it comes, even
  behind answers to the case's own requests that came late. It makes the
  outcome ``kept``. The probe's status is part of the record: a server that
  took the case's trailing bytes as the start of another request answers the
  probe differently.

A case that half-closes gets no probe (it cannot send one); a case that
resets is played step by step without the reader and ends as
``client reset``.

After every case a normal request on a new connection must get a 200 within
``health`` seconds (:func:`served`). Behind ``LimitListener(l, 1)`` that
request waits in the kernel until the case's connection is gone, so this
also checks that the slot comes back. A worker whose server fails the check
starts a fresh one, so one bad case cannot spoil the cases after it.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from keepalive_lab.fidelity.hostile.case import AWAIT, PAUSE, RESET, SEND, SHUT_WR, Case, Step
from keepalive_lab.fidelity.hostile.outcome import CLIENT_RESET, CLOSED, KEPT, OPEN, Outcome, ResponseStream
from keepalive_lab.fidelity.process import ServerProcess

__all__ = ["HostileTimes", "hostile_flags", "play", "served", "run_corpus", "PROBE", "HEALTH"]

# The server answers OPTIONS * itself, with an empty 200, unlike any request the handler answers ("ok\n").
PROBE = b"OPTIONS * HTTP/1.1\r\nHost: lab\r\n\r\n"
HEALTH = b"GET /health HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"
_POLL = 0.05  # how often the reader looks up while the sender is still at work


@dataclass(frozen=True)
class HostileTimes:
    """The servers' timeouts and the client's waits, in seconds."""

    read_timeout: float = 0.5  # the servers' ReadTimeout (and so their header deadline)
    idle_timeout: float = 5.0  # the servers' IdleTimeout: a kept connection outlives the look
    settle: float = 0.15  # quiet after a response that keeps the connection, before the probe
    patience: float = 2.5  # the longest the client waits for anything after its last write
    health: float = 5.0  # the longest the health check waits for its 200

    def as_json(self) -> dict:
        return dict(self.__dict__)


def hostile_flags(times: HostileTimes) -> list[str]:
    """The command line both servers get (``keepalive_lab serve`` and the Go reference)."""
    def go(seconds: float) -> str:
        return f"{round(seconds * 1000)}ms"

    return ["--latency", "0", "--limit", "1", "--read-timeout", go(times.read_timeout),
            "--idle-timeout", go(times.idle_timeout)]  # fmt: skip


# -- one case ---------------------------------------------------------------------------------


def play(case: Case, port: int, times: HostileTimes) -> tuple[tuple, str]:
    """Run ``case`` on a new connection to 127.0.0.1:``port``: the statuses seen, and how it ended."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=times.patience)
    try:
        if case.resets:
            return _play_then_reset(sock, case, times)
        return _play_and_read(sock, case, times)
    finally:
        sock.close()


def _play_then_reset(sock: socket.socket, case: Case, times: HostileTimes) -> tuple[tuple, str]:
    stream = ResponseStream(case.methods)
    for step in case.steps:
        if step.kind == AWAIT:
            _await_response(sock, stream, times)
        elif step.kind == RESET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            break
        else:
            _perform(sock, step, threading.Event())
    return tuple(stream.statuses), CLIENT_RESET


def _await_response(sock: socket.socket, stream: ResponseStream, times: HostileTimes) -> None:
    """Read until one more final response is complete, or the connection ends, or patience runs out."""
    wanted = stream.finals + 1
    deadline = time.monotonic() + times.patience
    while stream.finals < wanted and not stream.garbled:
        data = _recv(sock, deadline - time.monotonic())
        if data is None:
            return
        if not data:
            stream.eof()
            return
        stream.feed(data)


def _perform(sock: socket.socket, step: Step, stop: threading.Event) -> bool:
    """Do one sending step; False when the connection refuses more (the server hung up)."""
    try:
        if step.kind == SEND:
            sock.sendall(step.data)
        elif step.kind == SHUT_WR:
            sock.shutdown(socket.SHUT_WR)
        elif step.kind == PAUSE:
            stop.wait(step.seconds)
    except OSError:  # EPIPE, ECONNRESET, a send that stalled past the socket's timeout
        return False
    return not stop.is_set()


class _Sender(threading.Thread):
    """Performs a case's steps on its own duplicate of the socket, then closes the duplicate.

    An ``await`` step waits (at most ``timeout`` seconds) until the reader has
    seen one more final response, or the connection's end (:meth:`note`).
    """

    def __init__(self, sock: socket.socket, steps: Iterable[Step], timeout: float) -> None:
        super().__init__(name="hostile-sender", daemon=True)
        self.sock = sock.dup()
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.steps = list(steps)
        self.stop = threading.Event()
        self.done_at: float | None = None
        self._seen = threading.Condition()
        self._finals = 0
        self._ended = False

    def note(self, finals: int, ended: bool = False) -> None:
        """The reader's news: final responses complete so far, and whether the connection ended."""
        with self._seen:
            self._finals, self._ended = finals, self._ended or ended
            self._seen.notify_all()

    def run(self) -> None:
        awaited = 0
        try:
            for step in self.steps:
                if step.kind == AWAIT:
                    awaited += 1
                    if not self._await(awaited):
                        break
                elif not _perform(self.sock, step, self.stop):
                    break
        finally:
            self.sock.close()
            self.done_at = time.monotonic()

    def _await(self, finals: int) -> bool:
        with self._seen:
            self._seen.wait_for(lambda: self._finals >= finals or self._ended or self.stop.is_set(), self.timeout)
            return self._finals >= finals and not self._ended and not self.stop.is_set()


def _recv(sock: socket.socket, timeout: float) -> bytes | None:
    """Bytes; ``b""`` when the server ended the connection (FIN or RST alike); None at the timeout."""
    if timeout <= 0:
        return None
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return None
    except OSError:  # ECONNRESET, EPIPE: the server ended the connection
        return b""


def _play_and_read(sock: socket.socket, case: Case, times: HostileTimes) -> tuple[tuple, str]:
    stream = ResponseStream(case.methods)
    sender = _Sender(sock, case.steps, times.patience)
    sender.start()
    try:
        end = _read(sock, stream, sender, case.half_closes, times)
    finally:
        sender.stop.set()
        sender.note(stream.finals, ended=True)
        sender.join(times.patience + 1.0)
    return tuple(stream.statuses), end


def _read(sock: socket.socket, stream: ResponseStream, sender: _Sender, half_closed: bool,
          times: HostileTimes) -> str:  # fmt: skip
    last_in = time.monotonic()  # when the last byte came in
    sent_at: float | None = None  # when the client's last write went out: the steps' end, then the probe
    probe_after: int | None = None  # how many final responses had come when the probe went out
    while True:
        now = time.monotonic()
        if sent_at is None and sender.done_at is not None:
            sent_at = sender.done_at
        if sent_at is None:
            wait = _POLL
        else:
            if now >= sent_at + times.patience:
                return OPEN
            wait = sent_at + times.patience - now
            if probe_after is None and _keeps(stream, half_closed):
                settle_at = max(last_in, sent_at) + times.settle
                if now >= settle_at:
                    probe_after, sent_at = stream.finals, now
                    _send_probe(sock)
                    continue
                wait = min(wait, settle_at - now)
        data = _recv(sock, wait)
        if data is None:
            continue
        if not data:
            stream.eof()
            return CLOSED
        last_in = time.monotonic()
        stream.feed(data)
        sender.note(stream.finals)
        answered = probe_after is not None and stream.finals > probe_after and stream.last_empty
        if answered and _keeps(stream, half_closed):
            return KEPT  # the probe's own answer: every response before it is in too


def _keeps(stream: ResponseStream, half_closed: bool) -> bool:
    """The last response is complete and keeps the connection, and nothing more has begun."""
    done = bool(stream.finals) and not stream.busy and not stream.garbled
    return done and not stream.last_closing and not half_closed


def _send_probe(sock: socket.socket) -> None:
    try:
        sock.sendall(PROBE)
    except OSError:
        pass  # the server hung up meanwhile: the reader sees the end next


def served(port: int, times: HostileTimes) -> bool:
    """Whether a normal request on a new connection gets a 200 within ``times.health`` seconds."""
    deadline = time.monotonic() + times.health
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=times.health) as sock:
            sock.sendall(HEALTH)
            stream = ResponseStream()
            while not stream.finals and not stream.garbled:
                data = _recv(sock, deadline - time.monotonic())
                if not data:
                    if data is not None:
                        stream.eof()
                    break
                stream.feed(data)
    except OSError:
        return False
    return stream.finals > 0 and stream.statuses[-1] == 200


# -- the corpus, in parallel --------------------------------------------------------------------


Command = Callable[[Sequence[str]], list[str]]


def run_corpus(command: Command, cases: Sequence[Case], times: HostileTimes = HostileTimes(), jobs: int = 8,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Outcome]:  # fmt: skip
    """Every case against servers started by ``command(flags)``, ``jobs`` at a time: ``{case id: Outcome}``."""
    todo: queue.Queue[Case] = queue.Queue()
    for case in _spread(cases):
        todo.put(case)
    results: dict[str, Outcome] = {}
    lock = threading.Lock()

    def done(case: Case, outcome: Outcome) -> None:
        with lock:
            results[case.id] = outcome
            count = len(results)
        if progress is not None:
            progress(count, len(cases))

    workers = max(1, min(jobs, len(cases)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hostile")
    try:
        futures = [pool.submit(_work, command, times, todo, done) for _ in range(workers)]
        for f in futures:
            f.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {c.id: results[c.id] for c in cases}


def _spread(cases: Sequence[Case]) -> list[Case]:
    """The big cases first (they take longest), then the rest in corpus order."""
    big = [c for c in cases if len(c.sent) > 256 * 1024]
    return big + [c for c in cases if len(c.sent) <= 256 * 1024]


def _work(command: Command, times: HostileTimes, todo: "queue.Queue[Case]",
          done: Callable[[Case, Outcome], None]) -> None:  # fmt: skip
    with contextlib.ExitStack() as stack:
        server: ServerProcess | None = None
        while True:
            try:
                case = todo.get_nowait()
            except queue.Empty:
                return
            if server is None:
                server = stack.enter_context(ServerProcess(command(hostile_flags(times))))
            try:
                statuses, end = play(case, server.port, times)
            except OSError as exc:  # the connect failed: the server is gone
                statuses, end = (), f"connect failed: {type(exc).__name__}"
            except Exception as exc:  # a fault of the client's own: shown as this case's outcome
                statuses, end = (), f"harness error: {type(exc).__name__}: {exc}"
            ok = served(server.port, times)
            done(case, Outcome(statuses, end, ok))
            if not ok:  # start afresh for the next case
                stack.close()
                server = None
