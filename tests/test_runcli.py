"""``list`` and ``run``: names, parameters, and one-line errors for bad ones (no experiment runs here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keepalive_lab.experiments import EXPERIMENTS

from .conftest import WAIT


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keepalive_lab", *args], capture_output=True, text=True, timeout=WAIT * 6)


def test_list_names_every_experiment():
    result = _cli("list")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(EXPERIMENTS)


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["run", "nope"], "no experiment 'nope'"),
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
        (["run", "symptom", "--scale", "0"], "--scale must be positive"),
        (["run", "symptom", "--json", "/nonexistent/dir/out.json"], "--json"),
        (["list", "--extra"], "unrecognized arguments"),
    ],
)
def test_bad_run_arguments_give_one_line_and_exit_2(args, phrase):
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and phrase in lines[0], result.stderr
