"""Routing: our ServeMux must answer every recorded request target as Go 1.23.4's did.

``data/go-routes.json`` holds the Go reference program's answers (status, Location, how the
connection ended) to 400 request heads drawn from a fixed seed (``keepalive_lab.fidelity.routes``):
every method the mux treats apart, targets in every form, dot segments, escapes, non-ASCII bytes,
``?`` and ``#``. Our server plays them all in about a second. With the Go binary built, Go is
played too and must still answer as recorded. Rerecord with
``python -m keepalive_lab.fidelity routes --record``; sweep afresh with ``routes --live --count 3000``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from keepalive_lab.fidelity.process import ServerProcess, find_go_reference, python_server_command
from keepalive_lab.fidelity.routes import (
    CLOSED,
    COUNT,
    FLAGS,
    KEPT,
    PROBE,
    RECORDING,
    SEED,
    Answer,
    Route,
    ask,
    compare,
    load_recording,
    routes,
    run_routes,
)

RERECORD = "the routes or the harness changed since the recording: python -m keepalive_lab.fidelity routes --record"


@pytest.fixture(scope="module")
def recording():
    return load_recording(RECORDING)


def test_the_recording_holds_exactly_the_generated_routes(recording):
    meta, go, requests = recording
    cases = routes(meta["count"], meta["seed"])
    assert (meta["count"], meta["seed"], meta["flags"], meta["probe"]) == (COUNT, SEED, FLAGS, PROBE.decode()), RERECORD
    assert [r.id for r in cases] == list(go), RERECORD
    assert all(requests[r.id] == r.request for r in cases), RERECORD


def test_the_routes_are_the_same_in_another_interpreter():
    code = "from keepalive_lab.fidelity.routes import routes; print(','.join(r.id for r in routes(50)))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert other.stdout.strip() == ",".join(r.id for r in routes(50))


def test_the_recorded_routes_cover_what_the_mux_decides(recording):
    _, go, requests = recording
    seen = {(requests[i].split(b" ", 1)[0].decode(), a.status) for i, a in go.items()}
    for method in ("GET", "HEAD", "OPTIONS", "POST", "CONNECT"):
        assert {(method, 200), (method, 301), (method, 400)} <= seen, method
    locations = [a.location for a in go.values() if a.location]
    assert any("%25" in loc for loc in locations)  # a cleaned escaped path, escaped once more
    assert any("?" in loc for loc in locations)  # the query kept
    assert {a.end for a in go.values()} == {KEPT, CLOSED}  # nothing left open until the client gave up


def test_our_server_answers_every_recorded_route_as_go_did(recording):
    meta, go, _ = recording
    cases = routes(meta["count"], meta["seed"])
    ours = run_routes(python_server_command, cases, jobs=4)
    differences = compare(cases, go, ours)
    assert not differences, "\n".join(differences)


def test_a_difference_is_reported_with_the_request_line_and_both_answers():
    route = Route("CONNECT", "http://lab/", host=False)
    lines = compare([route], {route.id: Answer(200, None, KEPT)}, {route.id: Answer(301, "/", KEPT)})
    assert lines == [f"{route.id} b'CONNECT http://lab/ HTTP/1.1' host=False: go: 200 kept | ours: 301 -> '/' kept"]
    assert compare([route], {}, {route.id: Answer(200, None, KEPT)})[0].endswith("go: missing | ours: 200 kept")


def test_ask_tells_a_kept_connection_from_a_closed_one():
    # Through our server: HTTP/1.1 keeps the connection (the probe is answered), HTTP/1.0 does not,
    # and a "*" target gets 400 with "Connection: close".
    with ServerProcess(python_server_command(FLAGS)) as server:
        assert ask(server.port, Route("GET", "/a/../b?q")) == Answer(301, "/b?q", KEPT)
        assert ask(server.port, Route("HEAD", "/x", version="HTTP/1.0")) == Answer(200, None, CLOSED)
        assert ask(server.port, Route("GET", "*")) == Answer(400, None, CLOSED)
        assert ask(server.port, Route("GET", "/%zz")) == Answer(400, None, CLOSED)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_go_still_answers_as_recorded(recording):
    ref = find_go_reference()
    if ref is None:
        pytest.skip("the Go reference is not built (make go-reference)")
    meta, go, _ = recording
    if ref.go_version != meta["go_version"]:
        pytest.skip(f"the Go reference here is {ref.go_version}, the recording {meta['go_version']}")
    cases = routes(meta["count"], meta["seed"])
    live = run_routes(lambda flags: [str(ref.binary), *flags], cases, jobs=4)
    differences = compare(cases, go, live)
    assert not differences, "Go no longer answers as recorded:\n" + "\n".join(differences)
