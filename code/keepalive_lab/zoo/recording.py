"""The zoo's recording: the last verdicts measured with every server installed, for machines that lack some.

``data/zoo-verdicts.json`` holds, for each server of the catalogue, what one
live run measured (verdict, idle connections, the probe's steps), the version
that ran, the run's date and the probe's settings. :func:`keepalive_lab.zoo.runner.run`
reads it only for a server whose package is missing here, and marks that row
``recorded``: a recording is never presented as a measurement.

Make it again, on a machine where everything is installed::

    .venv/bin/python -m keepalive_lab.zoo --record

It refuses to write when a server is missing or any row does not match its
expected verdict.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path

__all__ = ["RECORDING", "KEPT", "load", "save"]

RECORDING = Path(__file__).resolve().parents[3] / "data" / "zoo-verdicts.json"
# What a recorded row keeps of a measured one (a ZooRow's fields): what the page shows and checks.
KEPT = ("version", "verdict", "idle_connections", "most_idle", "delay_s", "elapsed_s", "keeps_alive", "steps",
        "idle_lifetimes_s", "accept_queue", "log")  # fmt: skip


def load(path: Path = RECORDING) -> dict:
    """The recording as a dict (``{}`` when there is none)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _system() -> str:
    try:
        info = platform.freedesktop_os_release()
        return info.get("PRETTY_NAME", "") or platform.platform()
    except OSError:
        return platform.platform()


def save(run, path: Path = RECORDING) -> dict:
    """Write the measured rows of ``run`` (a :class:`~keepalive_lab.zoo.runner.ZooRun`) as the recording."""
    not_measured = [r.key for r in run.rows if r.status != "measured"]
    if not_measured:
        raise ValueError(f"not measured here, so not recorded: {', '.join(not_measured)}")
    run.confirm()  # a recording of a wrong verdict would be worse than none
    data = {
        "recorded_on": run.when,
        "system": _system(),
        "times": asdict(run.times),
        "servers": {r.key: {k: getattr(r, k) for k in KEPT} for r in run.rows},
    }
    path.write_text(json.dumps(data, indent=1) + "\n")
    return data
