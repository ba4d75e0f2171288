"""The Go programs of ``code/go-fixes/``, run for real: what each one's comments claim, checked on the wire.

``tools/go_build.sh`` builds and vets them once for this module (skipped when there is no
toolchain here). Each test starts its program on ``127.0.0.1:0``, learns the port from the
program's ``listening on`` log line, and talks to it with :class:`RawClient`, which shows what
httpx hides: a request that gets no answer at all, a connection the server closes. Every handler
does 200 ms of "work" and answers ``ok``; the timings below are multiples of that.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from keepalive_lab.kernel import accept_queue
from keepalive_lab.lab.programs import Program
from keepalive_lab.lab.rawclient import WAIT, NoAnswer, RawClient, Response, request_bytes

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "tools" / "go_build.sh"
BINARIES = ROOT / "_build" / "go-fixes"
NO_TOOLCHAIN = 3  # go_build.sh: "no toolchain here"

WORK = 0.2  # every handler sleeps 200 ms
PROMPT = WORK + 0.8  # "answered promptly": the work plus room for a busy machine
AT_ONCE = 0.3  # "at once": well under the 0.5 s a lingering close would add
HELD = 1.0  # how long a test watches a queued request get nothing
START_TIMEOUT = 10.0  # for a program to log that it listens
_LISTENING_ADDR = r"listening on 127\.0\.0\.1:(\d+)$"
_METRICS_ADDR = r"metrics on 127\.0\.0\.1:(\d+)$"

GET = request_bytes("/")


# -- running the programs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def go_fixes() -> Path:
    """Build and vet every program once; skip the module when Go is not available here."""
    built = subprocess.run([str(BUILD_SCRIPT)], check=False, capture_output=True, text=True, timeout=900, cwd=ROOT)
    if built.returncode == NO_TOOLCHAIN:
        pytest.skip(built.stderr.strip() or "tools/go_build.sh: no Go toolchain here")
    assert built.returncode == 0, f"tools/go_build.sh failed ({built.returncode}):\n{built.stdout}{built.stderr}"
    return BINARIES


@dataclass
class GoProgram:
    """A program of code/go-fixes/ that has logged where it listens."""

    name: str
    program: Program  # reads its log (Go logs to stderr) with a deadline; stops and reaps it
    port: int
    _metrics_port: int | None = None

    @property
    def metrics_port(self) -> int:
        """Where instrumented-limit publishes its metrics: it logs that just after ``listening on``, so the
        line is waited for (once) when a test first asks."""
        if self._metrics_port is None:
            self._metrics_port = int(self.program.wait_for(_METRICS_ADDR, START_TIMEOUT)[1])
        return self._metrics_port


@pytest.fixture
def run(go_fixes):
    """``run(name, *flags)`` starts a program on 127.0.0.1:0; at the end every one is stopped and reaped."""
    programs: list[GoProgram] = []
    with contextlib.ExitStack() as stack:

        def start(name: str, *flags: str) -> GoProgram:
            program = stack.enter_context(Program([go_fixes / name, "-addr", "127.0.0.1:0", *flags]))
            port = int(program.wait_for(_LISTENING_ADDR, START_TIMEOUT)[1])
            programs.append(GoProgram(name, program, port))
            return programs[-1]

        yield start
    # Each was stopped with SIGTERM, which ends a Go program that is still running; any other status
    # means it exited during the test (or lingered until SIGKILL).
    crashed = [f"{p.name} exited with {p.program.returncode}: {p.program.output}" for p in programs
               if p.program.returncode != -signal.SIGTERM]  # fmt: skip
    assert not crashed, crashed


@pytest.fixture
def connect():
    """``connect(port)`` opens a RawClient; every one is closed at the end, whatever happened."""
    clients: list[RawClient] = []

    def open_client(port: int) -> RawClient:
        client = RawClient(port)
        clients.append(client)
        return client

    try:
        yield open_client
    finally:
        for client in clients:
            client.close()


def _ok(response: Response) -> bool:
    return response.status == 200 and response.body == b"ok\n"


def _arrivals(clients: list[RawClient], timeout: float = WAIT) -> list[float]:
    """When the first byte of an answer (or a close) reached each client, in ``time.monotonic()``."""
    times: list[float | None] = [None] * len(clients)
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for i, client in enumerate(clients):
            sel.register(client.sock, selectors.EVENT_READ, i)
        while None in times:
            left = deadline - time.monotonic()
            if left <= 0:
                silent = [i for i, t in enumerate(times) if t is None]
                raise NoAnswer(f"no answer within {timeout} s on clients {silent}")
            for key, _ in sel.select(left):
                times[key.data] = time.monotonic()
                sel.unregister(key.fileobj)
    return times  # type: ignore[return-value]


def _first_answer(clients: list[RawClient], timeout: float = WAIT) -> int:
    """The index of the client whose answer (or close) starts to arrive first."""
    with selectors.DefaultSelector() as sel:
        for i, client in enumerate(clients):
            sel.register(client.sock, selectors.EVENT_READ, i)
        ready = sel.select(timeout)
    if not ready:
        raise NoAnswer(f"no answer within {timeout} s")
    return min(key.data for key, _ in ready)


def _expvars(port: int) -> dict:
    """/debug/vars from the metrics listener, on a connection of its own."""
    with RawClient(port) as client:
        response = client.request(request_bytes("/debug/vars", extra="Connection: close\r\n"))
    assert response.status == 200, response.head
    return json.loads(response.body)


# -- incident: LimitListener(l, 1) and keep-alive --------------------------------------------------


@pytest.mark.slow
def test_incident_an_idle_keepalive_connection_starves_the_next_one_in_the_kernel(run, connect):
    """The incident: the idle connection A holds the only slot; B waits, unaccepted, in the
    listener's accept queue, and is served as soon as A closes (not before)."""
    server = run("incident")
    a = connect(server.port)
    assert _ok(a.request(GET))  # A is now idle, kept alive by the server

    b = connect(server.port)  # the kernel completes the handshake: connect() succeeds
    b.send(GET)
    assert b.gets_nothing_for(HELD), "B was answered although A held the only slot"
    assert accept_queue(server.port) == 1, "B should wait in the kernel's accept queue, never accepted"

    closed = time.monotonic()
    a.close()
    assert _ok(b.read_response())
    assert time.monotonic() - closed < PROMPT, "B was not served promptly once A gave the slot back"
    assert accept_queue(server.port) == 0


