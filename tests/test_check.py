"""``check``, the black-box probe: each verdict from a server built to earn it, and the CLI's contract.

The servers are the lab server in its Go configurations, Python's own ``http.server`` (single-
threaded and threaded), a Go program of ``code/go-fixes/`` where Go is installed, and small
socket servers that refuse at a limit. Timeouts are short (``PROMPT``, ``TIMEOUT``) so that a
starving server costs about a second and a half.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from keepalive_lab.cli import main
from keepalive_lab.kernel import tcp_sockets
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.programs import Program
from keepalive_lab.probe import ProbeError, Verdict, check, report

ROOT = Path(__file__).resolve().parents[1]
PROMPT, TIMEOUT = 0.3, 1.5


def _client_sockets_open(port: int) -> list:
    """The probe's side of its connections that are still open (the server's side is not counted)."""
    return [s for s in tcp_sockets() if s.remote.endswith(f":{port}") and s.state in ("ESTAB", "CLOSE-WAIT")]


def _probe(port: int, **kw):
    result = check("127.0.0.1", port, prompt=PROMPT, timeout=TIMEOUT, **kw)
    assert not _client_sockets_open(port), "the probe left connections open"
    assert len(result.steps) <= result.max_idle + 1
    return result


def _lab(**kw):
    return start_server(ServerConfig(latency=0.0, **kw))


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_limit_listener_starves_behind_as_many_idle_connections_as_its_limit(limit):
    with _lab(limit=limit) as srv:
        result = _probe(srv.port)
    assert result.verdict is Verdict.STARVES
    assert result.idle_connections == limit
    assert result.steps[-1].outcome == "no-answer" and result.steps[-1].seconds >= TIMEOUT
    assert result.accept_queue == 1, "the fresh connection should be waiting in the kernel's accept queue"
    assert result.exit_code == 1


@pytest.mark.parametrize("fix", [{"keep_alives": False}, {"conn_close": True}])
def test_a_server_that_keeps_nothing_alive_is_ok_with_zero_idle_connections(fix):
    with _lab(limit=1, **fix) as srv:
        result = _probe(srv.port)
    assert (result.verdict, result.idle_connections, result.keeps_alive) == (Verdict.OK, 0, False)
    assert result.exit_code == 0


def test_an_idle_timeout_shorter_than_the_wait_shows_as_a_delay():
    with _lab(limit=1, idle_timeout=0.8) as srv:
        result = _probe(srv.port)
    assert result.verdict is Verdict.DELAYS
    assert result.idle_connections == 1
    assert PROMPT < result.delay_s < TIMEOUT
    assert result.steps[-1].idle_closed == 1
    assert result.idle_lifetimes_s and abs(result.idle_lifetimes_s[0] - 0.8) < 0.3
    assert result.exit_code == 1


def test_culling_idle_connections_at_the_limit_serves_fresh_ones_at_once():
    with _lab(limit=1, cull_idle=True) as srv:
        result = _probe(srv.port)
    assert result.verdict is Verdict.OK
    assert all(step.outcome == "answered" and step.seconds < PROMPT for step in result.steps)
    assert sum(step.idle_closed for step in result.steps) >= 1


def test_a_limit_on_work_not_connections_is_ok_up_to_max_idle():
    with _lab(limit=0, work_limit=1) as srv:
        result = _probe(srv.port, max_idle=4)
    assert (result.verdict, result.idle_connections) == (Verdict.OK, 4)
    assert len(result.steps) == 5


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        with contextlib.suppress(OSError):  # the probe may have given up on a queued request
            self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        with contextlib.suppress(OSError):
            super().handle_one_request()


@contextlib.contextmanager
def _python_server(server_class):
    server = server_class(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_pythons_single_threaded_http_server_starves_behind_one_idle_connection():
    with _python_server(http.server.HTTPServer) as port:
        result = _probe(port)
    assert (result.verdict, result.idle_connections) == (Verdict.STARVES, 1)


def test_pythons_threading_http_server_is_ok():
    with _python_server(http.server.ThreadingHTTPServer) as port:
        result = _probe(port, max_idle=3)
    assert (result.verdict, result.idle_connections) == (Verdict.OK, 3)


@contextlib.contextmanager
def _refusing_server(limit: int, answer: bytes | None):
    """Serves ``limit`` connections, keeps them alive; past the limit answers ``answer`` (or resets)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                if len(held) < limit:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    held.append(conn)
                    continue
                if answer is None:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                else:
                    conn.sendall(answer)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@pytest.mark.parametrize(
    "answer, status",
    [
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 503),
        (b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n", 429),
        (None, None),  # reset at once
    ],
)
def test_a_server_that_refuses_at_its_limit_rejects(answer, status):
    with _refusing_server(2, answer) as port:
        result = _probe(port)
    assert (result.verdict, result.idle_connections) == (Verdict.REJECTS, 2)
    assert result.steps[-1].status == status
    assert result.exit_code == 0


