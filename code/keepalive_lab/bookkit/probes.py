"""Small live probes of the server's behaviour, for the code-reading and fix chapters.

Each probe starts the article's program (``LimitListener(l, 1)``) on
127.0.0.1 with :func:`~keepalive_lab.lab.launch.start_server`, talks to it
with :class:`~keepalive_lab.lab.rawclient.RawClient`, and returns a
:class:`~keepalive_lab.lab.results.ProbeResult`: what it measured and the
claims the page makes about it, which the page checks with ``require()`` as
it does for experiments. Times are lab seconds unless a column says otherwise.
"""

from __future__ import annotations

import pandas as pd

from keepalive_lab.kernel import accept_queue
from keepalive_lab.lab.launch import ServerConfig, start_server
from keepalive_lab.lab.rawclient import RawClient, request_bytes
from keepalive_lab.lab.registry import claim
from keepalive_lab.lab.results import ProbeResult
from keepalive_lab.lab.timescale import ARTICLE, TimeScale
from keepalive_lab.records import ConnState, Recorder

__all__ = ["one_slot_probe", "slot_release_probe", "fixes_on_the_wire"]

_GET = request_bytes()


def one_slot_probe(patience: float = 0.5) -> ProbeResult:
    """What a second client sees while a first one holds the only slot with an idle connection."""
    states: Recorder = Recorder()
    with start_server(ServerConfig(latency=0.01), conn_state=states) as running:
        with RawClient(running.port) as first, RawClient(running.port) as second:
            first.request(_GET)  # answered; the connection is now idle and kept alive
            second.send(_GET)
            answered_early = second.answered_within(patience)
            queued = accept_queue(running.port)
            known = sum(s.state is ConnState.NEW for s in states.records())
            first.close()
            answered_late = second.answered_within(5.0)
    v = {
        "second answered while first open": answered_early,
        "accept queue while waiting": queued,
        "connections the server knew": known,
        "second answered after first closed": answered_late,
    }
    claims = [
        claim("waits", "The second request gets no answer while the first connection stays open.", not answered_early,
              f"answered within {patience} s: {answered_early}"),
        claim("queued", "Its connection waits in the listening socket's queue.", queued == 1, f"Recv-Q {queued}"),
        claim("invisible", "The server's ConnState hook has seen only the first connection.", known == 1,
              f"{known} StateNew events"),
        claim("served_after", "Once the first client closes, the second is served.", answered_late,
              f"answered: {answered_late}"),
    ]  # fmt: skip
    return ProbeResult("one slot", v, claims)


def slot_release_probe(scale: TimeScale) -> ProbeResult:
    """How long a queued request waits, depending on what the slot's holder does (ReadTimeout only)."""
    idle_timeout = scale.lab(ARTICLE.read_timeout)
    waits = []
    for holder_closes in (True, False):
        with start_server(ServerConfig(latency=0.0, read_timeout=idle_timeout)) as running:
            with RawClient(running.port) as holder, RawClient(running.port) as waiter:
                holder.request(_GET)
                waiter.send(_GET)
                if holder_closes:
                    holder.close()
                waits.append(waiter.time_to_answer(idle_timeout + 5))
    closes, idles = waits
    table = pd.DataFrame([
        {"the slot's holder": "closes its idle connection", "queued request waited (article s)": round(scale.article(closes), 2)},
        {"the slot's holder": "stays connected, sends nothing", "queued request waited (article s)": round(scale.article(idles), 2)},
    ])  # fmt: skip
    claims = [
        claim("close_frees", "When the holder closes, the queued request is served at once.", closes < 0.1 * idle_timeout,
              f"waited {scale.article(closes):.2f} article s"),
        claim("idle_holds", "When the holder stays quiet, the queued request waits for Go's idle timeout.",
              0.95 * idle_timeout <= idles < idle_timeout + 1.0,
              f"waited {scale.article(idles):.1f} article s, idle timeout {ARTICLE.read_timeout:g} s"),
    ]  # fmt: skip
    values = {"wait_idle": round(scale.article(idles), 1), "read_timeout": ARTICLE.read_timeout}
    return ProbeResult("slot release", values, claims, table)


def _head_and_close(config: ServerConfig, wait: float) -> tuple[str, bool]:
    """One request: the response head (Date elided), and whether the server closed within ``wait``."""
    with start_server(config) as running, RawClient(running.port) as client:
        response = client.request(_GET)
        closed = client.answered_within(wait)  # nothing else comes: an answer here is the close
    head = [line if not line.startswith("Date:") else "Date: (the current time)" for line in response.head.splitlines()]
    return "\n".join(head), closed


def fixes_on_the_wire(wait: float = 0.5) -> ProbeResult:
    """The response head and the server's close, without a fix and with each of the article's fixes."""
    rows = []
    for label, changes in (
        ("as in the incident", {}),
        ("SetKeepAlivesEnabled(false)", {"keep_alives": False}),
        ("handler sets Connection: close", {"conn_close": True}),
    ):
        head, closed = _head_and_close(ServerConfig(latency=0.0, **changes), wait)
        rows.append({"configuration": label, "response head": head, "closed after the response": closed})
    table = pd.DataFrame(rows)
    closed = dict(zip(table["configuration"], table["closed after the response"]))
    heads = dict(zip(table["configuration"], table["response head"]))
    claims = [
        claim("closes", "Without a fix the connection stays open; with either fix the server closes it.",
              closed == {"as in the incident": False, "SetKeepAlivesEnabled(false)": True,
                         "handler sets Connection: close": True}, str(closed)),
        claim("go_adds_last", "With keep-alives off, Go adds Connection: close itself, after its other headers.",
              heads["SetKeepAlivesEnabled(false)"].splitlines()[-1] == "Connection: close",
              heads["SetKeepAlivesEnabled(false)"].splitlines()[-1]),
        claim("handler_sorted", "The handler's own Connection: close stays among its sorted headers.",
              heads["handler sets Connection: close"].splitlines()[1] == "Connection: close",
              heads["handler sets Connection: close"].splitlines()[1]),
        claim("no_header", "Without a fix the response has no Connection header.",
              "Connection" not in heads["as in the incident"], heads["as in the incident"].replace("\n", " | ")),
    ]  # fmt: skip
    return ProbeResult("fixes on the wire", {}, claims, table)
