"""The hostile corpus: our server must answer every case as the recorded Go run did.

The comparison plays the whole corpus (at least 1,500 cases) against our server, eight servers at a
time, and compares it with ``data/go-hostile.json``; it takes about 20 s on two cores, plus a second
look at any case that differs. With the Go reference binary built, Go is also played live and must still
answer as recorded. The rest checks the corpus, the recording's bookkeeping and the harness itself,
in milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from keepalive_lab.fidelity.hostile.case import AWAIT, RESET, SEND, SHUT_WR, Case, Step, raw, single
from keepalive_lab.fidelity.hostile.compare import compare_outcomes, hostile_comparison
from keepalive_lab.fidelity.hostile.corpus import CLASSES, classes_of, corpus
from keepalive_lab.fidelity.hostile.known import GO_SOURCE, KNOWN_DIFFERENCES, known_for
from keepalive_lab.fidelity.hostile.mutations import MUTATION_CLASSES, mutations
from keepalive_lab.fidelity.hostile.outcome import CLIENT_RESET, CLOSED, GARBLED, KEPT, PARTIAL, Outcome, ResponseStream
from keepalive_lab.fidelity.hostile.recording import RECORDING, corpus_digest, load_recording, save_last_run
from keepalive_lab.fidelity.hostile.runner import HEALTH, PROBE, HostileTimes, hostile_flags, play, run_corpus, served
from keepalive_lab.fidelity.process import find_go_reference, go_server_command
from keepalive_lab.goserver.handlers import ArticleHandler

from .conftest import live_children

RERECORD = "the corpus or the harness changed since the recording: python -m keepalive_lab.fidelity hostile --record"


@pytest.fixture(scope="module")
def comparison():
    """The corpus against our server, compared with the recorded Go run; kept for the fidelity appendix."""
    before = live_children()
    result = hostile_comparison()
    assert not live_children() - before, "server processes left behind"
    save_last_run(result.summary())
    return result


# -- our server against Go ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_our_server_answers_every_hostile_case_as_go_did(comparison):
    assert not comparison.missing and not comparison.stale, RERECORD
    if comparison.unexplained:
        pytest.fail(comparison.report(), pytrace=False)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_known_difference_still_shows(comparison):
    meta, _ = load_recording()
    explained = {d.case.id for d in comparison.explained}
    assert explained == {k.case_id for k in known_for(meta["go_version"])}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_go_still_answers_as_recorded():
    ref = find_go_reference()
    if ref is None:
        pytest.skip("the Go reference is not built (make go-reference)")
    meta, recorded = load_recording()
    if ref.go_version != meta["go_version"]:
        pytest.skip(f"the Go reference here is {ref.go_version}, the recording {meta['go_version']}")
    cases = corpus()
    live = run_corpus(lambda flags: go_server_command(ref.binary, flags), cases, HostileTimes())
    unexplained, _, missing, _ = compare_outcomes(cases, recorded, live, meta["go_version"])
    assert not missing, RERECORD
    if unexplained:
        pytest.fail("Go no longer answers as recorded:\n" + "\n".join(d.line() for d in unexplained), pytrace=False)


# -- the corpus and the recording -------------------------------------------------------------------------


def test_the_recording_holds_exactly_the_generated_cases():
    meta, go = load_recording(RECORDING)
    ids = [c.id for c in corpus()]
    missing, stale = sorted(set(ids) - set(go)), sorted(set(go) - set(ids))
    assert not missing and not stale, f"{RERECORD}\nmissing: {missing[:20]}\nno longer generated: {stale[:20]}"
    assert meta["corpus_digest"] == corpus_digest(corpus()), RERECORD
    assert meta["flags"] == hostile_flags(HostileTimes()) and meta["times"] == HostileTimes().as_json(), RERECORD
    assert (meta["probe"], meta["health_check"]) == (PROBE.decode("latin-1"), HEALTH.decode("latin-1")), RERECORD


def test_go_kept_serving_after_every_recorded_case():
    _, go = load_recording(RECORDING)
    assert all(o.served_after for o in go.values())
    assert {o.end for o in go.values()} <= {KEPT, CLOSED, CLIENT_RESET}  # nothing hung until the client gave up


def test_the_corpus_is_large_and_covers_every_class():
    cases = corpus()
    assert len(cases) >= 1500
    assert len({c.id for c in cases}) == len(cases)
    counts = classes_of()
    assert list(counts) == [*CLASSES, *MUTATION_CLASSES]
    assert all(n >= 10 for n in counts.values()), counts


def test_case_ids_are_the_same_in_another_interpreter():
    # No id may depend on str hashing or on anything else that changes between runs.
    script = "from keepalive_lab.fidelity.hostile.corpus import corpus; " \
             "from keepalive_lab.fidelity.hostile.recording import corpus_digest; print(corpus_digest(corpus()))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
                         check=False)  # fmt: skip
    assert out.stdout.strip() == corpus_digest(corpus()), out.stderr


def test_a_case_id_follows_what_the_client_does_not_the_prose():
    a = single("k", "one", raw())
    assert a.id == single("k", "another description", raw()).id
    assert a.id != single("k", "one", raw(target="/x")).id
    assert a.id != Case("k", "one", (Step(SEND, raw()), Step(SHUT_WR))).id
    assert a.id.startswith("k-") and len(a.id) == len("k-") + 10


def test_mutations_come_from_the_seed():
    first = [c.id for c in mutations(7, per_operator=5)]
    assert first == [c.id for c in mutations(7, per_operator=5)]
    assert first != [c.id for c in mutations(8, per_operator=5)]


def test_every_known_difference_has_its_reason_and_go_source():
    for k in KNOWN_DIFFERENCES:
        assert k.kind in ("version", "timing") and k.why
        assert k.go_source.startswith(GO_SOURCE) and "#L" in k.go_source
        assert k.case_id in {c.id for c in corpus()}


# -- the harness ---------------------------------------------------------------------------------------


def test_the_stream_frames_by_length_chunks_and_close():
    s = ResponseStream()
    s.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok")
    assert s.statuses == [200] and s.busy and not s.finals
    s.feed(b"\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert s.statuses == [200, 100, 200] and s.finals == 2 and not s.busy and not s.last_closing
    s.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # the answer to OPTIONS *, the probe
    assert s.last_empty and not s.busy
    s.feed(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400 Bad Request")
    assert s.busy
    s.eof()
    assert s.statuses == [200, 100, 200, 200, 400] and s.finals == 4 and s.last_closing and not s.last_empty


def test_the_stream_reads_go_error_replies_to_head_and_marks_junk():
    s = ResponseStream(methods=("HEAD", "HEAD"))
    s.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n")  # a HEAD answer: no body
    s.feed(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400 Bad Request")  # Go writes it anyway
    s.eof()
    assert s.statuses == [200, 400] and s.finals == 2
    junk = ResponseStream()
    junk.feed(b"SSH-2.0\r\n\r\n")
    assert junk.statuses == [GARBLED] and not junk.busy
    cut = ResponseStream()
    cut.feed(b"HTTP/1.1 200 OK\r\nContent-")
    cut.eof()
    assert cut.statuses == [PARTIAL]


def test_outcomes_read_as_a_line_and_round_trip():
    o = Outcome((200, 400), CLOSED, False)
    assert o.short() == "200 400 closed, not served after"
    assert Outcome.from_json(o.as_json()) == o
    assert Outcome((), CLIENT_RESET).short() == "- client reset"


def test_the_runner_tells_kept_closed_and_client_reset_apart(lab_factory):
    times = HostileTimes()
    lab = lab_factory(limit=1, read_timeout=times.read_timeout, idle_timeout=times.idle_timeout)
    expected = [
        (single("t", "a GET", raw()), ((200, 200), KEPT)),  # the probe's answer is the second 200
        (single("t", "garbage", b"GARBAGE\r\n\r\n"), ((400,), CLOSED)),
        (single("t", "HTTP/1.0", raw(version="HTTP/1.0", headers=())), ((200,), CLOSED)),
        (Case("t", "half-close", (Step(SEND, raw()), Step(SHUT_WR))), ((200,), CLOSED)),
        (Case("t", "reset", (Step(SEND, raw()), Step(AWAIT), Step(RESET))), ((200,), CLIENT_RESET)),
        (single("t", "a GET, then half a GET", raw() + b"GET / HTTP/1.1\r\nHost: la"), ((200, 400), CLOSED)),
    ]
    for case, outcome in expected:
        assert play(case, lab.port, times) == outcome, case.what
        assert served(lab.port, times), case.what  # behind LimitListener(1): the slot came back


def test_answers_slower_than_the_settle_time_come_before_the_probes(lab_factory):
    # The probe may go out before the answers to the case's own requests: its answer is still known.
    times = HostileTimes()
    lab = lab_factory(ArticleHandler(latency=2 * times.settle), read_timeout=times.read_timeout,
                      idle_timeout=times.idle_timeout)  # fmt: skip
    awaited = Case("t", "a GET, its answer, another GET", (Step(SEND, raw()), Step(AWAIT), Step(SEND, raw())))
    assert play(awaited, lab.port, times) == ((200, 200, 200), KEPT)
    assert play(single("t", "three GETs", raw() * 3), lab.port, times) == ((200, 200, 200, 200), KEPT)
