"""The server-zoo chapter's figures, tables and prose numbers, from a :class:`~keepalive_lab.zoo.runner.ZooRun`.

:func:`family_timeline` draws one family's probes: one lane per server, each
fresh request of the probe as a box (coloured by what became of it), and
under it how many idle keep-alive connections the probe held open meanwhile.
The probe's requests follow one another, so the figure puts them side by
side in the order sent, each box saying how long it waited: a starved
request's two seconds and a served one's milliseconds could not share one
time axis and both be seen. Colours follow :mod:`keepalive_lab.bookkit.plots`.

:func:`prose_values` and :func:`prose_claims` give the chapter its numbers and
check what its sentences say about the runs; the frames are its tables.
"""

from __future__ import annotations

import html
from urllib.parse import urlparse

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from keepalive_lab.bookkit.plots import OUTCOME_COLOURS, STATE_COLOURS
from keepalive_lab.zoo.runner import ZooRow, ZooRun, expected_table
from keepalive_lab.zoo.servers import ZooTimes

__all__ = ["STEP_COLOURS", "example_config", "expected_frame", "family_timeline", "measured_frame", "prose_claims",
           "prose_values", "rule_frame", "starving_pattern", "status_sentence"]

STEP_COLOURS = {
    "served at once": OUTCOME_COLOURS["ok"],
    "served late": "#E69F00",
    "no answer": OUTCOME_COLOURS["timeout"],
    "refused": OUTCOME_COLOURS["503"],
}


def _kind(step: dict, prompt: float) -> str:
    if step["outcome"] == "answered" and step["status"] not in (429, 503):
        return "served at once" if step["seconds"] <= prompt else "served late"
    return "no answer" if step["outcome"] == "no-answer" else "refused"


def _refusal(step: dict) -> str:
    """How the server refused: "a 503", "a reset", "a close"."""
    if step.get("status"):
        return f"a {step['status']}"
    return {"reset": "a reset", "closed": "a close without an answer"}.get(step["outcome"], f"a {step['outcome']}")


def _summary(row: ZooRow, prompt: float) -> str:
    """A phrase for the alt text: what the probe saw, in order."""
    if row.verdict is None:
        return f"{row.server.name}: not run ({row.evidence})"
    steps = row.steps
    kinds = [_kind(s, prompt) for s in steps]
    at_once = sum(k == "served at once" for k in kinds)
    text = f"{row.server.name}: {row.verdict}; {at_once} fresh request(s) served at once"
    last = steps[-1] if steps else None
    if last is not None and kinds[-1] != "served at once":
        text += f", then with {last['idle']} idle connection(s) open "
        text += {"no answer": f"no answer for {last['seconds']:.1f} s", "served late": f"an answer after "
                 f"{last['seconds']:.1f} s", "refused": _refusal(last)}[kinds[-1]]  # fmt: skip
    else:
        text += f", with up to {row.most_idle} idle connection(s) open"
    return text + (f" (recorded {row.recorded_on})" if row.status == "recorded" else "")


