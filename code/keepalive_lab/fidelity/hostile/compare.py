"""Our server against Go on the hostile corpus: which cases differ, grouped by class, readable.

Theory of operation
-------------------
:func:`hostile_comparison` plays the corpus against our server, and takes
Go's side from the recording (``data/go-hostile.json``) or, given a Go
reference binary, from a live run. :func:`compare_outcomes` sorts every case
into the same outcome, a difference explained by
:data:`~.known.KNOWN_DIFFERENCES` (exactly that case and both outcomes), or an
unexplained one, and names the case ids that only one side has (a generator
changed without a new recording). A case that differs is played again, alone
with few others, up to ``retries`` times: on a machine busy enough to stall a
process for a quarter of a second a wait can slip once, but a real
difference comes back every time. The comparison names the cases that needed
another run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from keepalive_lab.fidelity.hostile.case import Case
from keepalive_lab.fidelity.hostile.corpus import corpus
from keepalive_lab.fidelity.hostile.known import known_for
from keepalive_lab.fidelity.hostile.outcome import Outcome
from keepalive_lab.fidelity.hostile.recording import RECORDING, corpus_digest, load_recording, now_utc
from keepalive_lab.fidelity.hostile.runner import HostileTimes, run_corpus
from keepalive_lab.fidelity.process import GoReference, go_server_command, python_server_command

__all__ = ["Difference", "HostileComparison", "compare_outcomes", "hostile_comparison"]


@dataclass(frozen=True)
class Difference:
    """One case whose outcome on our server is not Go's."""

    case: Case
    go: Outcome
    ours: Outcome

    def line(self, width: int = 110) -> str:
        sides = f"go: {self.go.short()} | ours: {self.ours.short()}"
        return f"  {self.case.id}  {sides}\n    {self.case.bytes_repr(width)}"


@dataclass(frozen=True)
class HostileComparison:
    """The corpus on both servers, and where the Go side came from."""

    source: str  # "recorded" (data/go-hostile.json) or "live"
    go_version: str
    x_net_version: str
    go_ran_utc: str
    cases: int
    unexplained: tuple[Difference, ...] = ()
    explained: tuple[Difference, ...] = ()
    missing: tuple[str, ...] = ()  # case ids the Go side lacks: the generator changed since the recording
    stale: tuple[str, ...] = ()  # case ids only the Go side has
    retried: tuple[str, ...] = ()
    seconds: float = 0.0  # how long our server took over the whole corpus
    ran_utc: str = field(default_factory=now_utc)

    @property
    def same(self) -> int:
        return self.cases - len(self.unexplained) - len(self.explained) - len(self.missing)

    def by_class(self, differences: Sequence[Difference] | None = None) -> dict[str, list[Difference]]:
        out: dict[str, list[Difference]] = {}
        for d in self.unexplained if differences is None else differences:
            out.setdefault(d.case.klass, []).append(d)
        return dict(sorted(out.items(), key=lambda item: (-len(item[1]), item[0])))

    def report(self) -> str:
        """Every unexplained difference, grouped by class, with the bytes sent."""
        lines = [(f"{len(self.unexplained)} of {self.cases} hostile cases differ from Go {self.go_version} "
                  f"({self.source}, {self.go_ran_utc}); run again: {len(self.retried)}")]  # fmt: skip
        if self.missing or self.stale:
            lines.append(f"the recording does not match the generator: {len(self.missing)} case ids missing, "
                         f"{len(self.stale)} no longer generated: "
                         "python -m keepalive_lab.fidelity hostile --record")  # fmt: skip
        for klass, diffs in self.by_class().items():
            lines.append(f"{klass} ({len(diffs)}):")
            lines += [d.line() for d in diffs]
        return "\n".join(lines)

    def summary(self) -> dict:
        """The figures the fidelity appendix shows, JSON-ready."""
        return {
            "ran_utc": self.ran_utc, "source": self.source, "go_version": self.go_version,
            "x_net_version": self.x_net_version, "go_ran_utc": self.go_ran_utc,
            "corpus_digest": corpus_digest(corpus()), "cases": self.cases, "same": self.same,
            "explained": len(self.explained), "unexplained": len(self.unexplained), "missing": len(self.missing),
            "retried": len(self.retried), "seconds": round(self.seconds, 1),
            "differing_by_class": {k: [d.case.id for d in v] for k, v in self.by_class().items()},
        }  # fmt: skip


def compare_outcomes(cases: Sequence[Case], go: dict[str, Outcome], ours: dict[str, Outcome],
                     go_version: str) -> tuple[list[Difference], list[Difference], list[str], list[str]]:  # fmt: skip
    """``(unexplained, explained, missing, stale)`` for ``cases``, by their ids."""
    known = known_for(go_version)
    unexplained, explained, missing = [], [], []
    for case in cases:
        if case.id not in go:
            missing.append(case.id)
            continue
        g, o = go[case.id], ours[case.id]
        if g == o:
            continue
        fits = any(k.explains(case.id, g.short(), o.short()) for k in known)
        (explained if fits else unexplained).append(Difference(case, g, o))
    ids = {c.id for c in cases}
    stale = [i for i in go if i not in ids]
    return unexplained, explained, missing, stale


def hostile_comparison(ref: GoReference | None = None, recording: Path = RECORDING,
                       times: HostileTimes = HostileTimes(), jobs: int = 8, retries: int = 2,
                       cases: Sequence[Case] | None = None,
                       progress: Callable[[int, int], None] | None = None) -> HostileComparison:  # fmt: skip
    """Play the corpus against our server; Go's side live when ``ref`` is given, else from ``recording``."""
    cases = corpus() if cases is None else cases
    started = time.monotonic()
    ours = run_corpus(python_server_command, cases, times, jobs, progress)
    seconds = time.monotonic() - started
    if ref is not None:
        go = run_corpus(lambda flags: go_server_command(ref.binary, flags), cases, times, jobs)
        meta = {"go_version": ref.go_version, "x_net_version": ref.x_net_version, "recorded_utc": now_utc()}
    else:
        meta, go = load_recording(recording)
    unexplained, explained, missing, stale = compare_outcomes(cases, go, ours, meta["go_version"])
    retried: list[str] = []
    for _ in range(retries):
        again = [d.case for d in unexplained]
        if not again:
            break
        retried += [c.id for c in again if c.id not in retried]
        few = min(jobs, 4)  # fewer at a time: less contention
        ours.update(run_corpus(python_server_command, again, times, few))
        if ref is not None:
            go.update(run_corpus(lambda flags: go_server_command(ref.binary, flags), again, times, few))
        unexplained, explained, missing, stale = compare_outcomes(cases, go, ours, meta["go_version"])
    return HostileComparison("live" if ref is not None else "recorded", meta["go_version"], meta["x_net_version"],
                             meta["recorded_utc"], len(cases), tuple(unexplained), tuple(explained), tuple(missing),
                             tuple(stale), tuple(retried), seconds)  # fmt: skip
