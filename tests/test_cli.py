"""``python -m keepalive_lab serve``: first line, clean stop on signals, one-line usage errors.

Where the Go reference program is built (tools/go_reference.sh), the tests that take ``program`` run it
too, with the same flags: it is the reference for what a flag means and for how the process stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from keepalive_lab.cli import main
from keepalive_lab.fidelity.process import find_go_reference
from keepalive_lab.lab.rawclient import RawClient, request_bytes

from .conftest import BAD_SERVE_FLAGS, WAIT, Lines

OURS = [sys.executable, "-m", "keepalive_lab", "serve"]


class _Serving:
    """A ``serve`` process (ours, or another ``command``), its port, and its stdout read with a deadline."""

    def __init__(self, *flags: str, command: list[str] = OURS) -> None:
        self.stderr = ""  # what the process wrote there, once it is stopped
        self.proc = subprocess.Popen(
            [*command, *flags],
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
        """Send ``sig`` and return the exit status; whatever happens, the process is reaped and its pipes closed.

        Once stopped, a second call only returns the status."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(WAIT)
        finally:
            self.proc.kill()
            self.proc.wait(WAIT)
            self.stdout.close()
            self.stderr = self.proc.stderr.read()  # the process is gone: EOF at once
            self.proc.stderr.close()


@pytest.fixture(params=["ours", "go"])
def program(request) -> list[str]:
    """The command that serves: ours, or the Go reference program (skipped when it is not built)."""
    if request.param == "ours":
        return OURS
    ref = find_go_reference()
    if ref is None:
        pytest.skip("the Go reference program is not built (tools/go_reference.sh)")
    return [str(ref.binary), "serve"]


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


# -- values Go refuses, refused alike ------------------------------------------------------------

# (flags, a phrase of our one-line error). The Go program refuses each with exit 2 and one line too.
DURATION_FLAGS = ("--read-timeout", "--write-timeout", "--idle-timeout", "--read-header-timeout", "--latency")
REFUSED_LIKE_GO = [
    *[([flag, "3000000h"], "out of range") for flag in DURATION_FLAGS],
    (["--latency", "2562047h47m16.854775808s"], "out of range"),  # one nanosecond past an int64
    (["--read-timeout", "-9223372036854775809ns"], "out of range"),
    (["--read-timeout", " 1s"], "invalid duration"),
    (["--read-timeout", "1s "], "invalid duration"),
    (["--read-timeout", ""], "invalid duration"),
    (["--read-timeout", "00"], "invalid duration"),
    (["--read-timeout", "1e3s"], "invalid duration"),
    (["--read-timeout", "\uff11s"], "invalid duration"),  # a full-width digit
    (["--addr", "127.0.0.1:\uff18\uff10"], "want HOST:PORT"),  # full-width 80: int() would take it
    (["--addr", "127.0.0.1:\u0668\u0660"], "want HOST:PORT"),  # Arabic-Indic 80
    (["--addr", "127.0.0.1:70000"], "want HOST:PORT"),
    (["--addr", "127.0.0.1:+80"], "want HOST:PORT"),
    (["--addr", "127.0.0.1:"], "want HOST:PORT"),
    (["--addr", "127.0.0.1:" + "9" * 5000], "want HOST:PORT"),
    (["--addr", "127.0.0.1: 80"], "want HOST:PORT"),
    (["--addr", ":0"], "not an IPv4 loopback address"),
    (["--limit", "\uff11"], "not an integer"),
    (["--limit", "1_0"], "not an integer"),
    (["--limit", " 1"], "not an integer"),
    (["--limit", ""], "not an integer"),
    (["--limit", "0x10"], "not an integer"),
    (["--limit", "99999999999999999999"], "value out of range"),  # Go: "not an integer"
    (["--limit", "-99999999999999999999"], "value out of range"),
    (["--limit", "-1"], "must be >= 0"),
    (["--max-header-bytes", "-5"], "must be >= 0"),
    (["--body-bytes", "1.5"], "not an integer"),
    (["--port", "1"], "unrecognized arguments: --port"),
    (["--limit"], "expected one argument"),
]


@pytest.mark.parametrize("flags, phrase", REFUSED_LIKE_GO)
def test_values_go_refuses_give_one_line_and_exit_2(capsys, flags, phrase):
    assert main(["serve", *flags]) == 2  # in-process: a refusal happens before anything starts
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and phrase in err, err


@pytest.mark.parametrize("flags", [f for f, _ in REFUSED_LIKE_GO], ids=[" ".join(f)[:40] for f, _ in REFUSED_LIKE_GO])
def test_the_go_program_refuses_them_too(flags):
    ref = find_go_reference()
    if ref is None:
        pytest.skip("the Go reference program is not built (tools/go_reference.sh)")
    result = subprocess.run([str(ref.binary), *flags], capture_output=True, text=True, timeout=WAIT * 2)
    assert result.returncode == 2 and result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize("flags", [["--read-timeout", "3000000h"], ["--read-timeout", " 1s"],
                                   ["--addr", "127.0.0.1:\uff18\uff10"]])  # fmt: skip