# -- the article's two fixes: the server closes the connection after each response ---------------


@pytest.mark.parametrize("name", ["no-keepalives", "connection-close"])
def test_fix_closes_each_connection_so_the_next_one_is_served_at_once(run, connect, name):
    """Fix 1 (keep-alives off) and fix 2 (the handler's ``Connection: close``): the response says
    ``Connection: close``, the server closes A after it, and B is served at once although A's
    client never closed its socket (it stays open until the end of the test).

    "At once" is checked tightly: B, sent right after A's answer, must be answered within
    AT_ONCE of one unit of work. Had net/http lingered before its full close (its 500 ms
    rstAvoidanceDelay, which it applies only after an unread request body), the slot would
    come back half a second late and B would miss that bound.
    """
    server = run(name)
    a = connect(server.port)
    first = a.request(GET)
    assert _ok(first) and first.header("Connection") == "close", first.head

    b = connect(server.port)
    sent = time.monotonic()
    assert _ok(b.request(GET)), "B should be answered while A's client socket is still open"
    took = time.monotonic() - sent
    assert took < WORK + AT_ONCE, f"B took {took:.3f} s: A's slot was not free at once"
    # The server closed A right after its response: EOF, and nothing else, is waiting on A.
    assert a.wait_closed(timeout=1.0) < 1.0
    assert accept_queue(server.port) == 0


# -- a shorter IdleTimeout: the window narrows, it does not close --------------------------------


@pytest.mark.slow
def test_idle_timeout_narrows_the_window_to_five_seconds(run, connect):
    """IdleTimeout 5 s: B still waits while A is idle (not answered in the first 3 s), the server
    closes A about 5 s after its response, and then B is served at once (well before 8 s)."""
    server = run("idle-timeout")
    a = connect(server.port)
    assert _ok(a.request(GET))
    idle_since = time.monotonic()  # the server armed A's idle deadline just before this

    b = connect(server.port)
    b.send(GET)
    assert b.gets_nothing_for(3.0 - (time.monotonic() - idle_since)), "B was answered while A was idle"
    assert accept_queue(server.port) == 1

    a.wait_closed(timeout=8.0 - (time.monotonic() - idle_since))  # the server closes A (EOF)
    a_closed = time.monotonic() - idle_since
    assert 4.5 <= a_closed <= 8.0, f"A closed {a_closed:.2f} s after its response, not about 5 s"
    assert _ok(b.read_response(timeout=max(0.1, 8.0 - (time.monotonic() - idle_since))))
    b_answered = time.monotonic() - idle_since
    assert b_answered - a_closed < PROMPT, "B was not served promptly once the idle timeout closed A"


# -- work-semaphore: every connection accepted, the work limited by a context-aware semaphore ------


