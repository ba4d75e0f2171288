"""Known differences between the recorded Go run and our server on the hostile corpus, each with its reason.

Theory of operation
-------------------
A :class:`KnownDifference` names one case id and both outcomes exactly, as
:meth:`~.outcome.Outcome.short` writes them, says why they may differ (a Go
release other than the one our server models, or a race the client cannot
rule out), and links the Go source line that decides it. It explains that
difference and no other: the same case with another outcome on either side
is still a failure. A version difference applies only to the Go releases
before ``fixed_in``.

The list is empty: repeated runs of the corpus against the Go 1.23.4
reference give the same outcome for every case (``tests/test_hostile.py``
replays Go against its recording when the binary is built), so no case
depends on timing there, and the reference is the release our server models. A difference that is
found to be one of these belongs here, with its reason and its source line;
any other difference is a fidelity bug in our server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KnownDifference", "KNOWN_DIFFERENCES", "GO_SOURCE", "known_for"]

# Links into the Go release the recording and our server agree on; line numbers are that release's.
GO_SOURCE = "https://github.com/golang/go/blob/go1.23.4/src/"


@dataclass(frozen=True)
class KnownDifference:
    """One case on which Go and our server may differ, and why."""

    case_id: str
    go: str  # Outcome.short() on the Go side
    ours: str  # Outcome.short() on ours
    kind: str  # "version" or "timing"
    why: str
    go_source: str  # a link to the Go source line that decides it
    fixed_in: tuple[int, int] | None = None  # version differences: the first Go release that behaves as ours

    def applies(self, go_version: str) -> bool:
        if self.fixed_in is None:
            return True
        match = re.match(r"go(\d+)\.(\d+)", go_version)
        return match is not None and (int(match[1]), int(match[2])) < self.fixed_in

    def explains(self, case_id: str, go: str, ours: str) -> bool:
        return (self.case_id, self.go, self.ours) == (case_id, go, ours)


KNOWN_DIFFERENCES: tuple[KnownDifference, ...] = ()


def known_for(go_version: str) -> list[KnownDifference]:
    """The known differences that apply to a recording made with ``go_version``."""
    return [k for k in KNOWN_DIFFERENCES if k.applies(go_version)]
