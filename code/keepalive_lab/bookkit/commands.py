"""The lab's own diagnostic commands, run on a page exactly as a reader would type them.

:func:`check_command` points ``python -m keepalive_lab check`` at a lab
server set up like the incident; :func:`queue_watch_while_starved` runs
``python -m keepalive_lab queue --watch`` while a connection waits behind
an idle one. Both run the command in a child process, show what it printed
and assert what the page says about it.
"""

from __future__ import annotations

import json
import subprocess
import sys

from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.rawclient import RawClient, request_bytes
from keepalive_lab.lab.registry import claim
from keepalive_lab.lab.results import ProbeResult

__all__ = ["check_command", "queue_watch_while_starved"]

_COMMAND_TIMEOUT = 60.0  # a bound for the child process, far above what either command needs


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keepalive_lab", *args], capture_output=True, text=True,
                          timeout=_COMMAND_TIMEOUT, check=False)  # fmt: skip


def _typed(args: list[str]) -> str:
    """The command line as a reader would type it (with the port this run happened to get)."""
    return "python -m keepalive_lab " + " ".join(args)


def check_command(config: ServerConfig, prompt: str = "300ms", timeout: str = "1.5s") -> ProbeResult:
    """``check --json`` against a lab server with ``config``; the values are the JSON verdict."""
    with start_server(config) as running:
        args = ["check", f"127.0.0.1:{running.port}", "--prompt", prompt, "--timeout", timeout, "--json"]
        done = _run(args)
    *report, last = done.stdout.strip().splitlines() or [""]
    verdict = json.loads(last) if last.startswith("{") else {}
    values = {"command": _typed(args[:-1]), "report": "\n".join(report), "exit": done.returncode, **verdict}
    claims = [
        claim("check_ran", "The probe ran and printed a verdict as JSON on its last line.", bool(verdict),
              done.stderr.strip() or last),
        claim("check_exit", "Its exit status is 1 for starves and delays, 0 otherwise.",
              done.returncode == (1 if verdict.get("verdict") in ("starves", "delays") else 0), f"exit {done.returncode}"),
    ]  # fmt: skip
    return ProbeResult("check", values, claims)


def queue_watch_while_starved(seconds: str = "1.5", stuck: str = "0.5") -> ProbeResult:
    """``queue --watch`` on the lab server's port while one connection waits behind an idle one."""
    with start_server(ServerConfig(latency=0.0, read_timeout=60)) as running:
        with RawClient(running.port) as holder:
            holder.request(request_bytes("/"))
            with RawClient(running.port):
                args = ["queue", "--port", str(running.port), "--watch", "--seconds", seconds, "--interval", "0.1",
                        "--stuck", stuck]  # fmt: skip
                done = _run(args)
    shown = done.stdout.strip()
    claims = [
        claim("queue_stuck", "queue --watch reports the listening socket's queue as stuck and exits 1.",
              done.returncode == 1 and "waiting to be accepted" in done.stdout, f"exit {done.returncode}"),
        claim("queue_one", "The table shows one queued connection.",
              any(line.split()[:2] == [f"127.0.0.1:{running.port}", "1"] for line in shown.splitlines()), shown[:200]),
    ]  # fmt: skip
    return ProbeResult("queue --watch", {"command": _typed(args), "output": shown}, claims)
