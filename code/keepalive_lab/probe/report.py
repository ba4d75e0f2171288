"""The probe's verdict in words: what it did, what it saw, what to change."""

from __future__ import annotations

import textwrap

from keepalive_lab.probe.check import CheckResult, Step, Verdict

__all__ = ["report", "ADVICE"]

_WIDTH = 100  # a terminal, and a code block on a page
ADVICE = {
    Verdict.STARVES: (
        "New connections wait unaccepted while idle keep-alive connections hold the server's slots. "
        "Count requests instead of connections (a semaphore in the handler), or stop idle connections "
        "from holding a slot: turn keep-alives off, answer with 'Connection: close', or close idle "
        "connections well before a client would give up."
    ),
    Verdict.DELAYS: (
        "A new connection was served only once the server closed an idle one: its idle timeout decides "
        "how long a request waits. The limit still counts idle connections; count requests instead, or "
        "do not keep connections alive at the limit."
    ),
    Verdict.REJECTS: (
        "The server refuses work at its limit instead of letting it wait unseen: clients get an error "
        "they can retry elsewhere. Not this pitfall; check that your load balancer retries or reports it."
    ),
    Verdict.OK: "New connections were served at once every time: idle connections did not block them.",
}


def _describe(step: Step) -> str:
    if step.outcome == "answered":
        kept = "kept alive" if step.keeps_alive else "not kept alive"
        text = f"{step.status} in {step.seconds:.3f} s ({kept})"
    elif step.outcome == "no-answer":
        text = f"no answer in {step.seconds:.3f} s"
    else:
        text = f"{step.outcome} after {step.seconds:.3f} s, no answer"
    if step.idle_closed:
        text += f"; meanwhile the server closed {step.idle_closed} idle connection(s)"
    return f"  with {step.idle} idle connection(s) open, a fresh request: {text}"


def _headline(result: CheckResult) -> str:
    k = result.idle_connections
    if result.verdict is Verdict.STARVES:
        return f"verdict: starves: no answer within {result.timeout_s:g} s while {k} idle connection(s) were open"
    if result.verdict is Verdict.DELAYS:
        return f"verdict: delays: a fresh request waited {result.delay_s:.3f} s while {k} idle connection(s) were open"
    if result.verdict is Verdict.REJECTS:
        return f"verdict: rejects: at {k} idle connection(s) the server refused the fresh request"
    if k == 0:
        return "verdict: ok: the server keeps no connection alive, so nothing can sit idle on a slot"
    return f"verdict: ok: served at once with up to {k} idle connection(s) open"


def report(result: CheckResult) -> str:
    """A short report for a person (the JSON form is :meth:`CheckResult.to_json`)."""
    lines = [
        f"check {result.target}: idle keep-alive connections held one at a time, a fresh request after each",
        f"  (prompt {result.prompt_s:g} s, timeout {result.timeout_s:g} s, at most {result.max_idle} idle)",
    ]
    if result.server:
        lines.append(f"  server says: {result.server}")
    lines += [_describe(step) for step in result.steps]
    if result.idle_lifetimes_s:
        shown = ", ".join(f"{s:.1f}" for s in result.idle_lifetimes_s)
        lines.append(f"  the server closed idle connections after {shown} s of idleness")
    if result.accept_queue is not None:
        backlog = f" (backlog {result.backlog})" if result.backlog is not None else ""
        lines.append(f"  the kernel held {result.accept_queue} connection(s) in the listener's accept queue{backlog}")
    lines.append(_headline(result))
    lines += textwrap.wrap("what it means: " + ADVICE[result.verdict], _WIDTH, subsequent_indent="  ")
    n = len(result.steps)
    lines.append(f"  ({n} fresh request{'' if n == 1 else 's'}, {result.elapsed_s:.1f} s)")
    return "\n".join(lines)
