"""``python -m keepalive_lab serve``: first line, clean stop on signals, one-line usage errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from .conftest import BAD_SERVE_FLAGS, WAIT, Lines


class _Serving:
    """A ``serve`` process, its port, and its stdout read with a deadline."""

    def __init__(self, *flags: str) -> None:
        self.stderr = ""  # what the process wrote there, once it is stopped
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "keepalive_lab", "serve", *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout = Lines(self.proc.stdout)
        first = self.stdout.wait_for(lambda line: True, WAIT * 4)  # flushed at once, before any request
        if first is None or not first.startswith("listening on 127.0.0.1:"):
            self.stop(signal.SIGKILL)
            raise AssertionError(f"no address line: {first!r}; stderr: {self.stderr!r}")
        self.port = int(first.rsplit(":", 1)[1])

    def stop(self, sig: int) -> int:
        """Send ``sig`` and return the exit status; whatever happens, the process is reaped and its pipes closed."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(WAIT)
        finally:
            self.proc.kill()
            self.proc.wait(WAIT)
            self.stdout.close()
            self.stderr = self.proc.stderr.read()  # the process is gone: EOF at once
            self.proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_and_stops_cleanly(sig):
    server = _Serving("--latency", "1ms")
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/", timeout=WAIT)
        assert response.status_code == 200 and response.text == "ok\n"
    finally:
        assert server.stop(sig) == 0, server.stderr


def test_serve_flags_reach_the_server(tmp_path):
    log = tmp_path / "access.jsonl"
    server = _Serving(
        "--latency", "0", "--body-bytes", "2049", "--no-content-length", "--no-keep-alives",
        "--access-log", str(log),
    )  # fmt: skip
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/x", headers={"X-Request-Id": "r1"}, timeout=WAIT)
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["connection"] == "close"
    finally:
        assert server.stop(signal.SIGTERM) == 0, server.stderr
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
