"""The hostile corpus in figures, from the recording and the last comparison, without playing a case.

Theory of operation
-------------------
:func:`hostile_summary` reads ``data/go-hostile.json`` and, when there is one
for this very corpus (the same digest of case ids), the last comparison kept
in ``_build/hostile/last-run.json``. It returns the counts the fidelity
appendix glues into its prose and :meth:`HostileSummary.table`, one row per
class: what it attacks, how many cases, how Go ended them, and how many
differed from Go in the last comparison. Reading two files takes milliseconds,
so a page can show it on every build.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from keepalive_lab.fidelity.hostile.corpus import class_descriptions, corpus
from keepalive_lab.fidelity.hostile.known import known_for
from keepalive_lab.fidelity.hostile.mutations import MUTATION_CLASSES
from keepalive_lab.fidelity.hostile.outcome import CLIENT_RESET, CLOSED, KEPT, Outcome
from keepalive_lab.fidelity.hostile.recording import LAST_RUN, RECORDING, corpus_digest, load_last_run, load_recording

__all__ = ["HostileSummary", "hostile_summary"]


@dataclass(frozen=True)
class HostileSummary:
    """The corpus, Go's recorded answers, and the last comparison of ours with them (None: none yet)."""

    meta: dict
    go: dict[str, Outcome]
    last_run: dict | None

    @property
    def cases(self) -> int:
        return len(corpus())

    @property
    def generated(self) -> int:
        return sum(1 for c in corpus() if c.klass in MUTATION_CLASSES)

    @property
    def classes(self) -> int:
        return len({c.klass for c in corpus()})

    @property
    def recording_matches(self) -> bool:
        same_digest = self.meta.get("corpus_digest") == corpus_digest(corpus())
        return same_digest and set(self.go) == {c.id for c in corpus()}

    def go_ends(self) -> Counter:
        """How Go ended the recorded cases: kept, closed, client reset."""
        return Counter(o.end for o in self.go.values())

    def go_served_after_all(self) -> bool:
        return all(o.served_after for o in self.go.values())

    def known(self) -> int:
        return len(known_for(self.meta["go_version"]))

    def table(self) -> pd.DataFrame:
        """One row per class, in corpus order."""
        differing = (self.last_run or {}).get("differing_by_class", {})
        rows: dict[str, dict] = {}
        attacks = class_descriptions()
        for case in corpus():
            row = rows.setdefault(case.klass, {"class": case.klass, "attacks": attacks[case.klass], "cases": 0,
                                               "Go kept": 0, "Go closed": 0, "client reset": 0})  # fmt: skip
            row["cases"] += 1
            end = self.go[case.id].end if case.id in self.go else None
            key = {KEPT: "Go kept", CLOSED: "Go closed", CLIENT_RESET: "client reset"}.get(end)
            if key:
                row[key] += 1
        frame = pd.DataFrame(list(rows.values()))
        if self.last_run is not None:
            frame["differ (last run)"] = [len(differing.get(k, [])) for k in frame["class"]]
        return frame


def hostile_summary(recording: Path = RECORDING, last_run: Path = LAST_RUN) -> HostileSummary:
    """The recording, and the last comparison if it was made with this corpus against this recording."""
    meta, go = load_recording(recording)
    last = load_last_run(last_run)
    digest = corpus_digest(corpus())
    if last is not None:
        other_recording = last.get("source") == "recorded" and last.get("go_ran_utc") != meta["recorded_utc"]
        if last.get("corpus_digest") != digest or other_recording:
            last = None  # another corpus, or another recording: its figures would not be this page's
    return HostileSummary(meta, go, last)