def _wait(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def family_timeline(run: ZooRun, family: str) -> tuple[Figure, str]:
    """One lane per server of ``family``: the probe's fresh requests in order, and the idle connections held."""
    rows = [r for r in run.rows if r.server.family == family]
    if not rows:
        raise ValueError(f"no server of family {family!r} in this run")
    t = run.times
    columns = max([len(r.steps) for r in rows] + [1])
    fig, ax = plt.subplots(figsize=(8.0, 1.1 + 0.85 * len(rows)))  # the page shows it ~7 in wide
    labels, used = [], set()
    for lane, row in enumerate(rows):
        labels.append(row.server.name + {"recorded": f"\n(recorded {row.recorded_on})", "missing": "\n(not run here)",
                                         "error": "\n(failed)"}.get(row.status, ""))  # fmt: skip
        for i, step in enumerate(row.steps):
            kind = _kind(step, t.prompt)
            used.add(kind)
            ax.broken_barh([(i + 0.05, 0.9)], (lane - 0.4, 0.42), color=STEP_COLOURS[kind],
                           hatch="//" if row.status == "recorded" else None, edgecolor="white", linewidth=0.5)
            text = _wait(step["seconds"]) if kind != "refused" else _refusal(step).removeprefix("a ")
            ax.text(i + 0.5, lane - 0.19, text, ha="center", va="center", fontsize=9,
                    color="white" if kind in ("no answer", "served at once") else "black")  # fmt: skip
            height = 0.15 * step["idle"] / t.max_idle
            if step["idle"]:
                ax.broken_barh([(i + 0.05, 0.9)], (lane + 0.36 - height, height), color=STATE_COLOURS["idle"],
                               linewidth=0)  # fmt: skip
            ax.text(i + 0.5, lane + 0.11, str(step["idle"]), ha="center", va="center", fontsize=8.5, color="#333333")
        if row.verdict is not None:
            where = f" at {row.most_idle} idle" if row.verdict in ("starves", "rejects") else ""
            ax.text(len(row.steps) + 0.1, lane - 0.19, f"{row.verdict}{where}", va="center", fontsize=10,
                    fontweight="bold" if row.verdict == "starves" else "normal")  # fmt: skip
    ax.set_yticks(range(len(rows)), labels, fontsize=10)
    ax.set_ylim(len(rows) - 0.5, -0.55)
    ax.set_xlim(0, columns + 1.6)
    ax.set_xticks([i + 0.5 for i in range(columns)], [str(i + 1) for i in range(columns)], fontsize=9)
    ax.set_xlabel("fresh requests, in the order the probe sent them; in each box, how long it waited;\n"
                  "under it, how many idle keep-alive connections the probe held open meanwhile",
                  fontsize=9)  # fmt: skip
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # The legend names only what this figure shows.
    meaning = {"served at once": f"served at once (within {t.prompt:g} s)", "served late": "served late",
               "no answer": f"no answer within {t.timeout:g} s", "refused": "refused"}  # fmt: skip
    shown = [kind for kind in STEP_COLOURS if kind in used]
    handles = [plt.Rectangle((0, 0), 1, 1, color=STEP_COLOURS[kind]) for kind in shown]
    names = [meaning.get(kind, kind) for kind in shown]
    handles.append(plt.Rectangle((0, 0), 1, 1, color=STATE_COLOURS["idle"]))
    names.append("idle connections held")
    fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    alt = (f"The probe's fresh requests, in order, against each {family} server, with how many idle keep-alive "
           f"connections were open for each. " + ". ".join(_summary(r, t.prompt) for r in rows) + ".")
    return fig, alt


def _link(url: str) -> str:
    parsed = urlparse(url)
    page = parsed.path.rstrip("/").rsplit("/", 1)[-1] or parsed.netloc
    text = page + (f"#{parsed.fragment}" if parsed.fragment else "")
    return f'<a href="{html.escape(url)}">{html.escape(text)}</a>'


def expected_frame(times: ZooTimes) -> pd.DataFrame:
    """The catalogue before anything runs: server, settings, prediction, and why, with its source as a link."""
    full = expected_table(times)
    return pd.DataFrame({
        "server": full["family"] + ": " + full["server"], "settings": full["settings"],
        "expected": full["expected"], "why": full["why"] + " (" + full["source"].map(_link) + ")",
    })  # fmt: skip


def rule_frame(run: ZooRun) -> pd.DataFrame:
    """The rule's three answers for each server, from its documentation, next to the verdict of this run."""
    full = expected_table(run.times)
    verdicts = [r.verdict or "–" for r in run.rows]
    return pd.DataFrame({
        "server": full["family"] + ": " + full["server"], "the limit counts": full["the limit counts"],
        "at the limit": full["at the limit"],
        "an idle connection is closed by": full["an idle connection is closed by"],
        "verdict": verdicts,
    })  # fmt: skip


def measured_frame(run: ZooRun) -> pd.DataFrame:
    return run.table()


def prose_values(run: ZooRun) -> dict:
    """The numbers and words the chapter's prose glues, all from the run (or its recorded rows)."""
    def most(key: str):
        value = run.row(key).most_idle
        return "–" if value is None else value

    versions = {r.server.kind: r.version for r in run.rows if r.version}
    rows = run.table()
    values = {
        "zoo_servers": len(run.rows), "zoo_measured": len(run.keys("measured")),
        "zoo_recorded": len(run.keys("recorded")), "zoo_agree": int((rows["agrees"] == "yes").sum()),
        "zoo_wall": f"{run.wall_s:.0f}", "zoo_prompt": f"{run.times.prompt:g}", "zoo_timeout": f"{run.times.timeout:g}",
        "zoo_idle": run.times.idle, "zoo_max_idle": run.times.max_idle,
        "zoo_starves": int((rows["verdict"] == "starves").sum()),
        "zoo_event_idle": most("apache-event"), "zoo_prefork_idle": most("apache-prefork"),
        "zoo_uvicorn1_idle": most("uvicorn-limit-1"), "zoo_uvicorn2_idle": most("uvicorn-limit-2"),
        "zoo_node_idle": most("node-maxconnections"), "zoo_nginx_wc_idle": most("nginx-worker-connections"),
        "zoo_gthread_wc_idle": most("gunicorn-gthread-connections"),
        "zoo_go_queue": _connections(run.row("go-limitlistener").accept_queue),
    }  # fmt: skip
    for kind in ("go", "lab", "uvicorn", "gunicorn", "apache", "nginx", "haproxy", "node"):
        values[f"zoo_version_{kind}"] = versions.get(kind, "not installed here")
    node = run.row("node-maxconnections")
    values["zoo_node_refusal"] = _refusal(node.steps[-1]) if node.steps else "–"
    values["zoo_uvicorn1_status"] = (run.row("uvicorn-limit-1").steps or [{"status": "–"}])[-1]["status"]
    return {k: ("–" if v is None else v) for k, v in values.items()}


def _connections(n: int | None) -> str:
    return "–" if n is None else f"{n} connection" + ("" if n == 1 else "s")


def status_sentence(run: ZooRun) -> str:
    """Did every server run live in this build? Says which rows are recordings, and why."""
    recorded, missing = run.keys("recorded"), run.keys("missing")
    if not recorded and not missing:
        return (f"All {len(run.rows)} servers ran live while this page was built, {run.times.max_idle} idle "
                f"connections at most each, in {run.wall_s:.0f} s.")
    parts = [f"{len(run.keys('measured'))} of the {len(run.rows)} servers ran live while this page was built."]
    if recorded:
        names = ", ".join(run.row(k).server.name for k in recorded)
        parts.append(f"{len(recorded)} could not run here, because a package is missing ({names}): their rows are "
                     f"RECORDINGS of an earlier run, not measured in this build, and say so.")  # fmt: skip
    if missing:
        parts.append(f"{len(missing)} could not run and have no recording: {', '.join(missing)}.")
    return " ".join(parts)



def example_config(key: str, times: ZooTimes = ZooTimes()) -> str:
    """The configuration file a zoo server runs with, as written for a run (folder and port are examples)."""
    from pathlib import Path

    from keepalive_lab.zoo import configs
    from keepalive_lab.zoo.servers import server

    s, folder, idle = server(key), Path("/tmp/keepalive-lab-lb-example"), times.idle
    o = s.options
    if s.kind == "apache":
        return configs.apache(mpm=o["mpm"], port=8080, folder=folder, idle=None if s.defaults else idle,
                              as_root=True, async_factor=o["async_factor"])  # fmt: skip
    if s.kind == "nginx":
        return configs.nginx(port=8080, folder=folder, idle=None if s.defaults else idle, limit_conn=o["limit_conn"],
                             worker_connections=o["worker_connections"])  # fmt: skip
    if s.kind == "haproxy":
        return configs.haproxy(port=8080, backend_port=8081, folder=folder, idle=None if s.defaults else idle,
                               frontend_maxconn=o["frontend_maxconn"], server_maxconn=o["server_maxconn"])  # fmt: skip
    raise ValueError(f"{key} runs from a command line, not a configuration file")


def starving_pattern(run: ZooRun) -> list[str]:
    """The starving rows that do NOT fit the rule's pattern (a limit on connections that waits in the kernel)."""
    return [r.key for r in run.rows if r.verdict == "starves"
            and not ("connections" in r.server.counts and r.server.at_limit.startswith("waits in the kernel"))]


def prose_claims(run: ZooRun) -> list[str]:
    """What the chapter's prose says beyond the verdicts, checked on this run: the claims that do not hold.

    A row without a verdict (missing here, no recording) makes no claim.
    """
    failed = []

    def claim(key: str, holds, text: str) -> None:
        row = run.row(key)
        if row.verdict is not None and not holds(row):
            failed.append(f"{key}: {text}; steps {row.steps}")

    last = lambda row: row.steps[-1] if row.steps else {}  # noqa: E731
    claim("uvicorn-limit-1", lambda r: r.most_idle == 0 and last(r).get("status") == 503,
          "the first request, with no other connection open, gets 503")
    claim("node-maxconnections", lambda r: last(r).get("outcome") in ("reset", "closed") and not last(r).get("status"),
          "the second connection is closed without a response")
    for key in ("go-no-keepalives", "gunicorn-sync"):
        claim(key, lambda r: r.keeps_alive is False, "no connection is kept alive")
    claim("gunicorn-gthread-connections", lambda r: not any(s["keeps_alive"] for s in r.steps[1:]),
          "every connection after the one kept alive is closed after its response")
    # A close shows while a fresh request waits (idle_closed) or between two (the probe's idle lifetimes).
    claim("nginx-worker-connections", lambda r: any(s["idle_closed"] for s in r.steps) or bool(r.idle_lifetimes_s),
          "nginx closes an idle connection to make room")
    claim("nginx-worker-connections", lambda r: not r.log or "reusing connections" in r.log,
          "nginx logs that it reuses connections")
    claim("apache-event", lambda r: all(s["outcome"] == "answered" for s in r.steps[:-1]),
          "the fresh requests before the last one were served")
    return failed