def test_work_semaphore_an_idle_connection_blocks_nobody(run, connect):
    """Without LimitListener an idle keep-alive connection holds nothing: B is accepted and served
    at once, and A is still alive afterwards."""
    server = run("work-semaphore")
    a = connect(server.port)
    assert _ok(a.request(GET))

    b = connect(server.port)
    sent = time.monotonic()
    assert _ok(b.request(GET))
    assert time.monotonic() - sent < PROMPT
    assert accept_queue(server.port) == 0
    assert a.served_again(GET), "A should still be a live keep-alive connection"


def test_work_semaphore_runs_the_work_one_request_at_a_time(run, connect):
    """Two requests sent together: one is done after one unit of work, the other after two."""
    server = run("work-semaphore")
    b, c = connect(server.port), connect(server.port)
    sent = time.monotonic()
    b.send(GET)
    c.send(GET)
    first, second = sorted(t - sent for t in _arrivals([b, c]))
    assert _ok(b.read_response()) and _ok(c.read_response())
    assert first >= WORK - 0.01
    assert second - first >= WORK - 0.05, f"the works overlapped: answers at {first:.3f} s and {second:.3f} s"
    assert second < 2 * WORK + PROMPT


def _one_holds_the_work(server: GoProgram, connect) -> RawClient:
    """Send two requests at once and wait for the first answer: the other request's handler now
    holds the semaphore for one unit of work. Returned is that other client, still unanswered.

    Which of two requests gets the semaphore first is up to Go's scheduler (the one sent second
    often wins), so a test that needs the work to be busy cannot just send a request and go on;
    but once one of the pair is answered, the other, queued for a whole unit of work by then, has
    just taken the semaphore.
    """
    pair = [connect(server.port), connect(server.port)]
    for client in pair:
        client.send(GET)
    first = _first_answer(pair)
    assert _ok(pair[first].read_response())
    return pair[1 - first]


@pytest.mark.slow
def test_work_semaphore_does_no_work_for_clients_that_left_while_waiting(run, connect):
    """Clients that give up while they wait for their turn cost no work.

    While ``holder`` works, QUITTERS clients send a request and close their sockets (a FIN:
    net/http still reads the request and calls the handler, then sees EOF and cancels
    ``r.Context()``); ``late`` follows them, and ``final`` is sent once ``late`` is answered, when
    every quitter is surely queued ahead of it. Acquire(r.Context()) ends each quitter's wait at
    once, so ``final`` is answered after three units of work (holder's, late's, its own) from the
    moment ``holder`` took the semaphore. Were that logic removed (Acquire(context.Background())
    and no ctx.Err() check), each quitter would wait for its turn and then sleep 200 ms for nobody,
    before ``final`` whatever order the scheduler picked: 3 + QUITTERS units (1.6 s). The bound,
    3 + QUITTERS/2 units (1.1 s), fails that and leaves 0.5 s for a busy machine. (Either half of
    the logic alone is enough here; the two tests below tell them apart.)
    """
    quitters = 5
    server = run("work-semaphore")
    holder = _one_holds_the_work(server, connect)
    holding_since = time.monotonic()
    for _ in range(quitters):
        quitter = connect(server.port)
        quitter.send(GET)
        quitter.close()
    late = connect(server.port)
    late.send(GET)
    assert _ok(holder.read_response()) and _ok(late.read_response())
    final = connect(server.port)
    assert _ok(final.request(GET))
    took = time.monotonic() - holding_since
    assert took >= 3 * WORK - 0.05, f"{took:.2f} s: fewer than three units of work ran"
    assert took < (3 + quitters / 2) * WORK, f"{took:.2f} s: work ran for clients that had left"


def test_work_semaphore_a_waiter_whose_client_half_closes_gets_503_at_once(run, connect):
    """Acquire(r.Context()): the wait ends when the client goes, not when the turn comes.

    While ``holder`` works, ``waiter`` sends its request and shuts down its sending side (a
    client that gives up but can still read). net/http sees EOF and cancels the request's context;
    Acquire returns its error and the handler answers 503 "gave up waiting" before
    ``holder`` is done. With Acquire(context.Background()) the waiter would wait for ``holder``
    and then get an empty 200 (the ctx.Err() check) or "ok" (no check).
    """
    server = run("work-semaphore")
    holder = _one_holds_the_work(server, connect)
    waiter = connect(server.port)
    waiter.send(GET)
    waiter.sock.shutdown(socket.SHUT_WR)
    first = _first_answer([holder, waiter])
    gave_up = waiter.read_response()
    assert gave_up.status == 503 and gave_up.body == b"gave up waiting\n", gave_up.raw
    assert first == 1, "the waiter's 503 should not wait for the holder's work"
    assert _ok(holder.read_response())


