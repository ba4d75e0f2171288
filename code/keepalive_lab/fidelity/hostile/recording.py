"""Go's answers to the hostile corpus, recorded by case id, so that the comparison runs without Go.

Theory of operation
-------------------
:func:`record` plays the whole corpus against the Go reference binary and
writes ``data/go-hostile.json``: the Go and x/net versions the binary was
built with, when and on which kernel it ran, the client's timings and the
servers' flags, the probe and the health check, the binary's ``DefaultGODEBUG``, the corpus seed and a
digest of its case ids, and one line
per case, ``"id": {"statuses": [...], "end": ..., "served_after": ...}``, so
that two recordings diff line by line. :func:`load_recording` reads it back.

The last comparison of our server with the recording (from
``python -m keepalive_lab.fidelity hostile`` or the test) is kept in
``_build/hostile/last-run.json`` (:func:`save_last_run`, :func:`load_last_run`)
for the fidelity appendix, which does not replay the corpus while the book is
built.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from keepalive_lab.fidelity.hostile.case import Case
from keepalive_lab.fidelity.hostile.corpus import SEED, corpus
from keepalive_lab.fidelity.hostile.outcome import Outcome
from keepalive_lab.fidelity.hostile.runner import HEALTH, PROBE, HostileTimes, hostile_flags, run_corpus
from keepalive_lab.fidelity.process import PROJECT_ROOT, GoReference, go_server_command

__all__ = ["RECORDING", "LAST_RUN", "corpus_digest", "record", "load_recording", "save_last_run", "load_last_run",
           "now_utc", "default_godebug"]  # fmt: skip

RECORDING = PROJECT_ROOT / "data" / "go-hostile.json"
LAST_RUN = PROJECT_ROOT / "_build" / "hostile" / "last-run.json"


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def corpus_digest(cases: Sequence[Case]) -> str:
    """A short digest of the case ids, in order: it changes whenever the generator does."""
    return hashlib.sha256("\n".join(c.id for c in cases).encode()).hexdigest()[:16]


def record(ref: GoReference, path: Path = RECORDING, times: HostileTimes = HostileTimes(), jobs: int = 8) -> dict:
    """Play the corpus against the Go reference and write its outcomes to ``path``."""
    cases = corpus()
    outcomes = run_corpus(lambda flags: go_server_command(ref.binary, flags), cases, times, jobs)
    data = {
        "what": "The Go reference server (code/go-reference) under keepalive_lab.fidelity.hostile's corpus",
        "go_version": ref.go_version,
        "x_net_version": ref.x_net_version,
        "go_debug": default_godebug(ref.binary),
        "recorded_utc": now_utc(),
        "kernel": f"{platform.system()} {platform.release()}",
        "seed": SEED,
        "corpus_digest": corpus_digest(cases),
        "times": times.as_json(),
        "flags": hostile_flags(times),
        "probe": PROBE.decode("latin-1"),
        "health_check": HEALTH.decode("latin-1"),
        "cases": {case_id: outcome.as_json() for case_id, outcome in outcomes.items()},
    }
    _write(path, _dumps(data))
    return data


def default_godebug(binary: Path) -> str:
    """The ``DefaultGODEBUG`` the binary was built with (``go version -m``), ``none`` or ``unknown``.

    It decides some answers to hostile input: a binary built in GOPATH mode gets
    the defaults of Go 1.20 (``httplaxcontentlength=1``, ``httpmuxgo121=1``...),
    whatever the toolchain, unless its source says ``//go:debug default=go1.23``
    as the reference's does. ``none`` means no override: the toolchain's own
    defaults.
    """
    local = PROJECT_ROOT / ".venv" / "bin" / "go"
    go = str(local) if local.exists() else shutil.which("go")
    if go is None:
        return "unknown"
    try:
        info = subprocess.run([go, "version", "-m", str(binary)], capture_output=True, text=True, timeout=30,
                              check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not info.strip():
        return "unknown"
    for line in info.splitlines():
        key, _, value = line.strip().partition("\t")[2].partition("=")
        if key == "DefaultGODEBUG":
            return value
    return "none"


def _dumps(data: dict) -> str:
    """JSON with one case per line."""
    head = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in data.items() if k != "cases"]
    rows = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data["cases"].items()]
    return "\n".join(["{", *head, ' "cases": {', ",\n".join(rows), " }", "}", ""])


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_recording(path: Path = RECORDING) -> tuple[dict, dict[str, Outcome]]:
    """The recording's metadata, and Go's outcome by case id."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    cases = data.pop("cases")
    return data, {case_id: Outcome.from_json(o) for case_id, o in cases.items()}


def save_last_run(summary: dict, path: Path = LAST_RUN) -> None:
    """Keep a comparison's summary (see :meth:`~.compare.HostileComparison.summary`) for the book."""
    _write(path, json.dumps(summary, indent=1) + "\n")


def load_last_run(path: Path = LAST_RUN) -> dict | None:
    """The last comparison's summary, or None when there is none (or it cannot be read)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
