"""Every experiment's claims hold in the incident's configuration; the fixes make the symptom go away.

These run the experiments at the book's default time scale (seconds each).
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

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_claim_holds(name):
    exp = EXPERIMENTS[name]
    result = exp.run(exp.params(), DEFAULT_SCALE)
    failed = [f"{c.text} (measured: {c.evidence})" for c in result.claims if not c.held]
    assert not failed, failed
    assert result.claims, "an experiment must check something"
    # Bounded in time: never much beyond the timeouts it has to witness.
    assert result.wall_seconds < 3 * exp.floor(result.params, DEFAULT_SCALE) + 10


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
            bed.serial_client("b", gaps=[1.0] * 100, duration=100, node="LB2")  # starved: waiting right now
            assert bed.lb_log.wait_for(lambda rs: len(rs) >= 2, 5.0)
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of the run
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(5.0)  # already told to stop; some are finishing their last line
    assert {t.name for t in set(threading.enumerate()) - threads_before} == set()
    assert _socket_fds() <= sockets_before


def test_ctrl_c_stops_a_run_from_the_command_line():
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepalive_lab", "run", "symptom"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr.readline().startswith("running symptom")
        time.sleep(1.5)  # let it get into the middle of the run: the interruption is the point
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 130
        assert "interrupted" in proc.stderr.read()
    finally:
        proc.kill()
        proc.stdout.close()
        proc.stderr.close()
