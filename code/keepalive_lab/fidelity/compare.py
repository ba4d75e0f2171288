"""Comparing two wire transcripts of the same scenario: Go's and ours.

Theory of operation
-------------------
:func:`diff_events` walks two transcripts (lists of events, see
:mod:`keepalive_lab.fidelity.transcript`) side by side and names every field that
differs, raw times left out: their timing *class* is compared instead.
:func:`compare` sorts each difference into *explained* or *unexplained*. A
difference is explained only when an entry of
:data:`KNOWN_VERSION_DIFFERENCES` matches it exactly, field and both values:
a place where the Go we can run (Debian's 1.19) is known to behave unlike the
Go the incident ran and our server models (1.23), with the Go source lines
that say so, and only for Go releases before the change. Every other
difference is a fidelity bug in our server.

:func:`summarise` turns a transcript into one line for the comparison table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from keepalive_lab.fidelity.matrix import MATRIX, WireScenario
from keepalive_lab.fidelity.transcript import comparable

__all__ = [
    "KnownDifference",
    "KNOWN_VERSION_DIFFERENCES",
    "Comparison",
    "diff_events",
    "compare",
    "comparison_table",
    "known_differences_table",
    "transcript_table",
    "summarise",
]


def diff_events(go: Sequence[dict], ours: Sequence[dict]) -> list[tuple[str, Any, Any]]:
    """``(where, go value, our value)`` for every field that differs, raw times left out."""
    out = []
    for i in range(max(len(go), len(ours))):
        g = comparable(go[i]) if i < len(go) else None
        o = comparable(ours[i]) if i < len(ours) else None
        if g is None or o is None or (g["conn"], g["kind"]) != (o["conn"], o["kind"]):
            out.append((f"#{i}", g, o))
            continue
        where = f"#{i} {g['conn']} {g['kind']}"
        for key in sorted(set(g) | set(o)):
            if g.get(key) != o.get(key):
                out.append((f"{where}.{key}", g.get(key), o.get(key)))
    return out


def _go_release(version: str) -> tuple[int, int]:
    match = re.match(r"go(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


@dataclass(frozen=True)
class KnownDifference:
    """A difference between the Go we run and the Go our server models, with its source."""

    scenario: str
    fields: dict  # where (as diff_events names it) -> (go value, our value)
    fixed_in: tuple[int, int]  # the first Go release that behaves as our server does
    why: str
    go_source: str

    def applies(self, go_version: str) -> bool:
        return _go_release(go_version) < self.fixed_in

    def explains(self, where: str, go: Any, ours: Any) -> bool:
        return self.fields.get(where) == (go, ours)


KNOWN_VERSION_DIFFERENCES = (
    KnownDifference(
        scenario="idle-no-timeout",
        fields={
            "#2 A close.how": ("eof", "open"),
            "#2 A close.timing": ("after the timeout", "never"),
        },
        fixed_in=(1, 20),
        why=(
            "With no idle timeout (IdleTimeout and ReadTimeout 0), Go 1.19 skips the idle wait and goes "
            "straight to reading the next request, so ReadHeaderTimeout runs while the connection is idle and "
            "closes it. Since Go 1.20 the server always waits for the next request's first bytes (Peek(4)), "
            "with no deadline here, before ReadHeaderTimeout starts (golang/go#54784)."
        ),
        go_source=(
            "go1.19 net/http/server.go:2015-2021 `if d := c.server.idleTimeout(); d != 0 { ... Peek(4) }`; "
            "go1.23.5 net/http/server.go:2117-2131 (Peek(4) whatever the idle timeout)"
        ),
    ),
    KnownDifference(
        scenario="bad-header-value",
        fields={
            "#1 A response.status": ("HTTP/1.1 400 Bad Request: invalid header value", "HTTP/1.1 400 Bad Request"),
            "#1 A response.body": ("400 Bad Request: invalid header value", "400 Bad Request"),
        },
        fixed_in=(1, 20),
        why=(
            "Go 1.19's textproto accepts a control byte in a header value and net/http rejects it afterwards "
            "with a statusError text. Later textproto rejects the line itself (validHeaderValueByte, a "
            "ProtocolError), which conn.serve answers with the plain 400."
        ),
        go_source=(
            "go1.19 net/http/server.go:1022-1023 `badRequestError(\"invalid header value\")`; "
            "go1.23.5 net/textproto/reader.go:556-559 `if !validHeaderValueByte(c)` and "
            "net/http/server.go:2056-2058 (plain `400 Bad Request`)"
        ),
    ),
)


@dataclass(frozen=True)
class Comparison:
    """One scenario, both sides: their summaries, and each difference, explained or not."""

    scenario: str
    what: str
    go: str
    ours: str
    unexplained: tuple = ()
    explained: tuple = ()

    @property
    def verdict(self) -> str:
        if self.unexplained:
            return "NO"
        return "explained" if self.explained else "yes"


def compare(go_runs: dict[str, list[dict]], our_runs: dict[str, list[dict]], go_version: str,
            scenarios: Sequence[WireScenario] = MATRIX) -> list[Comparison]:  # fmt: skip
    """Compare transcripts (``{scenario: events}``) scenario by scenario."""
    known = [k for k in KNOWN_VERSION_DIFFERENCES if k.applies(go_version)]
    out = []
    for s in scenarios:
        go, ours = go_runs.get(s.name, []), our_runs.get(s.name, [])
        explained, unexplained = [], []
        for where, g, o in diff_events(go, ours):
            fits = any(k.scenario == s.name and k.explains(where, g, o) for k in known)
            (explained if fits else unexplained).append((where, g, o))
        out.append(Comparison(s.name, s.what, summarise(go), summarise(ours), tuple(unexplained), tuple(explained)))
    return out


def comparison_table(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """One row per scenario: what it does, what Go did, what ours did, and whether they match."""
    return pd.DataFrame(
        [{"scenario": c.scenario, "what": c.what, "Go": c.go, "ours": c.ours, "same?": c.verdict} for c in comparisons]
    ).set_index("scenario")


def known_differences_table(go_version: str, every: bool = False) -> pd.DataFrame:
    """The known version differences that apply to ``go_version``, with their reasons and sources.

    ``every``: all of them, with a column saying whether each applies to ``go_version``.
    """
    columns = ["scenario", "fixed in", "why", "Go source"] + ([f"applies to {go_version}"] if every else [])
    rows = [
        {"scenario": k.scenario, "fixed in": "go%d.%d" % k.fixed_in, "why": k.why, "Go source": k.go_source,
         f"applies to {go_version}": "yes" if k.applies(go_version) else "no"}
        for k in KNOWN_VERSION_DIFFERENCES
        if every or k.applies(go_version)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).set_index("scenario")


def transcript_table(events: Sequence[dict]) -> pd.DataFrame:
    """A transcript as a table: one row per event, what it says, its timing class and raw time."""
    rows = []
    for e in events:
        detail = {k: v for k, v in e.items() if k not in ("conn", "kind", "timing", "seconds")}
        if e["kind"] == "response":
            detail = {"status": e["status"], "headers": "; ".join(f"{k}: {v}" for k, v in e["headers"]),
                      "body": e["body"]}  # fmt: skip
        text = ", ".join(f"{k}={v}" for k, v in detail.items())
        rows.append({"conn": e["conn"], "event": e["kind"], "detail": text, "timing": e.get("timing", ""),
                     "seconds": e.get("seconds")})  # fmt: skip
    return pd.DataFrame(rows)


def _header(event: dict, name: str) -> str | None:
    return next((v for k, v in event.get("headers", ()) if k.lower() == name.lower()), None)


def summarise(events: Sequence[dict]) -> str:
    """A transcript in a line: who got what, when, and how each connection ended."""
    parts = []
    for e in events:
        who, kind = e["conn"], e["kind"]
        if kind == "response":
            notes = [n for n in ("chunked" if e.get("chunked") else None, _header(e, "Connection")) if n]
            code = e.get("status", "? ?").split(" ")[1]
            parts.append(f"{who} {code}{' ' + '/'.join(notes) if notes else ''} {e.get('timing')}")
        elif kind == "no response":
            parts.append(f"{who} no response")
        elif kind == "closed":
            parts.append(f"{who} {e['how']} without a response {e['timing']}")
        elif kind == "close":
            parts.append(f"{who} still open" if e["how"] == "open" else f"{who} {e['how']} {e['timing']}")
        elif kind == "quiet":
            parts.append(f"{who} waits" if e["held"] else f"{who} answered early")
        elif kind == "access log":
            parts.append(f"{'log' if e['final'] else 'log so far'} [{','.join(r[0] for r in e['requests'])}]")
        elif kind == "exit" and e["code"] != 0:
            parts.append(f"exit {e['code']}")
        elif kind == "error":
            parts.append(f"harness error: {e['error']}")
    return "; ".join(parts)
