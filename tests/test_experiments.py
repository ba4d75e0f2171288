"""Every experiment's claims hold in the incident's configuration; the fixes make the symptom go away.

These run the experiments at the book's default time scale (seconds each, marked slow); the
interrupted testbed alone takes well under a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from keepalive_lab.experiments.catalogue import FIXES
from keepalive_lab.experiments.incident import SymptomParams
from keepalive_lab.experiments import EXPERIMENTS
from keepalive_lab.lab.testbed import Testbed
from keepalive_lab.lab.timescale import DEFAULT_SCALE

from .conftest import WAIT, Lines


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_claim_holds(name):
    exp = EXPERIMENTS[name]
    result = exp.run(exp.params(), DEFAULT_SCALE)
    failed = [f"{c.text} (measured: {c.evidence})" for c in result.claims if not c.held]
    assert not failed, failed
    assert result.claims, "an experiment must check something"
    # Bounded in time: never much beyond the timeouts it has to witness.
    assert result.wall_seconds < 3 * exp.floor(result.params, DEFAULT_SCALE) + 10


@pytest.mark.slow
def test_the_symptom_disappears_under_each_fix():
    fixes = [f.name for f in FIXES if f.name != "baseline"]
    params = replace(SymptomParams(), duration=120.0)

    def run(fix: str):
        return fix, EXPERIMENTS["symptom"].run(replace(params, fix=fix), DEFAULT_SCALE)

    with ThreadPoolExecutor(len(fixes)) as pool:
        results = dict(pool.map(run, fixes))
    for fix, result in results.items():
        requests = result.tables["requests"]
        assert (requests["outcome"] == "timeout").sum() == 0, fix
        assert not result.claim("some_timeouts").held, fix
        assert result.claim("before_ok").held, fix


def _socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass  # closed while we looked
    return count


def test_an_interrupted_testbed_leaves_no_thread_or_socket_behind():
    threads_before = set(threading.enumerate())
    sockets_before = _socket_fds()
    with pytest.raises(KeyboardInterrupt):
        with Testbed(DEFAULT_SCALE) as bed:
            bed.fleet.scale_out("LB1")
            bed.fleet.scale_out("LB2")
            bed.serial_client("a", gaps=[1.0] * 100, duration=100, node="LB1")
            # "a" first: once LB1 has served it, LB1's pooled connection holds the server's one slot.
            assert bed.lb_log.wait_for(lambda rs: any(r.node == "LB1" and r.status == 200 for r in rs), WAIT)
            b_started = time.monotonic()
            bed.serial_client("b", gaps=[1.0] * 100, duration=100, node="LB2")
            # The middle of the run: LB2's connection for "b" waits in the accept queue, unserved.
            assert bed.queue.wait_for(lambda rs: any(r.at >= b_started and r.length >= 1 for r in rs), WAIT)
            assert not [r for r in bed.requests.records() if r.client == "b" and r.outcome == "ok"]
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of the run
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(5.0)  # already told to stop; some are finishing their last line
    assert {t.name for t in set(threading.enumerate()) - threads_before} == set()
    assert _socket_fds() <= sockets_before


# `python -m keepalive_lab run symptom`, plus a line on stderr once the fleet has scaled out to LB2 (40 s
# into the 240 article seconds): the run is in its middle, with clients and nodes busy, when that line comes.
_RUN_SYMPTOM_ANNOUNCING_LB2 = """
import runpy, sys
from keepalive_lab.lbmodel.fleet import Fleet

scale_out = Fleet.scale_out

def announcing_scale_out(self, name=None, config=None):
    node = scale_out(self, name, config)
    if name == "LB2":
        print("test: LB2 is out", file=sys.stderr, flush=True)
    return node

Fleet.scale_out = announcing_scale_out
sys.argv = ["keepalive_lab", "run", "symptom"]
runpy.run_module("keepalive_lab", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow
def test_ctrl_c_stops_a_run_from_the_command_line():
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_SYMPTOM_ANNOUNCING_LB2],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = Lines(proc.stdout), Lines(proc.stderr)
    try:
        first = stderr.wait_for(lambda line: True, 30)
        assert first and first.startswith("running symptom"), stderr.until_eof()  # (all of it, if the child died)
        assert stderr.wait_for(lambda line: line == "test: LB2 is out\n", 30), stderr.until_eof()  # mid-run: now
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 130
        assert "keepalive_lab: interrupted\n" in stderr.until_eof()
        assert "claims held" not in stdout.until_eof()  # stopped before the end: no summary
    finally:
        proc.kill()
        proc.wait(WAIT)
        stdout.close()
        stderr.close()
