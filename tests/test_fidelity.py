"""Fidelity: the scenario matrix against the real Go program and our server, and the harness itself.

The Go side needs the reference binary. When ``go`` is installed the binary is
(re)built with ``tools/go_reference.sh`` (quick when up to date); without Go,
an existing ``_build/go-reference/keepalive-go`` is used; with neither, the
Go comparison is skipped. Everything else runs against our server alone, and
against the recorded Go run in ``data/go-fidelity.json``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from keepalive_lab.fidelity.compare import KNOWN_VERSION_DIFFERENCES, compare, diff_events, summarise
from keepalive_lab.fidelity.matrix import MATRIX
from keepalive_lab.fidelity.process import (
    PROJECT_ROOT,
    ServerProcess,
    ServerStartError,
    find_go_reference,
    python_server_command,
)
from keepalive_lab.fidelity.report import RECORDING, fidelity_report, load_recording
from keepalive_lab.fidelity.transcript import (
    AFTER_RST_DELAY,
    AFTER_TIMEOUT,
    AT_ONCE,
    NEVER,
    UNCLASSIFIED,
    WireTimes,
    describe_body,
    normalise_headers,
)
from keepalive_lab.goserver.handlers import body_of, clean_path

from .conftest import BAD_SERVE_FLAGS, live_children

BUILD_SCRIPT = PROJECT_ROOT / "tools" / "go_reference.sh"
NO_TOOLCHAIN = 3  # go_reference.sh: "no toolchain available here"


def _needs_go_or_the_matrix(test):
    """Mark slow a test whose fixtures build the Go reference (``go_reference``) or run the whole matrix
    (``report``, ``ours``: about 20 s, a minute on a busy machine); everything else here takes milliseconds
    to half a second."""
    return pytest.mark.slow(pytest.mark.timeout(300)(test))


@pytest.fixture(scope="module")
def go_reference():
    """The Go reference program, built when Go is installed; None when there is no way to get it."""
    skip_reason = "Go is not installed (no `go` on PATH) and _build/go-reference/keepalive-go does not exist"
    if shutil.which("go"):
        built = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=900)
        if built.returncode == NO_TOOLCHAIN:
            skip_reason = f"the Go reference cannot be built here: {built.stderr.strip()}"
        else:
            assert built.returncode == 0, f"tools/go_reference.sh failed:\n{built.stdout}{built.stderr}"
    return find_go_reference(), skip_reason


@pytest.fixture
def go_required(go_reference):
    ref, skip_reason = go_reference
    if ref is None:
        pytest.skip(skip_reason)
    return ref


@pytest.fixture(scope="module")
def report(go_reference):
    """The matrix, run once for this module: ours against live Go when it is here, else the recording."""
    ref, _ = go_reference
    before = live_children()
    result = fidelity_report(ref)
    leftover = live_children() - before
    assert not leftover, f"server processes left behind: {leftover}"
    return result


@pytest.fixture(scope="module")
def ours(report) -> dict[str, list[dict]]:
    return report.ours


def _report(comparisons) -> str:
    return "\n".join(
        f"{c.scenario} {where}\n  go:   {g}\n  ours: {o}" for c in comparisons for where, g, o in c.unexplained
    )


# -- Go against ours -----------------------------------------------------------------------------


@_needs_go_or_the_matrix
def test_go_and_our_server_agree_on_every_scenario(go_required, report):
    assert report.source == "live" and report.go_version == go_required.go_version
    assert len(report.comparisons) == len(MATRIX)
    assert not report.unexplained, "differences from Go:\n" + _report(report.unexplained)
    assert all(events[-1] == {"conn": "server", "kind": "exit", "code": 0} for events in report.go.values())


@_needs_go_or_the_matrix
def test_our_server_agrees_with_the_recorded_go_run(ours):
    meta, go = load_recording(RECORDING)
    flags = {s.name: s.flags(WireTimes()) for s in MATRIX}
    stale = "the recording is out of date: python -m keepalive_lab.fidelity record"
    assert {name: s["flags"] for name, s in meta["scenarios"].items()} == flags, stale
    comparisons = compare(go, ours, meta["go_version"])
    assert not any(c.unexplained for c in comparisons), _report(comparisons)
    # Each known version difference is still real: the recording shows it.
    explained = {c.scenario for c in comparisons if c.explained}
    assert explained == {k.scenario for k in KNOWN_VERSION_DIFFERENCES if k.applies(meta["go_version"])}


@_needs_go_or_the_matrix
@pytest.mark.parametrize("flags, phrase", BAD_SERVE_FLAGS)
def test_both_programs_reject_bad_flags_alike(go_required, flags, phrase):
    # Skipped without Go, rather than passing on our half alone (tests/test_cli.py checks that half anyway).
    for command in (python_server_command(flags), [str(go_required.binary), *flags]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert result.returncode == 2 and result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and phrase in lines[0], (command[0], result.stderr)


def _get(port: int) -> bytes:
    response = httpx.get(f"http://127.0.0.1:{port}/x?q=1", headers={"X-Request-Id": "r1"}, timeout=10)
    return response.content


@_needs_go_or_the_matrix
@pytest.mark.parametrize("size", [0, 1, 3, 26, 27, 28, 2049])
def test_both_handlers_write_the_same_body_and_log_the_same_fields(go_required, tmp_path, size):
    bodies, records = [], []
    for name, command in (("ours", python_server_command), ("go", lambda f: [str(go_required.binary), *f])):
        log = tmp_path / f"{name}.jsonl"
        with ServerProcess(command(["--latency", "0", "--body-bytes", str(size), "--access-log", str(log)])) as s:
            body = _get(s.port)
        bodies.append(body)
        (line,) = log.read_text().splitlines()
        records.append(json.loads(line))
    assert bodies == [body_of(size), body_of(size)]
    ours, go = records
    assert list(ours) == list(go)  # same fields, same order
    same = ("method", "target", "proto", "status", "body_bytes", "request_id", "write_error")
    assert {k: ours[k] for k in same} == {k: go[k] for k in same} == {
        "method": "GET", "target": "/x?q=1", "proto": "HTTP/1.1", "status": 200, "body_bytes": size,
        "request_id": "r1", "write_error": ""}  # fmt: skip
    for record in records:  # CLOCK_MONOTONIC seconds on both sides, as time.monotonic()
        assert record["handler_start"] <= record["handler_end"] <= time.monotonic()
        assert record["conn_id"] == 1 and record["remote_addr"].startswith("127.0.0.1:")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", record["time"])


# -- the harness, against our server alone ------------------------------------------------------


def _only(events, conn, kind):
    return [e for e in events if e["conn"] == conn and e["kind"] == kind]


@_needs_go_or_the_matrix
def test_starvation_is_never_then_at_once(ours):
    events = ours["starve-n1"]
    (waiting, served) = _only(events, "B", "no response") + _only(events, "B", "response")
    assert waiting["timing"] == NEVER
    assert served["timing"] == AT_ONCE and served["status"] == "HTTP/1.1 200 OK"
    logs = _only(events, "server", "access log")
    assert [r[0] for r in logs[0]["requests"]] == ["A"]  # B left no trace while it waited
    assert [r[0] for r in logs[-1]["requests"]] == ["A", "B"]


@_needs_go_or_the_matrix
def test_idle_fallback_is_classed_after_the_timeout(ours):
    (b,) = _only(ours["idle-fallback"], "B", "response")
    (a_close,) = _only(ours["idle-fallback"], "A", "close")
    assert b["timing"] == a_close["timing"] == AFTER_TIMEOUT
    assert 1.0 <= a_close["seconds"] < 1.9


@_needs_go_or_the_matrix
def test_responses_are_normalised(ours):
    first = _only(ours["framing-2049"], "A", "response")[0]
    assert first["headers"] == [["Date", "<date>"], ["Content-Type", "text/plain; charset=utf-8"],
                                ["Transfer-Encoding", "chunked"]]  # fmt: skip
    assert first["chunked"] and first["chunks"] == [2049]
    assert first["body"].startswith("2049 bytes, sha256 ")
    (kept,) = _only(ours["keep-alive"], "A", "close")
    assert kept["how"] == "eof" and kept["timing"] == AFTER_TIMEOUT


@_needs_go_or_the_matrix
def test_the_ghost_request_is_logged_after_its_client_left(ours):
    final = _only(ours["ghost"], "server", "access log")[-1]
    assert final["final"] and [(r[0], r[-1]) for r in final["requests"]] == [("A", ""), ("G", "ghost"), ("C", "after")]


@_needs_go_or_the_matrix
def test_every_run_exits_cleanly_without_harness_errors(ours):
    for name, events in ours.items():
        assert events[-1] == {"conn": "server", "kind": "exit", "code": 0}, name
        assert not [e for e in events if e["kind"] == "error"], (name, events)


@pytest.mark.parametrize(
    "seconds, expected",
    [(None, NEVER), (0.0, AT_ONCE), (0.34, AT_ONCE), (0.42, UNCLASSIFIED), (0.5, AFTER_RST_DELAY),
     (0.89, AFTER_RST_DELAY), (1.0, AFTER_TIMEOUT), (1.85, AFTER_TIMEOUT), (2.2, UNCLASSIFIED)],
)  # fmt: skip
def test_timing_classes(seconds, expected):
    assert WireTimes().classify(seconds) == expected


def test_timing_windows_must_not_overlap():
    with pytest.raises(ValueError):
        WireTimes(timeout=0.5)  # the idle timeout would coincide with rstAvoidanceDelay
    with pytest.raises(ValueError):
        WireTimes(client=1.2)


def test_normalisation_keeps_order_and_masks_only_a_well_formed_date():
    raw = [(b"Connection", b"close"), (b"Date", b"Fri, 27 Nov 2026 03:30:23 GMT"), (b"date", b"yesterday")]
    assert normalise_headers(raw) == [["Connection", "close"], ["Date", "<date>"], ["date", "yesterday"]]
    assert describe_body(b"ok\n") == "ok\n"
    assert describe_body(b"x" * 65).startswith("65 bytes, sha256 ")


def test_diffs_ignore_raw_times_and_name_the_field():
    go = [{"conn": "A", "kind": "close", "how": "eof", "timing": AT_ONCE, "seconds": 0.01}]
    ours = [{"conn": "A", "kind": "close", "how": "reset", "timing": AT_ONCE, "seconds": 0.2}]
    assert diff_events(go, go) == []
    assert diff_events(go, ours) == [("#0 A close.how", "eof", "reset")]
    assert diff_events(go, []) == [("#0", {"conn": "A", "kind": "close", "how": "eof", "timing": AT_ONCE}, None)]


def test_known_differences_explain_only_their_exact_values():
    (idle,) = [k for k in KNOWN_VERSION_DIFFERENCES if k.scenario == "idle-no-timeout"]
    assert idle.applies("go1.19.8") and not idle.applies("go1.23.5")
    go = [{"conn": "A", "kind": "send"}, {"conn": "A", "kind": "response"},
          {"conn": "A", "kind": "close", "how": "eof", "timing": AFTER_TIMEOUT}]  # fmt: skip
    ours = go[:2] + [{"conn": "A", "kind": "close", "how": "open", "timing": NEVER}]
    (c,) = compare({"idle-no-timeout": go}, {"idle-no-timeout": ours}, "go1.19.8",
                   [s for s in MATRIX if s.name == "idle-no-timeout"])  # fmt: skip
    assert c.verdict == "explained" and not c.unexplained
    (c,) = compare({"idle-no-timeout": go}, {"idle-no-timeout": ours}, "go1.23.5",
                   [s for s in MATRIX if s.name == "idle-no-timeout"])  # fmt: skip
    assert c.verdict == "NO"  # on a Go that behaves as ours, the same gap is a bug


@_needs_go_or_the_matrix
def test_summaries_read_as_a_line(ours):
    assert summarise(ours["fix-conn-close"]).startswith("A 200 close at once; B 200 close at once; A eof at once")


def test_a_server_that_never_announces_itself_is_stopped():
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = ServerProcess(command, start_timeout=0.5)
    with pytest.raises(ServerStartError, match="no address line"):
        server.__enter__()
    assert server.returncode is not None  # reaped, not left running


def test_a_server_that_fails_to_start_reports_its_stderr():
    with pytest.raises(ServerStartError, match="must be >= 0"):
        with ServerProcess(python_server_command(["--limit", "-1"])):
            pass


# -- what the comparison with Go pinned down, checked in-process -------------------------------


def _read_until_close(client, timeout: float = 5.0) -> tuple[bytes, str, float]:
    """All the server sends, how it ended (``eof``/``reset``), and the seconds from its first byte to the end."""
    client.sock.settimeout(timeout)
    data, first = b"", None
    while True:
        try:
            chunk = client.sock.recv(65536)
        except ConnectionResetError:
            how = "reset"
            break
        first = first or time.monotonic()
        if not chunk:
            how = "eof"
            break
        data += chunk
    return data, how, time.monotonic() - first


@pytest.mark.parametrize("limit, how", [(1, "reset"), (0, "eof")])
def test_behind_limit_listener_go_lingers_without_a_fin(lab_factory, limit, how):
    # x/net's limitListenerConn hides CloseWrite, so closeWriteAndWait cannot half-close.
    lab = lab_factory(limit=limit, max_header_bytes=1024, rst_avoidance_delay=0.3)
    too_big = b"GET / HTTP/1.1\r\nHost: lab\r\nX-Pad: " + b"p" * 6000 + b"\r\n\r\n"
    with lab.connect() as client:
        client.send(too_big)
        data, closed, after = _read_until_close(client)
    assert data.startswith(b"HTTP/1.1 431 ") and closed == how
    assert (after >= 0.25) if limit else (after < 0.25)  # the linger, or a FIN right after the answer


def test_a_request_that_closes_is_not_drained(lab_factory):
    # transfer.go body.Close: "no trailer and closing the connection next": no read to EOF.
    lab = lab_factory(read_timeout=5)
    with lab.connect() as client:
        client.send(b"POST / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\nContent-Length: 1000\r\n\r\nshort")
        data, closed, after = _read_until_close(client)
    assert b"\r\nConnection: close\r\n" in data
    assert closed == "eof" and after < 2.0  # not the 5 s read deadline


@pytest.mark.parametrize(
    "path, clean",
    [("/", "/"), ("", "/"), ("//x", "/x"), ("/a/../b/", "/b/"), ("/a/./b", "/a/b"), ("/..", "/"), ("/x/", "/x/")],
)
def test_serve_mux_cleans_paths_as_go_does(path, clean):
    assert clean_path(path) == clean  # server.go cleanPath, path.Clean with the trailing slash kept
