"""``list`` and ``run``: names, parameters, and one-line errors for bad ones (no experiment runs here)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from keepalive_lab.experiments import EXPERIMENTS
from keepalive_lab.fidelity.matrix import MATRIX
from keepalive_lab.reallb.catalogue import SCENARIOS

from .conftest import WAIT


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keepalive_lab", *args], capture_output=True, text=True, timeout=WAIT * 6)


def test_list_names_everything_run_can_run():
    result = _cli("list")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert listed == [*EXPERIMENTS, *(sc.key for sc in SCENARIOS), "fidelity"]
    (scenarios,) = [line for line in result.stdout.splitlines() if line.startswith("Fidelity scenarios:")]
    assert scenarios.split(": ", 1)[1].split(", ") == [s.name for s in MATRIX]


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["run", "nope"], "nothing named 'nope'"),
        (["run", "symptom", "--bogus", "1"], "has no parameter '--bogus'"),
        (["run", "symptom", "--duration"], "--name value pairs"),
        (["run", "symptom", "--duration", "0"], "need 0 < scale-out-at < duration"),
        (["run", "symptom", "--seed", "x"], "--seed"),
        (["run", "symptom", "--fix", "nope"], "no fix 'nope'"),
        (["run", "race", "--gaps", ""], "gaps: one or more positive pauses"),
        (["run", "race", "--horizon", "10"], "horizon must outlast"),
        (["run", "grid", "--limits", "0"], "limits: one or more"),
        (["run", "grid", "--keep-alive", "maybe"], "not a boolean"),
        (["run", "ghost", "--lb2-at", "50"], "lb2-at"),
        (["run", "symptom", "--scale", "0"], "the time scale must be between 1 and 1000"),
        (["run", "symptom", "--scale", "nan"], "--scale must be a finite number"),
        (["run", "symptom", "--scale", "inf"], "--scale must be a finite number"),
        (["run", "symptom", "--scale", "1e-300"], "the time scale must be between 1 and 1000"),
        (["run", "symptom", "--duration", "inf"], "not a finite number"),
        (["run", "symptom", "--client-timeout", "1e400"], "not a finite number"),
        (["run", "symptom", "--duration", "1e9"], "duration must be between 0 and 86400"),
        (["run", "symptom", "--routing", "random"], "--routing"),
        (["run", "ghost", "--lb1-gap", "1e-9"], "more than a thousand requests"),
        (["run", "grid", "--limits", "1,2,3,4,5,6,7,8", "--node-counts", "1,2,3,4,5,6,7,8"], "cells; at most 200"),
        (["run", "haproxy-two", "--scale", "5"], "runs on real time"),
        (["run", "haproxy-two", "--gap", "1"], "takes no parameters"),
        (["run", "fidelity", "--scenarios", "nope"], "no scenario"),
        (["run", "symptom", "--json", "/nonexistent/dir/out.json"], "--json"),
        (["list", "--extra"], "unrecognized arguments"),
    ],
)
def test_bad_run_arguments_give_one_line_and_exit_2(args, phrase):
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and phrase in lines[0], result.stderr