def test_the_serve_process_refuses_them_with_exit_2(flags):
    result = subprocess.run([*OURS, *flags], capture_output=True, text=True, timeout=WAIT * 4)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_a_body_too_large_to_build_is_refused(capsys):
    # The Go program panics building it (strings.Repeat), exit 2 with a stack trace; ours says why.
    assert main(["serve", "--body-bytes", "9223372036854775807"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "argument --body-bytes: at most 1073741824 bytes" in line


# -- values Go takes, taken alike ----------------------------------------------------------------


def test_the_longest_go_durations_serve_without_an_internal_error(program):
    longest = "2562047h47m16.854775807s"  # an int64 of nanoseconds: as a float, more than Python can wait
    server = _Serving("--read-timeout", longest, "--write-timeout", longest, "--idle-timeout", longest,
                      "--read-header-timeout", longest, "--latency", "0", command=program)  # fmt: skip
    try:
        with RawClient(server.port) as client:
            assert client.request(request_bytes()).status == 200
            assert client.served_again(request_bytes())  # the idle deadline, 292 years away, held it open
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert server.stderr == ""


def test_the_longest_latency_is_a_handler_that_never_returns(program):
    server = _Serving("--latency", "2562047h47m16.854775807s", command=program)
    try:
        with RawClient(server.port) as client:
            client.send(request_bytes())
            assert client.gets_nothing_for(0.5)  # asleep, not failed
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert server.stderr == ""  # no "internal error", no "panic serving"


def test_signs_go_accepts_are_accepted(program):
    # strconv.Atoi takes "+1" and "-0"; a negative latency is no work at all.
    server = _Serving("--limit=+1", "--max-header-bytes=-0", "--latency=-1s", "--write-timeout=-1s", command=program)
    try:
        with RawClient(server.port) as client:
            start = time.monotonic()
            assert client.request(request_bytes()).status == 200
            assert time.monotonic() - start < 1.0
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert server.stderr == ""


def test_the_largest_max_header_bytes_answers_every_request_431(program):
    # strconv.Atoi takes any int64, but server.go initialReadLimitSize (MaxHeaderBytes + 4096) wraps
    # negative: the read limit is hit before the first byte, and readRequest fails with errTooLarge.
    server = _Serving("--latency", "0", "--max-header-bytes", str((1 << 63) - 1), command=program)
    text = b"431 Request Header Fields Too Large"
    headers = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    try:
        with RawClient(server.port) as client:
            client.send(request_bytes())
            raw = client.read_raw_until_close()
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert raw == b"HTTP/1.1 " + text + headers + text
    assert server.stderr == ""


@pytest.mark.parametrize("negative", [True, False], ids=["negative", "zero"])
def test_a_negative_idle_or_header_timeout_is_no_timeout_a_zero_one_falls_back(program, negative):
    # net/http arms a deadline only for d > 0, and falls back to ReadTimeout only when the field is 0.
    value = "-1s" if negative else "0s"
    server = _Serving("--latency", "0", "--read-timeout", "300ms", f"--idle-timeout={value}",
                      f"--read-header-timeout={value}", command=program)  # fmt: skip
    try:
        with RawClient(server.port) as client:
            assert client.request(request_bytes()).status == 200
            time.sleep(0.8)  # idle past ReadTimeout
            assert client.served_again(request_bytes()) is negative
        with RawClient(server.port) as client:
            client.send(b"GET / HTTP/1.1\r\n")
            time.sleep(0.8)  # a head slower than ReadTimeout
            assert client.served_again(b"Host: lab\r\n\r\n") is negative
    finally:
        assert server.stop(signal.SIGTERM) == 0


# -- stopping --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_at_once_while_a_handler_is_at_work(program, sig):
    # Go's program catches both signals, calls srv.Close() (every connection closed, no handler
    # waited for) and exits 0; ours used to wait five seconds for the sleeping handler.
    server = _Serving("--latency", "10s", command=program)
    try:
        with RawClient(server.port) as client:
            client.send(request_bytes())
            assert client.gets_nothing_for(0.3)  # the handler is asleep
            start = time.monotonic()
            status = server.stop(sig)
            took = time.monotonic() - start
            assert client.read_raw_until_close(WAIT) == b""  # closed, unanswered
    finally:
        server.stop(signal.SIGKILL)
    assert status == 0, server.stderr
    assert took < 2.0, f"{took:.2f} s to stop"
    assert server.stderr == ""


# -- the access log ----------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_an_access_log_on_a_full_disk_is_reported_once_and_serving_goes_on(program):
    server = _Serving("--latency", "0", "--access-log", "/dev/full", command=program)
    try:
        with RawClient(server.port) as client:  # one connection, kept alive across every request
            for i in range(3):
                response = client.request(request_bytes(extra=f"X-Request-Id: r{i}\r\n"))
                assert response.status == 200 and response.body == b"ok\n"
                assert response.header("Connection") is None
    finally:
        status = server.stop(signal.SIGTERM)
    assert status == 0, server.stderr
    assert "Traceback" not in server.stderr
    if program is OURS:  # the Go program says nothing: its log's Write errors are ignored
        (line,) = server.stderr.splitlines()
        assert "--access-log /dev/full" in line and "No space left on device" in line
    else:
        assert server.stderr == ""
