"""Probe every zoo server live, compare with the catalogue's expected verdicts, fall back on the recording.

Theory of operation
-------------------
:func:`run` takes the catalogue (or some keys of it) and, a few servers at a
time in threads, starts each one (:func:`keepalive_lab.zoo.launch.launch`),
runs :func:`keepalive_lab.probe.check` against it with the
:class:`~keepalive_lab.zoo.servers.ZooTimes` of the run, and stops it. Each
server has its own folder, port and processes, so they do not disturb one
another; the ones expected to starve (they wait a whole timeout) start first.

A server whose package is missing here is not faked: its row comes from the
recording (:mod:`keepalive_lab.zoo.recording`), marked ``recorded`` with the
version and date of that recording, or is marked ``missing`` when the
recording does not have it either.

A row *matches* when the measured verdict is the expected one and, where the
catalogue predicts it, the most idle connections that were open next to a
fresh request (``most_idle``) is the predicted number. :meth:`ZooRun.confirm`
raises when a row that ran (or was recorded) does not match, or a server
failed to start: a page that calls it does not build.
"""

from __future__ import annotations

import datetime
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import pandas as pd

from keepalive_lab.probe import ProbeError, check
from keepalive_lab.zoo import launch, recording
from keepalive_lab.zoo.servers import SERVERS, ZooServer, ZooTimes, server

__all__ = ["ZooRow", "ZooRun", "run", "probe", "expected_table"]

_LOG_CHARS = 2000


@dataclass
class ZooRow:
    """One server's outcome in a run: measured here, recorded elsewhere, missing, or an error."""

    key: str
    status: str  # "measured", "recorded", "missing" or "error"
    version: str = ""
    verdict: str | None = None
    idle_connections: int | None = None  # the probe's count at its verdict
    most_idle: int | None = None  # the most idle connections open next to one fresh request
    delay_s: float | None = None
    elapsed_s: float | None = None
    keeps_alive: bool | None = None
    steps: list[dict] = field(default_factory=list)
    idle_lifetimes_s: list[float] = field(default_factory=list)
    accept_queue: int | None = None
    recorded_on: str = ""  # for a recorded row: the recording's date
    evidence: str = ""  # why it is missing, or what went wrong
    config: str = ""  # the configuration file or command line it ran with
    log: str = ""  # the end of what the server wrote (stdout and stderr) while it was probed
    pids: list[int] = field(default_factory=list)

    @property
    def server(self) -> ZooServer:
        return server(self.key)

    @property
    def matched(self) -> bool | None:
        """Whether the verdict (and the predicted idle count) is the expected one; None without a verdict."""
        if self.verdict is None:
            return None
        s = self.server
        return self.verdict == s.expected and (s.expected_idle is None or self.most_idle == s.expected_idle)


def probe(s: ZooServer, times: ZooTimes = ZooTimes()) -> ZooRow:
    """Start ``s``, probe it, stop it: a measured row (or an error row, with the server's output)."""
    version = launch.version(s)
    try:
        with launch.launch(s, times) as running:
            try:
                result = check("127.0.0.1", running.port, prompt=times.prompt, timeout=times.timeout,
                               max_idle=times.max_idle)  # fmt: skip
            except ProbeError as exc:
                result = exc
        # Stopped: every line the server wrote has been read.
        log = running.output()[-_LOG_CHARS:]
    except launch.ZooStartError as exc:
        return ZooRow(s.key, "error", version, evidence=str(exc)[-3000:])
    except Exception as exc:  # reported in the row, and confirm() fails the page with it
        return ZooRow(s.key, "error", version, evidence=f"{type(exc).__name__}: {exc}")
    if isinstance(result, ProbeError):
        return ZooRow(s.key, "error", version, evidence=f"probe: {result}\n{log}", config=running.config, log=log,
                      pids=running.pids)  # fmt: skip
    data = result.to_dict()
    return ZooRow(
        s.key, "measured", version, data["verdict"], data["idle_connections"],
        max((step["idle"] for step in data["steps"]), default=0), data["delay_s"], data["elapsed_s"],
        data["keeps_alive"], data["steps"], data["idle_lifetimes_s"], data["accept_queue"],
        config=running.config, log=log, pids=running.pids,
    )  # fmt: skip


