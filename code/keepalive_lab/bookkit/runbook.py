"""Live parts of the production runbook: matching a load balancer's log with the server's, and the
instrumented ``LimitListener`` written in Go.

:func:`ghost_match` runs the ghost-request experiment and lines up what the
load balancer logged (its 504) with when the server's access log shows the
same request: after the load balancer had given up.

:func:`instrumented_limit_probe` builds ``code/go-fixes/instrumented-limit``
with Go 1.23.4 (``tools/go_build.sh``), holds its only slot with an idle
connection, and reads its ``expvar`` metrics while a second request waits and
after it is served. Where Go is not installed it returns the recording in
``data/instrumented-limit.json``, labelled as one.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd

from keepalive_lab.lab.programs import Program
from keepalive_lab.lab.rawclient import RawClient, request_bytes
from keepalive_lab.lab.registry import claim
from keepalive_lab.lab.results import ProbeResult
from keepalive_lab.lab.timescale import TimeScale

__all__ = ["ghost_match", "instrumented_limit_probe", "RECORDING"]

ROOT = Path(__file__).resolve().parents[3]
RECORDING = ROOT / "data" / "instrumented-limit.json"
_PROGRAM = "instrumented-limit"
_HANDLER_MS = 200.0  # the program's handler sleeps 200 ms


def ghost_match(scale: TimeScale) -> ProbeResult:
    """Each request of the ghost experiment as the node logged it, next to the server's access log."""
    from keepalive_lab.experiments import EXPERIMENTS

    exp = EXPERIMENTS["ghost"]
    result = exp.run(exp.params(), scale)
    lb, access = result.tables["lb"], result.tables["access"]
    handled = access.groupby("request_id")["handler_start"].min()
    rows = []
    for rec in lb.sort_values("start").itertuples():
        ran = handled.get(rec.request_id)
        rows.append({
            "request id": rec.request_id, "node": rec.node, "node answered": int(rec.status),
            "node answered at (s)": round(scale.article(rec.end), 1),
            "in the server's log at (s)": None if ran is None else round(scale.article(ran), 1),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    late = table[table["in the server's log at (s)"] > table["node answered at (s)"]]
    claims = [
        claim("ghost_logged_late", "A request the node answered 504 shows up in the server's log after that 504.",
              (late["node answered"] == 504).all() and len(late) >= 1, f"{len(late)} such request(s)"),
        claim("others_in_order", "Every other request is in the server's log before its node answered.",
              len(late) == (table["node answered"] == 504).sum(), f"{len(table)} requests in all"),
    ]  # fmt: skip
    return ProbeResult("ghost match", {"late": len(late)}, claims, table)


def _build() -> Path | None:
    """The program's binary, built now; None where there is no Go toolchain (the script exits 3)."""
    done = subprocess.run([str(ROOT / "tools" / "go_build.sh"), _PROGRAM], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    if done.returncode == 3:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"tools/go_build.sh {_PROGRAM} failed: {done.stderr.strip()}")
    return ROOT / "_build" / "go-fixes" / _PROGRAM


def _vars(metrics: str) -> dict:
    data = httpx.get(f"http://{metrics}/debug/vars", timeout=5.0, trust_env=False).json()
    return {k: data[k] for k in ("limit_slots_in_use", "limit_slot_wait_ms_last", "limit_queued_ms_last")}


def _measure(binary: Path, hold: float) -> dict:
    """Hold the slot, let a request wait ``hold`` seconds, free the slot; the metrics at each step."""
    with Program([binary, "-addr", "127.0.0.1:0", "-metrics", "127.0.0.1:0"]) as program:
        metrics = program.wait_for(r"metrics on (\S+)")[1]
        # The program may print "listening on" before "metrics on": then it is already in the output.
        listening = re.search(r"listening on \S+:(\d+)", program.output) or program.wait_for(r"listening on \S+:(\d+)")
        port = int(listening[1])
        with RawClient(port) as holder, RawClient(port) as waiter:
            holder.request(request_bytes())
            idle = _vars(metrics)
            waiter.send(request_bytes())
            started = time.monotonic()
            unanswered = waiter.gets_nothing_for(hold)
            waiting = _vars(metrics)
            holder.close()
            waiter.read_response()
            waited_ms = (time.monotonic() - started) * 1000
            served = _vars(metrics)  # the waiter now holds the slot
    return {"hold_s": hold, "unanswered_while_held": unanswered, "idle": idle, "waiting": waiting,
            "served": served, "waited_ms": round(waited_ms, 1), "handler_ms": _HANDLER_MS}  # fmt: skip


def _queued_ms(m: dict) -> float:
    """How long the request waited in the kernel: what its client waited, less the handler's work."""
    return m["waited_ms"] - m["handler_ms"]


def instrumented_limit_probe(scale: TimeScale, hold: float = 1.0, record_to: Path | None = None) -> ProbeResult:
    """Run the Go program live (or read its recording); ``hold`` is wall-clock seconds.

    ``record_to`` writes the live measurement there (how ``data/instrumented-limit.json`` is made).
    """
    binary = _build()
    if binary is not None:
        m = _measure(binary, hold)
        m["go"] = subprocess.run([str(ROOT / ".venv" / "bin" / "go"), "env", "GOVERSION"], capture_output=True,
                                 text=True).stdout.strip() or "go1.23.4"  # fmt: skip
        m["when"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        if record_to is not None:
            record_to.write_text(json.dumps(m, indent=1) + "\n")
        sentence = f"The program ran live while this page was built ({m['go']}), in wall-clock seconds:"
    else:
        m = json.loads(RECORDING.read_text())
        sentence = (f"Go is not installed here (`make install` adds it), so these are the figures RECORDED on "
                    f"{m['when']} with {m['go']}, not measured in this build:")  # fmt: skip
    shown = {
        "slots in use, one idle connection": m["idle"]["limit_slots_in_use"],
        "slots in use, a second request waiting": m["waiting"]["limit_slots_in_use"],
        "the second request waited, seen by its client (ms)": m["waited_ms"],
        "limit_queued_ms_last, once it was accepted": m["served"]["limit_queued_ms_last"],
    }
    claims = [
        claim("idle_counts", "An idle connection counts as a slot in use.", m["idle"]["limit_slots_in_use"] == 1,
              str(m["idle"])),
        claim("waiter_invisible", "The waiting request is not a slot in use: it has not been accepted.",
              m["waiting"]["limit_slots_in_use"] == 1 and m["unanswered_while_held"], str(m["waiting"])),
        claim("queued_measured", "The program measured how long the request had waited in the accept queue.",
              abs(m["served"]["limit_queued_ms_last"] - _queued_ms(m)) <= max(100.0, 0.2 * _queued_ms(m)),
              f"{m['served']['limit_queued_ms_last']:.0f} ms reported; the client waited {m['waited_ms']:.0f} ms, "
              f"of which {m['handler_ms']:.0f} ms was the handler's work after the accept"),
    ]  # fmt: skip
    return ProbeResult("instrumented limit", {"sentence": sentence, "shown": shown, "live": binary is not None},
                       claims)  # fmt: skip
