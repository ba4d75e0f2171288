"""The hostile corpus: the hand-made classes in order, then the generated mutations, every id unique.

Theory of operation
-------------------
Each class is a function that returns its cases (:class:`~.case.Case`); the
functions live in :mod:`.handmade`, grouped by theme, and :data:`CLASSES`
lists them here, in order, with a line saying what they attack. That order
is the corpus order, so it must not change with the modules the functions
live in. :func:`corpus` joins the classes with the mutations of
:mod:`.mutations` (from the fixed :data:`SEED`), checks that no two
hand-made cases are the same case (the same id), and caches the result: a
corpus is built once per process, the same every time.
"""

from __future__ import annotations

import functools
from typing import Callable

from keepalive_lab.fidelity.hostile.case import Case
from keepalive_lab.fidelity.hostile.handmade.behaviour import (HEAD_LIMIT, big_head, half_close, http10, pipelining,
                                                               random_bytes, resets, slow)
from keepalive_lab.fidelity.hostile.handmade.framing import chunk_size, content_length, smuggling, te_http10, trailers
from keepalive_lab.fidelity.hostile.handmade.headers import (connection, expect, header_name, header_value, host,
                                                             obs_fold)
from keepalive_lab.fidelity.hostile.handmade.parts import SEED
from keepalive_lab.fidelity.hostile.handmade.request import (absolute_form, connect, non_ascii, percent, preface,
                                                             request_line)
from keepalive_lab.fidelity.hostile.mutations import MUTATION_CLASSES, mutations

__all__ = ["CLASSES", "corpus", "HEAD_LIMIT", "SEED", "classes_of", "class_descriptions"]

Builder = Callable[[], list[Case]]


CLASSES: dict[str, tuple[str, Builder]] = {
    "request-line": ("malformed request lines: methods, targets, versions, separators, line ends", request_line),
    "header-name": ("bad header names: separators, controls, non-ASCII, no colon, space before the colon", header_name),
    "header-value": ("control bytes, obs-text and odd Host values in header values", header_value),
    "obs-fold": ("obsolete line folding, in plain and framing headers", obs_fold),
    "content-length": ("odd, duplicate and conflicting Content-Length, bodies too short or too long", content_length),
    "smuggling": ("CL.TE and TE.CL: Transfer-Encoding spellings with and without Content-Length", smuggling),
    "te-http10": ("Transfer-Encoding on HTTP/1.0, which Go ignores", te_http10),
    "chunk-size": ("chunk sizes: 17 hex digits, signs, extensions, bare LF, lines past 4 KiB, endless", chunk_size),
    "trailer": ("trailers: bad fields, lines past 4 KiB, trailers that never end", trailers),
    "connection": ("Connection token lists with spaces and tabs, on HTTP/1.1 and HTTP/1.0", connection),
    "http10": ("HTTP/1.0 keep-alive and pipelining", http10),
    "pri": ("the HTTP/2 preface and h2c upgrades on an HTTP/1 server", preface),
    "connect": ("CONNECT with and without Host, odd authorities", connect),
    "absolute-form": ("absolute-form targets, with and without Host", absolute_form),
    "percent": ("percent-encoding errors in the target", percent),
    "non-ascii": ("non-ASCII and control bytes in the target and elsewhere", non_ascii),
    "big-head": ("heads near the MaxHeaderBytes + 4096 boundary of the 431", big_head),
    "host": ("Host values on HTTP/1.0 and odd placements", host),
    "expect": ("Expect: 100-continue and unknown expectations", expect),
    "pipelining": ("several requests in one write, good and bad mixed", pipelining),
    "half-close": ("the client shuts down its writing half", half_close),
    "reset": ("the client resets the connection at various points", resets),
    "slow": ("slow senders, within and past the read deadline", slow),
    "random": ("random bytes and random HTTP words, from a fixed seed", random_bytes),
}


@functools.cache
def corpus() -> tuple[Case, ...]:
    """The hand-made classes, then the mutations; every id unique."""
    cases: list[Case] = []
    for _, build in CLASSES.values():
        cases += build()
    ids = [c.id for c in cases]
    twins = sorted({i for i in ids if ids.count(i) > 1})
    if twins:
        raise ValueError(f"hand-made cases that are the same case: {twins}")
    seen = set(ids)
    for case in mutations(SEED):
        if case.id not in seen:
            seen.add(case.id)
            cases.append(case)
    return tuple(cases)


def classes_of(cases: tuple[Case, ...] | None = None) -> dict[str, int]:
    """How many cases each class has, in corpus order."""
    counts: dict[str, int] = {}
    for case in corpus() if cases is None else cases:
        counts[case.klass] = counts.get(case.klass, 0) + 1
    return counts


def class_descriptions() -> dict[str, str]:
    """What each class attacks, hand-made and generated."""
    return {**{name: what for name, (what, _) in CLASSES.items()}, **MUTATION_CLASSES}
