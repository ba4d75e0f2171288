"""Self-checks for the book's exercises: ``check("ex-race-threshold", answer, ...)``.

Each exercise that asks a student to run something gets a checker here. A
checker never compares with a number typed into the book: it derives the right
answer from the parameters the student used (passed as keywords) or from the
student's own run (a result passed as ``result=``), with the tolerance it
states, and says why when the answer is off. ``check`` returns a
:class:`Verdict` that shows as one line in a notebook.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from keepalive_lab.lab.analysis import connections_opened
from keepalive_lab.lab.timescale import ARTICLE

__all__ = ["check", "Verdict", "EXERCISES", "SIZE_EXERCISE"]

# The numbers the sizing exercise of the fix chapter states (the page glues them from here).
SIZE_EXERCISE = {"zones": 3, "nodes_per_zone": 2, "idle_per_node": 2}


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is right, and a sentence that says why."""

    exercise: str
    right: bool
    message: str

    def __str__(self) -> str:
        return f"{'Right' if self.right else 'Not yet'} ({self.exercise}): {self.message}"

    def _repr_markdown_(self) -> str:
        return f"**{'Right' if self.right else 'Not yet'}** ({self.exercise}): {self.message}"

    def __bool__(self) -> bool:
        return self.right


class ExerciseError(ValueError):
    """The check needs something the call did not give (a parameter, a run)."""


EXERCISES: dict[str, Callable[..., Verdict]] = {}


def _exercise(name: str, *needs: str):
    """Register a checker as ``name``; ``needs``: the keywords it cannot check without, asked for by name
    (ExerciseError) before the checker runs."""

    def wrap(fn):
        @functools.wraps(fn)  # the docstring is what exercise_table() shows
        def checker(answer: Any, **given: Any) -> Verdict:
            _need(given, *needs)
            return fn(answer, **given)

        EXERCISES[name] = checker
        return fn

    return wrap


def check(exercise: str, answer: Any, **given: Any) -> Verdict:
    """Check ``answer`` to ``exercise``; ``given`` holds the parameters or the run it depends on."""
    if exercise not in EXERCISES:
        raise ExerciseError(f"no exercise {exercise!r}; there are {', '.join(sorted(EXERCISES))}")
    return EXERCISES[exercise](answer, **given)


def _need(given: dict, *names: str) -> None:
    missing = [n for n in names if n not in given]
    if missing:
        raise ExerciseError(f"this check needs {', '.join(n + '=...' for n in missing)}")


def _number(answer: Any) -> float:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"the answer should be a number, not {answer!r}") from None
    if not math.isfinite(value):
        raise ExerciseError(f"the answer should be a finite number, not {answer!r}")
    return value


def _close(name: str, answer: Any, expected: float, tolerance: float, why: str) -> Verdict:
    value = _number(answer)
    right = abs(value - expected) <= tolerance
    if tolerance == 0:
        verdict = f"{value:g} it is" if right else f"expected {expected:g}, got {value:g}"
    elif right:
        verdict = f"{value:g} is within {tolerance:g} of {expected:.3g}"
    else:
        verdict = f"expected about {expected:.3g} (within {tolerance:g}), got {value:g}"
    return Verdict(name, right, f"{verdict}. {why}")


# -- the symptom --------------------------------------------------------------------------


@_exercise("ex-client-timeout", "result")
def _client_timeout(answer: Any, **given: Any) -> Verdict:
    """What LB2's failed requests become when the client waits longer than the load balancer."""
    result = given["result"]
    client, lb = result.params.client_timeout, ARTICLE.lb_idle_timeout
    expected = "504" if client > lb else "timeout"
    req = result.tables["requests"]
    seen = sorted(set(req.loc[(req["node"] == "LB2") & (req["outcome"] != "ok"), "outcome"]))
    why = (f"your client waited {client:g} s and the load balancer {lb:g} s, so "
           f"{'the load balancer gives up first and answers 504' if expected == '504' else 'the client gives up first'}; "
           f"your run's failed LB2 requests: {', '.join(seen) or 'none'}.")  # fmt: skip
    return Verdict("ex-client-timeout", str(answer).strip().lower() == expected, why)