def _from_recording(s: ZooServer, missing: str, recorded: dict) -> ZooRow:
    entry = recorded.get("servers", {}).get(s.key)
    if entry is None:
        return ZooRow(s.key, "missing", evidence=f"missing {missing}, and the recording has no row for it")
    fields = {k: entry[k] for k in recording.KEPT if k in entry}
    return ZooRow(s.key, "recorded", recorded_on=recorded.get("recorded_on", ""), evidence=f"missing {missing}",
                  **fields)  # fmt: skip


@dataclass
class ZooRun:
    """The rows of one run, in catalogue order, with its settings and how long it took."""

    rows: list[ZooRow]
    times: ZooTimes
    wall_s: float
    when: str

    def row(self, key: str) -> ZooRow:
        return next(r for r in self.rows if r.key == key)

    def keys(self, status: str) -> list[str]:
        return [r.key for r in self.rows if r.status == status]

    def table(self) -> pd.DataFrame:
        """One line per server: the expectation, what this run found, and whether they agree."""
        lines = []
        for r in self.rows:
            s = r.server
            found = {"measured": "measured here", "recorded": f"RECORDED {r.recorded_on}", "missing": "not run",
                     "error": "ERROR"}[r.status]  # fmt: skip
            lines.append({
                "family": s.family, "server": s.name, "version": r.version or "–",
                "expected": s.expected + (f" at {s.expected_idle} idle" if s.expected_idle is not None else ""),
                "verdict": r.verdict or "–", "idle connections": r.most_idle, "result": found,
                "agrees": {True: "yes", False: "NO", None: "–"}[r.matched],
            })  # fmt: skip
        return pd.DataFrame(lines)

    def confirm(self) -> None:
        """Raise AssertionError if a server failed, or one that ran or was recorded did not get its verdict."""
        wrong = []
        for r in self.rows:
            if r.status == "error":
                wrong.append(f"{r.key}: failed: {r.evidence}")
            elif r.matched is False:
                s = r.server
                wrong.append(f"{r.key}: expected {s.expected} (idle {s.expected_idle}), got {r.verdict} "
                             f"(most idle {r.most_idle}); steps {r.steps}")  # fmt: skip
        if wrong:
            raise AssertionError("the zoo did not behave as its documentation says:\n" + "\n".join(wrong))

    def to_dict(self) -> dict:
        return {"when": self.when, "wall_s": self.wall_s, "times": asdict(self.times),
                "rows": [asdict(r) for r in self.rows]}  # fmt: skip


def run(keys: Iterable[str] | None = None, times: ZooTimes = ZooTimes(), *, parallel: int = 4,
        servers: Sequence[ZooServer] | None = None) -> ZooRun:  # fmt: skip
    """Probe the chosen servers live (every one by default), ``parallel`` at a time."""
    chosen = list(servers) if servers is not None else [server(k) for k in keys] if keys is not None else list(SERVERS)
    started = time.monotonic()
    missing = {s.key: launch.availability(s) for s in chosen}  # builds the Go programs once, before the threads
    recorded = recording.load() if any(missing.values()) else {}
    rows: dict[str, ZooRow] = {}
    runnable = [s for s in chosen if not missing[s.key]]
    for s in chosen:
        if missing[s.key]:
            rows[s.key] = _from_recording(s, missing[s.key], recorded)
    longest_first = sorted(runnable, key=lambda s: s.expected != "starves")
    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="zoo") as pool:
        for s, row in zip(longest_first, pool.map(lambda s: probe(s, times), longest_first)):
            rows[s.key] = row
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return ZooRun([rows[s.key] for s in chosen], times, round(time.monotonic() - started, 2), when)


def expected_table(times: ZooTimes = ZooTimes()) -> pd.DataFrame:
    """The catalogue as a page shows it before anything runs: settings, the three answers, the prediction."""
    return pd.DataFrame([{
        "family": s.family, "server": s.name, "settings": s.describe(times), "the limit counts": s.counts,
        "at the limit": s.at_limit, "an idle connection is closed by": s.idle_closer.format(idle=times.idle),
        "expected": s.expected + (f" at {s.expected_idle} idle" if s.expected_idle is not None else ""),
        "why": s.why, "source": s.source,
    } for s in SERVERS])  # fmt: skip