def test_work_semaphore_skips_the_work_of_a_request_cancelled_before_its_turn(run, connect):
    """The ctx.Err() check after Acquire, made deterministic.

    One connection sends two pipelined requests and then shuts down its sending side. net/http
    reads the first (both are in one segment, so in its buffer), and its background read sees EOF
    during the first one's work: the connection's context, and so the second request's context,
    is cancelled before the second handler runs. When it runs the semaphore is free, and Debian's
    golang.org/x/sync 0.1.0 Acquire takes a free semaphore without looking at the context, so
    only the ctx.Err() check keeps the work from running: the second answer is an empty 200 right
    after the first. (A newer x/sync fails such an Acquire instead: a 503, also without work.)
    Without the check the second answer would be "ok" a whole unit of work later.
    """
    server = run("work-semaphore")
    client = connect(server.port)
    client.send(GET + GET)  # one write: both requests reach the server together
    client.sock.shutdown(socket.SHUT_WR)
    assert _ok(client.read_response())
    first_at = time.monotonic()
    second = client.read_response()
    assert time.monotonic() - first_at < WORK / 2, "the cancelled request's work ran"
    assert (second.status, second.body) in {(200, b""), (503, b"gave up waiting\n")}, second.raw
    client.wait_closed(timeout=1.0)


# -- instrumented-limit: LimitListener made visible through expvar -------------------------------


@pytest.mark.slow
def test_instrumented_limit_shows_the_held_slot_and_how_long_accept_waited(run, connect):
    """While A is idle the metrics listener (not behind the limit) shows the slot in use; once B,
    queued behind A, is accepted, ``limit_slot_wait_ms_last`` is about how long B waited.

    The metric starts its clock when the server calls Accept again, that is just after A was
    accepted, not when B arrived: it exceeds B's wait by the time A held the slot before B came
    (here A's 200 ms request and little else), so the margin is asymmetric.
    """
    server = run("instrumented-limit", "-metrics", "127.0.0.1:0")
    a = connect(server.port)
    assert _ok(a.request(GET))
    assert _expvars(server.metrics_port)["limit_slots_in_use"] == 1

    b = connect(server.port)
    b_sent = time.monotonic()
    b.send(GET)
    assert b.gets_nothing_for(HELD)
    assert accept_queue(server.port) == 1
    a.close()
    assert _ok(b.read_response())
    b_waited_ms = (time.monotonic() - b_sent - WORK) * 1000  # from its connect to its accept

    metrics = _expvars(server.metrics_port)  # B is idle now and holds the slot in turn
    waited_ms = metrics["limit_slot_wait_ms_last"]
    assert metrics["limit_slots_in_use"] == 1
    assert b_waited_ms - 150 <= waited_ms <= b_waited_ms + 1000, (waited_ms, b_waited_ms)
    # The queueing the program read from B's TCP_INFO: how long B's request sat in the kernel.
    assert abs(metrics["limit_queued_ms_last"] - b_waited_ms) <= max(100, 0.2 * b_waited_ms), (metrics, b_waited_ms)


@pytest.mark.slow
def test_instrumented_limit_wait_metric_counts_slot_holding_even_when_nobody_queued(run, connect):
    """What ``limit_slot_wait_ms_last`` really measures: how long the slot was held since the last
    Accept, whether or not any connection was waiting for it.

    A is served and kept idle for HELD seconds while nothing else arrives (the accept queue stays
    empty); A closes; C then connects and is served at once. The metric nevertheless reports
    about HELD seconds of "waiting for a slot", set the moment A gave the slot back.
    """
    server = run("instrumented-limit", "-metrics", "127.0.0.1:0")
    a = connect(server.port)
    a_sent = time.monotonic()
    assert _ok(a.request(GET))
    assert a.gets_nothing_for(HELD)  # A idles; the server neither answers nor closes it
    assert accept_queue(server.port) == 0, "nobody is queued"
    held_ms = (time.monotonic() - a_sent) * 1000
    a.close()

    c = connect(server.port)
    c_sent = time.monotonic()
    assert _ok(c.request(GET))
    assert time.monotonic() - c_sent < WORK + AT_ONCE  # C hardly waited, if at all

    metrics = _expvars(server.metrics_port)
    assert metrics["limit_slots_in_use"] == 1  # C's
    assert held_ms - WORK * 1000 - 150 <= metrics["limit_slot_wait_ms_last"] <= held_ms + 1000, (metrics, held_ms)
    # The queueing metric, read from the socket itself, is not fooled: C did not wait.
    assert metrics["limit_queued_ms_last"] < 100, metrics