@_exercise("ex-queue-max", "result")
def _queue_max(answer: Any, **given: Any) -> Verdict:
    """The accept queue's longest length in a symptom run."""
    values = given["result"].values
    return _close("ex-queue-max", answer, values["queue_max"], 0,
                  f"Each of the {values['timeouts']} requests that timed out left its connection in the queue, "
                  "where it waits until the slot frees: the queue only grows while LB1 keeps the slot.")  # fmt: skip


# -- reading the code ----------------------------------------------------------------------


@_exercise("ex-idle-timeout", "idle_timeout")
def _idle_timeout(answer: Any, **given: Any) -> Verdict:
    """How long Go keeps an idle connection, given the ReadTimeout and IdleTimeout set (article seconds)."""
    idle = float(given["idle_timeout"])
    read = float(given.get("read_timeout", ARTICLE.read_timeout))
    expected = idle if idle > 0 else read
    return _close("ex-idle-timeout", answer, expected, 1.5,
                  "Go's idleTimeout() is IdleTimeout when it is set, else ReadTimeout (server.go).")  # fmt: skip


@_exercise("ex-limit-two", "limit")
def _limit_two(answer: Any, **given: Any) -> Verdict:
    """How many idle keep-alive connections it takes before a new connection waits, for LimitListener(l, n)."""
    limit = int(given["limit"])
    return _close("ex-limit-two", answer, limit, 0,
                  f"LimitListener(l, {limit}) has {limit} slots, and an idle connection holds one as firmly as a "
                  "busy one: the next connection waits in the kernel.")  # fmt: skip


# -- the hypothesis -------------------------------------------------------------------------


@_exercise("ex-race-threshold", "gaps")
def _race_threshold(answer: Any, **given: Any) -> Verdict:
    """The smallest of LB1's pauses at which LB2 is served (late)."""
    gaps = sorted(float(g) for g in given["gaps"])
    above = [g for g in gaps if g > ARTICLE.read_timeout]
    if not above:
        raise ExerciseError(f"none of your gaps is longer than Go's idle timeout ({ARTICLE.read_timeout:g} s): add one")
    why = (f"LB2 gets in only when LB1 stays quiet longer than Go's idle timeout ({ARTICLE.read_timeout:g} s); "
           f"the smallest such gap you ran is {above[0]:g} s.")  # fmt: skip
    if "result" in given:
        race = given["result"].tables["race"]
        served = race.loc[race["LB2 status"] == 200, "LB1 gap (s)"]
        why += f" Your run served LB2 at gaps {', '.join(f'{g:g}' for g in served) or 'none'}."
    return _close("ex-race-threshold", answer, above[0], 0, why)


@_exercise("ex-predict-cell", "result")
def _predict_cell(answer: Any, **given: Any) -> Verdict:
    """The share of timeouts (percent) in one grid cell, against the student's own run of that cell."""
    grid = given["result"].tables["grid"]
    if len(grid) != 1:
        raise ExerciseError("run the grid with exactly one cell (one value for each parameter)")
    measured = 100 * float(grid["timeout_rate"].iloc[0])
    return _close("ex-predict-cell", answer, measured, 5.0,
                  "A starved client waits for each timeout before pausing, so it sends less often than the "
                  "others and weighs less in the count.")  # fmt: skip


@_exercise("ex-ghost-late", "result")
def _ghost_late(answer: Any, **given: Any) -> Verdict:
    """When (article seconds) the server handles LB2's abandoned request."""
    values = given["result"].values
    expected = values["lb1_last_s"] + ARTICLE.read_timeout
    return _close("ex-ghost-late", answer, expected, 2.0,
                  f"LB1's last request ended at {values['lb1_last_s']:g} s; Go closes its idle connection "
                  f"{ARTICLE.read_timeout:g} s later, and the queued request is accepted at once.")  # fmt: skip


# -- the fix ------------------------------------------------------------------------------------


@_exercise("ex-fix-connections", "result")
def _fix_connections(answer: Any, **given: Any) -> Verdict:
    """Connections the server accepted per request it handled, in the student's run."""
    tables = given["result"].tables
    handled = max(1, len(tables["access"]))
    measured = connections_opened(tables["states"]) / handled
    return _close("ex-fix-connections", answer, round(measured, 2), 0.05,
                  "With keep-alive off every connection carries one request; with it on, one connection "
                  "carries many.")  # fmt: skip