def test_nothing_listening_is_an_error_not_a_verdict():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(ProbeError, match="nothing accepts"):
        check("127.0.0.1", port, prompt=PROMPT, timeout=TIMEOUT)


def test_a_server_already_full_is_an_error_not_a_verdict():
    with _lab(limit=1) as srv, socket.create_connection(("127.0.0.1", srv.port)) as holder:
        holder.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        holder.recv(1024)
        with pytest.raises(ProbeError, match="no answer"):
            check("127.0.0.1", srv.port, prompt=PROMPT, timeout=0.6)


@pytest.mark.parametrize(
    "kw, message",
    [({"prompt": 0}, "--prompt"), ({"prompt": 2, "timeout": 1}, "--timeout"), ({"max_idle": 0}, "--max-idle"),
     ({"max_idle": 65}, "--max-idle"), ({"prompt": float("nan")}, "--prompt")],
)  # fmt: skip
def test_settings_out_of_range_are_refused(kw, message):
    with pytest.raises(ProbeError, match=message):
        check("127.0.0.1", 9, **kw)


def test_the_cli_prints_a_report_and_a_json_last_line_and_exits_by_verdict(capsys):
    with _lab(limit=1) as srv:
        code = main(["check", f"127.0.0.1:{srv.port}", "--prompt", "300ms", "--timeout", "1.5", "--json"])
    out = capsys.readouterr().out.splitlines()
    verdict = json.loads(out[-1])
    assert code == 1
    assert verdict["verdict"] == "starves" and verdict["idle_connections"] == 1 and verdict["delay_s"] is None
    assert any(line.startswith("verdict: starves") for line in out)
    assert any(line.startswith("what it means:") for line in out)


@pytest.mark.parametrize(
    "argv",
    [["check"], ["check", "nohost"], ["check", "127.0.0.1:0"], ["check", "127.0.0.1:70000"],
     ["check", ":80", "--prompt", "-1"], ["check", ":80", "--timeout", "inf"], ["check", ":80", "--max-idle", "x"],
     ["check", ":80", "--path", "no-slash"], ["check", ":80", "--bogus"], ["check", "127.0.0.1:1"]],
)  # fmt: skip
def test_the_cli_refuses_bad_usage_with_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]


def test_report_words_every_step():
    with _lab(limit=2) as srv:
        result = _probe(srv.port)
    text = report(result)
    assert text.count("a fresh request:") == len(result.steps) == 3
    assert "accept queue" in text
    assert [s.at_s for s in result.steps] == sorted(s.at_s for s in result.steps) and result.steps[-1].at_s > 0


@pytest.fixture(scope="module")
def go_incident() -> Path:
    built = subprocess.run([str(ROOT / "tools" / "go_build.sh"), "incident"], capture_output=True, text=True,
                           timeout=900, cwd=ROOT)  # fmt: skip
    if built.returncode == 3:
        pytest.skip("no Go toolchain here")
    assert built.returncode == 0, built.stderr
    return ROOT / "_build" / "go-fixes" / "incident"


def test_the_go_incident_program_starves(go_incident):
    with Program([go_incident, "-addr", "127.0.0.1:0"]) as program:
        port = int(program.wait_for(r"listening on 127\.0\.0\.1:(\d+)", timeout=10).group(1))
        result = _probe(port)
    assert (result.verdict, result.idle_connections) == (Verdict.STARVES, 1)
