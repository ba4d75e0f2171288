"""The exercises' self-checks accept right answers and refuse wrong ones, deriving the right answer from
the parameters or the run they are given, never from a number typed into the book."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from keepalive_lab.bookkit.exercises import EXERCISES, SIZE_EXERCISE, ExerciseError, check


def _run(params=None, tables=None, values=None):
    return SimpleNamespace(params=params, tables=tables or {}, values=values or {})


def test_every_exercise_refuses_a_call_without_what_it_needs_or_an_unknown_name():
    with pytest.raises(ExerciseError, match="no exercise"):
        check("ex-nope", 1)
    for name in ("ex-client-timeout", "ex-queue-max", "ex-idle-timeout", "ex-limit-two", "ex-race-threshold",
                 "ex-predict-cell", "ex-ghost-late", "ex-fix-connections", "ex-maxconn", "ex-rx-queue"):  # fmt: skip
        with pytest.raises(ExerciseError, match="needs"):
            check(name, 1)


def test_the_client_timeout_check_follows_the_timers_of_the_students_run():
    req = pd.DataFrame({"node": ["LB2", "LB2", "LB1"], "outcome": ["504", "ok", "ok"]})
    longer = _run(SimpleNamespace(client_timeout=70.0), {"requests": req})
    assert check("ex-client-timeout", "504", result=longer)
    assert not check("ex-client-timeout", "timeout", result=longer)
    shorter = _run(SimpleNamespace(client_timeout=10.0), {"requests": req.assign(outcome="timeout")})
    assert check("ex-client-timeout", "timeout", result=shorter)
    assert not check("ex-client-timeout", "504", result=shorter)


def test_the_queue_check_compares_with_the_students_own_run():
    run = _run(values={"queue_max": 4, "timeouts": 4})
    assert check("ex-queue-max", 4, result=run) and not check("ex-queue-max", 5, result=run)


@pytest.mark.parametrize("idle, read, right, wrong", [(10, 30, 10, 30), (0, 30, 30, 0), (0, 12, 12, 30)])
def test_the_idle_timeout_check_is_go_s_fallback(idle, read, right, wrong):
    assert check("ex-idle-timeout", right + 1.0, idle_timeout=idle, read_timeout=read)  # within 1.5 s
    assert not check("ex-idle-timeout", wrong, idle_timeout=idle, read_timeout=read)


def test_the_limit_check_is_the_limit():
    assert check("ex-limit-two", 2, limit=2) and not check("ex-limit-two", 1, limit=2)
    assert check("ex-limit-two", 3, limit=3)


def test_the_race_threshold_is_the_smallest_gap_above_go_s_idle_timeout():
    assert check("ex-race-threshold", 32, gaps=(20, 28, 32, 40))
    assert not check("ex-race-threshold", 28, gaps=(20, 28, 32, 40))
    assert not check("ex-race-threshold", 30, gaps=(20, 28, 32, 40))
    with pytest.raises(ExerciseError, match="longer than Go's idle timeout"):
        check("ex-race-threshold", 20, gaps=(10, 20))


def test_the_grid_cell_check_uses_the_students_run_with_five_points_of_tolerance():
    run = _run(tables={"grid": pd.DataFrame({"timeout_rate": [0.11]})})
    assert check("ex-predict-cell", 14, result=run) and not check("ex-predict-cell", 25, result=run)
    with pytest.raises(ExerciseError, match="exactly one cell"):
        check("ex-predict-cell", 10, result=_run(tables={"grid": pd.DataFrame({"timeout_rate": [0.1, 0.2]})}))


def test_the_ghost_check_adds_go_s_idle_timeout_to_lb1_s_last_request():
    run = _run(values={"lb1_last_s": 55.2})
    assert check("ex-ghost-late", 86, result=run) and not check("ex-ghost-late", 60, result=run)


def test_the_connections_check_counts_the_students_run():
    states = pd.DataFrame({"state": ["new", "closed"] * 4})
    run = _run(tables={"states": states, "access": pd.DataFrame({"request_id": list("abcd")})})
    assert check("ex-fix-connections", 1.0, result=run) and not check("ex-fix-connections", 0.1, result=run)


def test_the_size_check_multiplies_the_exercise_s_own_numbers():
    expected = SIZE_EXERCISE["zones"] * SIZE_EXERCISE["nodes_per_zone"] * SIZE_EXERCISE["idle_per_node"]
    assert check("ex-size", expected) and not check("ex-size", expected - 1)
    assert check("ex-size", 3 * 2 * 4, idle_per_node=4)


def test_the_maxconn_check_reads_the_students_verdict_and_refuses_a_skipped_run():
    ran = pd.DataFrame({"scenario": ["haproxy-maxconn"], "status": ["ran"], "observed": ["starved"]})
    assert check("ex-maxconn", "Starved", result=_run(tables={"verdicts": ran}))
    assert not check("ex-maxconn", "served", result=_run(tables={"verdicts": ran}))
    with pytest.raises(ExerciseError, match="did not run"):
        check("ex-maxconn", "starved", result=_run(tables={"verdicts": ran.assign(status="skipped")}))


def test_the_rx_queue_check_decodes_the_row_it_is_given():
    row = "3: 0100007F:AA11 00000000:0000 0A 00000000:00000002 00:00000000 00000000"
    assert check("ex-rx-queue", 2, row=row) and not check("ex-rx-queue", 1, row=row)
    with pytest.raises(ExerciseError, match="LISTEN row"):
        check("ex-rx-queue", 0, row="not a row")


def test_non_numbers_are_refused_with_a_message():
    with pytest.raises(ExerciseError, match="number"):
        check("ex-limit-two", "two", limit=2)
    with pytest.raises(ExerciseError, match="finite"):
        check("ex-limit-two", float("nan"), limit=2)


def test_the_zoo_checks_derive_the_answer_from_the_settings_and_quote_the_students_run():
    from keepalive_lab.zoo.runner import ZooRow

    row = ZooRow("uvicorn-limit-2", "measured", verdict="rejects", most_idle=2)
    right = check("ex-zoo-uvicorn", 2, limit=3, result=row)
    assert right and "Your run: rejects with 2" in right.message
    assert not check("ex-zoo-uvicorn", 3, limit=3)
    assert check("ex-zoo-event", 5, factor=4) and not check("ex-zoo-event", 3, factor=4)
    with pytest.raises(ExerciseError, match="no verdict"):
        check("ex-zoo-event", 5, factor=4, result=ZooRow("apache-event", "error", evidence="did not start"))


def test_every_registered_exercise_is_tested_here():
    assert set(EXERCISES) == {"ex-client-timeout", "ex-queue-max", "ex-idle-timeout", "ex-limit-two",
                              "ex-race-threshold", "ex-predict-cell", "ex-ghost-late", "ex-fix-connections",
                              "ex-size", "ex-maxconn", "ex-rx-queue", "ex-zoo-uvicorn", "ex-zoo-event"}  # fmt: skip
