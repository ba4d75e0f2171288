"""``python -m keepalive_lab doctor``: the core passes here, the report's shape, and what missing parts do to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from keepalive_lab.cli import doctor, main
from keepalive_lab.lab import selfcheck

STATUSES = {"ok", "missing", "problem"}


def _doctor(capsys, *flags: str) -> tuple[int, list[str], dict]:
    """Run ``doctor --json`` in this process: exit status, the report's lines, the JSON object."""
    status = main(["doctor", "--json", *flags])
    lines = capsys.readouterr().out.splitlines()
    return status, lines[:-1], json.loads(lines[-1])


def _check(report: dict, name: str) -> dict:
    (found,) = [c for c in report["checks"] if c["name"] == name]
    return found


def test_the_core_lab_can_run_on_this_machine():
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "keepalive_lab", "doctor", "--json"], capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    core = {c["name"]: c for c in report["checks"] if c["core"]}
    assert set(core) == set(doctor.CORE)
    assert all(c["status"] == "ok" for c in core.values()), core
    assert "1 through TCP_INFO and 1 through /proc/net/tcp" in core["accept-queue"]["detail"]
    assert report["core_ready"] is True
    assert elapsed < 30, f"doctor took {elapsed:.1f} s"


def test_the_json_object_lists_every_check_with_name_status_detail_and_fix(capsys):
    status, lines, report = _doctor(capsys)
    assert status == 0
    assert set(report) == {"core_ready", "checks"}
    names = [c["name"] for c in report["checks"]]
    assert len(names) == len(set(names))
    for name in ("linux", "python", "package", "loopback", "accept-queue", "free-ports", "ss", "curl", "haproxy",
                 "nginx", "go", "go-x-packages", "go-reference", "chromium"):  # fmt: skip
        assert name in names
    for c in report["checks"]:
        assert set(c) == {"name", "status", "detail", "fix", "core"}
        assert c["status"] in STATUSES and c["detail"]
        assert bool(c["fix"]) == (c["status"] != "ok"), c  # a fix exactly when something is to fix
        # The human report has one line per check, starting with its status and name.
        assert any(line.split()[:2] == [c["status"], c["name"]] for line in lines), c["name"]


def test_a_missing_optional_program_is_reported_with_its_fix_and_the_exit_status_stays_0(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no curl, ss or chromium on PATH
    monkeypatch.setattr(doctor, "find_binary", lambda name: None)  # it also looks in /usr/sbin
    status, lines, report = _doctor(capsys)
    assert status == 0
    curl = _check(report, "curl")
    assert curl["status"] == "missing" and "apt-get install" in curl["fix"] and curl["fix"].endswith(" curl")
    assert _check(report, "ss")["fix"].endswith(" iproute2")
    assert _check(report, "chromium")["fix"].endswith("apt-get install -y --no-install-recommends chromium")
    haproxy = _check(report, "haproxy")
    assert haproxy["status"] == "missing" and haproxy["fix"].endswith("tools/system_packages.sh")
    assert f"fix: {curl['fix']}" in "\n".join(lines)
    assert report["core_ready"] is True


def _refused(*args, **kwargs):
    raise ConnectionRefusedError(111, "Connection refused")


def _broken(*args, **kwargs):
    raise ValueError("unexpected")


@pytest.mark.parametrize(
    "target, replacement, name, words",
    [
        ("accept_queue_readings", lambda: (1, 0), "accept-queue", "1 through TCP_INFO and 0 through /proc/net/tcp"),
        ("loopback_roundtrip", _refused, "loopback", "Connection refused"),
        ("free_ports", _broken, "free-ports", "the check itself failed: ValueError"),
    ],
)
def test_a_failing_core_check_makes_the_exit_status_1(capsys, monkeypatch, target, replacement, name, words):
    monkeypatch.setattr(selfcheck, target, replacement)
    status, lines, report = _doctor(capsys)
    assert status == 1
    failed = _check(report, name)
    assert failed["status"] == "problem" and words in failed["detail"] and failed["fix"]
    assert report["core_ready"] is False
    assert "the core lab cannot run here" in lines[-1]


def test_the_doctor_leaves_no_file_or_socket_open(capsys):
    main(["doctor"])  # the first run imports what the checks import
    before = set(os.listdir("/proc/self/fd"))
    assert main(["doctor"]) == 0
    capsys.readouterr()
    assert set(os.listdir("/proc/self/fd")) == before


def test_a_bad_flag_is_one_line_and_exit_status_2(capsys):
    assert main(["doctor", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --bogus" in err
