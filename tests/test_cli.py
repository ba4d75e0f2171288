"""``python -m keepalive_lab serve``: first line, clean stop on signals, one-line usage errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from .conftest import BAD_SERVE_FLAGS, WAIT


def _start(*flags: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepalive_lab", "serve", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # flushed at once, before any request
    assert first.startswith("listening on 127.0.0.1:"), first
    return proc, int(first.rsplit(":", 1)[1])


def _stop(proc: subprocess.Popen, sig: int) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(WAIT)
    finally:
        proc.kill()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_and_stops_cleanly(sig):
    proc, port = _start("--latency", "1ms")
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=WAIT)
        assert response.status_code == 200 and response.text == "ok\n"
    finally:
        assert _stop(proc, sig) == 0


def test_serve_flags_reach_the_server(tmp_path):
    log = tmp_path / "access.jsonl"
    proc, port = _start(
        "--latency", "0", "--body-bytes", "2049", "--no-content-length", "--no-keep-alives",
        "--access-log", str(log),
    )  # fmt: skip
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/x", headers={"X-Request-Id": "r1"}, timeout=WAIT)
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["connection"] == "close"
    finally:
        assert _stop(proc, signal.SIGTERM) == 0
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["target"] == "/x" and record["request_id"] == "r1" and record["status"] == 200


@pytest.mark.parametrize("flags, message", BAD_SERVE_FLAGS)
def test_bad_flags_give_one_line_and_exit_2(flags, message):
    result = subprocess.run(
        [sys.executable, "-m", "keepalive_lab", "serve", *flags], capture_output=True, text=True, timeout=WAIT * 4
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_no_command_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "keepalive_lab"], capture_output=True, text=True, timeout=WAIT * 4)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