@_exercise("ex-size")
def _size(answer: Any, **given: Any) -> Verdict:
    """The smallest LimitListener limit that the load balancer of the sizing exercise cannot starve."""
    p = {**SIZE_EXERCISE, **given}
    expected = p["zones"] * p["nodes_per_zone"] * p["idle_per_node"]
    return _close("ex-size", answer, expected, 0,
                  f"{p['zones']} zones x {p['nodes_per_zone']} nodes x {p['idle_per_node']} idle connections can "
                  "all be open at once, each holding a slot (health-check connections come on top).")  # fmt: skip


# -- real load balancers and production ---------------------------------------------------------


@_exercise("ex-maxconn", "result")
def _maxconn(answer: Any, **given: Any) -> Verdict:
    """The verdict of the HAProxy server-maxconn scenario, against the student's own run."""
    verdicts = given["result"].tables["verdicts"].set_index("scenario")
    if "haproxy-maxconn" not in verdicts.index or verdicts.loc["haproxy-maxconn", "status"] != "ran":
        raise ExerciseError("haproxy-maxconn did not run here (HAProxy missing?): nothing to check against")
    observed = str(verdicts.loc["haproxy-maxconn", "observed"])
    return Verdict("ex-maxconn", str(answer).strip().lower() == observed.lower(),
                   f"your run observed '{observed}': HAProxy's server maxconn counts requests in progress, not "
                   "idle connections, so it opens a second connection while the first is idle.")  # fmt: skip


@_exercise("ex-rx-queue", "row")
def _rx_queue(answer: Any, **given: Any) -> Verdict:
    """The accept-queue length read from a LISTEN row of /proc/net/tcp."""
    fields = str(given["row"]).split()
    queues = next((f for f in fields if ":" in f and len(f) == 17), None)
    if queues is None or "0A" not in fields:
        raise ExerciseError("pass the LISTEN row (state 0A) of /proc/net/tcp as row=...")
    expected = int(queues.split(":")[1], 16)
    return _close("ex-rx-queue", answer, expected, 0,
                  f"the column tx_queue:rx_queue is {queues}: rx_queue, after the colon, in hexadecimal, is the "
                  "number of connections waiting to be accepted.")  # fmt: skip


# -- the server zoo --------------------------------------------------------------------------------


def _zoo_run(given: dict[str, Any]) -> str:
    """A sentence about the student's own zoo run (a ZooRow passed as result=), when there is one."""
    row = given.get("result")
    if row is None:
        return ""
    if row.verdict is None:
        raise ExerciseError(f"your run of {row.key} has no verdict ({row.status}): {row.evidence[:200]}")
    return f" Your run: {row.verdict} with {row.most_idle} idle connection(s) open."


@_exercise("ex-zoo-uvicorn", "limit")
def _zoo_uvicorn(answer: Any, **given: Any) -> Verdict:
    """Idle connections the probe holds before uvicorn --limit-concurrency N answers 503."""
    limit = int(given["limit"])
    expected = max(0, limit - 1)
    return _close("ex-zoo-uvicorn", answer, expected, 0,
                  f"uvicorn counts every open connection, the fresh request's own included, and answers 503 once "
                  f"the count reaches {limit}: {expected} idle connection(s) and the fresh one." + _zoo_run(given))  # fmt: skip


@_exercise("ex-zoo-event", "factor")
def _zoo_event(answer: Any, **given: Any) -> Verdict:
    """Idle connections an event MPM with one worker thread holds before a new connection waits in the kernel."""
    factor = int(given["factor"])
    expected = 1 + factor
    return _close("ex-zoo-event", answer, expected, 0,
                  f"a process accepts only below ThreadsPerChild + AsyncRequestWorkerFactor x idle workers = 1 + "
                  f"{factor} x 1; idle keep-alive connections leave the worker idle, so none is closed early."
                  + _zoo_run(given))  # fmt: skip


def exercise_table() -> pd.DataFrame:
    """Every checkable exercise and what its check needs, for the instructor's guide."""
    rows = [{"exercise": name, "what it checks": (fn.__doc__ or "").strip().splitlines()[0]}
            for name, fn in sorted(EXERCISES.items())]  # fmt: skip
    return pd.DataFrame(rows)
