"""``list`` and ``run``: names, parameters, and one-line errors for bad ones (no experiment runs here)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import types
import typing

import pytest
from keepalive_lab.cli import main
from keepalive_lab.cli import run as run_module
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
        (["run", "symptom", "--scale", "nan"], "argument --scale: not a finite number: 'nan'"),
        (["run", "symptom", "--scale", "inf"], "argument --scale: not a finite number: 'inf'"),
        (["run", "symptom", "--scale", "1e-300"], "the time scale must be between 1 and 1000"),
        (["run", "symptom", "--duration", "inf"], "not a finite number"),
        (["run", "symptom", "--client-timeout", "1e400"], "not a finite number"),
        (["run", "symptom", "--duration", "1e9"], "duration must be between 0 and 86400"),
        (["run", "symptom", "--routing", "random"], "--routing"),
        (["run", "ghost", "--lb1-gap", "0.01"], "more than a thousand requests"),
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


# -- every numeric parameter of every runnable -----------------------------------------------------


def _numeric_flags() -> list[tuple[str, str]]:
    """(runnable, flag) for --scale and each int or float parameter (tuples of them too) of everything `run` runs."""
    cases = []
    for name, runnable in run_module.runnables().items():
        flags = ["--scale"]
        if runnable.params is not None:
            hints = typing.get_type_hints(runnable.params)
            for field in dataclasses.fields(runnable.params):
                kind = hints[field.name]
                inner = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else kind
                if inner in (int, float):
                    flags.append("--" + field.name.replace("_", "-"))
        cases += [(name, flag) for flag in flags]
    return cases


NUMERIC_FLAGS = _numeric_flags()


def test_the_loop_below_covers_every_kind_of_runnable():
    names = {name for name, _ in NUMERIC_FLAGS}
    assert names == set(run_module.runnables())
    assert {("symptom", "--seed"), ("grid", "--limits"), ("one_lb", "--gaps"), ("fidelity", "--jobs"),
            ("haproxy-two", "--scale")} <= set(NUMERIC_FLAGS)  # fmt: skip


@pytest.fixture
def nothing_runs(monkeypatch):
    """``run`` with every runnable's work replaced by a failure: a value let through fails the test, runs nothing."""
    real = run_module.runnables

    def refused_first():
        def run(params, scale):
            raise AssertionError(f"the run started with {params!r} at {scale!r}: the value was not refused")

        return {name: dataclasses.replace(r, run=run) for name, r in real().items()}

    monkeypatch.setattr(run_module, "runnables", refused_first)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e400", "1e-300"])
@pytest.mark.parametrize("name, flag", NUMERIC_FLAGS)
def test_every_numeric_parameter_refuses_nonsense_in_one_line(nothing_runs, capsys, name, flag, value):
    assert main(["run", name, flag, value]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("keepalive_lab: error: ")


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["run", "symptom", "--scale", "\uff12\uff10"], "argument --scale: not a number"),  # float() takes full-width 20
        (["run", "symptom", "--scale", "-1e3"], "the time scale must be between 1 and 1000"),
        (["run", "symptom", "--scale", " 20"], "argument --scale: not a number"),
        (["run", "ghost", "--lb1-gap", "1e-9"], "lb1-gap must be 0 or at least 0.001 article seconds"),
        (["run", "symptom", "--seed", "-1"], "--seed: must be >= 0"),
        (["run", "symptom", "--seed", "99999999999999999999"], "--seed: value out of range"),
        (["run", "symptom", "--seed", "\uff13"], "--seed: not an integer"),
        (["run", "symptom", "--seed", "9" * 5000], "--seed: value out of range"),  # int() itself refuses 4300+ digits
        (["run", "symptom", "--duration", "\uff11\uff12\uff10"], "--duration: not a number"),
        (["run", "symptom", "--duration", "1_000"], "--duration: not a number"),
        (["run", "symptom", "--duration="], "--duration: not a number"),
        (["run", "symptom", "--think-min", "-1e3"], "think-min must be between 0 and 86400"),  # not a flag of argparse's
        (["run", "one_lb", "--gaps", "5,nan"], "--gaps: not a finite number"),
        (["run", "grid", "--limits", "1,-2"], "--limits: must be >= 0"),
        (["run", "fidelity", "--jobs", "0"], "jobs must be between 1 and 32"),
        (["run", "symptom", "--routing", ""], "--routing"),
        (["run", "", "--seed", "1"], "nothing named ''"),
    ],
)
def test_more_bad_values_give_one_line_and_exit_2(nothing_runs, capsys, args, phrase):
    assert main(args) == 2
    out, err = capsys.readouterr()
    (line,) = err.splitlines()
    assert out == "" and phrase in line, err


def test_a_parameter_may_be_written_name_equals_value(nothing_runs, capsys):
    with pytest.raises(AssertionError, match=r"handler_latency=3.0, client_timeout=12.0\).*was not refused"):
        main(["run", "self_starvation", "--handler-latency=3", "--client-timeout", "12"])
    assert capsys.readouterr().out == ""


# -- output that cannot be written -----------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_json_file_on_a_full_disk_is_one_line_and_exit_1(monkeypatch, capsys):
    real = run_module.runnables
    done = types.SimpleNamespace(name="one_lb", claims=[], all_held=True, values={"x": 1}, table=None)
    monkeypatch.setattr(run_module, "runnables",
                        lambda: {n: dataclasses.replace(r, run=lambda p, s: done) for n, r in real().items()})  # fmt: skip
    assert main(["run", "one_lb", "--json", "/dev/full"]) == 1  # every claim held, but the result is lost
    out, err = capsys.readouterr()
    assert out.startswith("one_lb") and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if not line.startswith("running ")]  # the progress line
    assert "--json /dev/full: No space left on device" in line


def test_a_reader_gone_from_stdout_ends_list_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # `list | head -1`, with head gone before the first line
    try:
        result = subprocess.run([sys.executable, "-m", "keepalive_lab", "list"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=WAIT * 6)  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == ""  # 128 + SIGPIPE, as a shell reports `yes | head -1`
