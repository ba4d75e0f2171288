"""Real HAProxy and nginx in front of the lab server: which configurations starve it, live.

Theory of operation
-------------------
:data:`SCENARIOS` lists the configurations whose outcome was observed earlier
with Debian's HAProxy 2.6 and nginx 1.22 in front of a real Go program
(``LimitListener(l, 1)``, keep-alive on). :func:`run` plays each of them live
against the lab server (:mod:`keepalive_lab.lbtrials`), a few at a time in
threads (each scenario has its own server, ports and processes), and returns
an :class:`~keepalive_lab.results.ExperimentResult`:

* ``tables["verdicts"]``: one row per scenario, expected vs observed;
* ``tables["requests"]``: every client request, with the columns of
  ``Testbed.tables()["requests"]`` plus ``scenario``; times in lab seconds
  since that scenario's start; ``node`` is the instance (``"haproxy-2"``);
* ``tables["lb"]`` (:class:`~keepalive_lab.records.BalancerRecord` from the
  real access logs), ``"lb_timing"``, ``"access"``, ``"states"``,
  ``"health"``, ``"queue"``: the same, with ``scenario``;
* ``claims``: each scenario's verdict, and a few more (the connect took no
  time, the server ran the abandoned request later...), so a chapter can
  ``result.require(...)`` exactly the claims its text makes.

A scenario whose load balancer is not installed is *skipped*: its verdict row
says so and it contributes no claim. :func:`availability` says what is
installed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from .lbconf import HAProxySpec, LBSpec, NginxSpec, render
from .lbproc import binary_version, find_binary
from .lbtrials import RealTimes, Scenario, Trial, run_trial
from .results import ExperimentResult
from .timescale import TimeScale

__all__ = [
    "SCENARIOS",
    "GROUPS",
    "RealTimes",
    "Scenario",
    "availability",
    "run",
    "scenario",
    "plot_frame",
    "setups",
    "confirm",
    "status_sentence",
    "run_summary",
    "prose_numbers",
    "example_config",
    "debian_nginx_workers",
]

_H = HAProxySpec()
_N_OLD = NginxSpec()
_N_KA = NginxSpec(keepalive=8)

GROUPS = {
    "haproxy": "HAProxy",
    "nginx": "nginx",
    "fix": "server-side fixes",
    "health": "health checks",
}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "haproxy-two", "HAProxy x2, default", (("haproxy-1", _H), ("haproxy-2", _H)), "two_lbs", "starved",
        "the second instance's request gets 504 after its server timeout; its connect took no time; the first "
        "instance's idle connection holds the slot until Go's idle timeout",
        "haproxy", extras=("connect_instant", "queued", "invisible", "ghost", "held_until_idle", "signature"),
    ),
    Scenario(
        "haproxy-one", "HAProxy x1, default, 2 client conns", (("haproxy-1", _H),), "two_conns", "starved",
        "http-reuse safe sends a client connection's first request over a new server connection, which waits "
        "behind the instance's own idle one", "haproxy",
    ),
    Scenario(
        "haproxy-always", "HAProxy x1, http-reuse always", (("haproxy-1", HAProxySpec(reuse="always")),),
        "two_conns", "served", "the new client connection's request reuses the idle server connection", "haproxy",
        extras=("reused",),
    ),
    Scenario(
        "haproxy-server-close", "HAProxy x2, http-server-close",
        (("haproxy-1", HAProxySpec(server_close=True)), ("haproxy-2", HAProxySpec(server_close=True))),
        "two_lbs", "served", "the server connection closes after each response: the load-balancer-side fix", "haproxy",
        extras=("one_per_conn",),
    ),
    Scenario(
        "haproxy-overlap", "HAProxy x1, http-reuse always, overlap", (("haproxy-1", HAProxySpec(reuse="always")),),
        "overlap", "starved", "a request that arrives while the only connection is busy needs a second one",
        "haproxy",
    ),
    Scenario(
        "nginx-old", "nginx x2, old default", (("nginx-1", _N_OLD), ("nginx-2", _N_OLD)), "two_lbs", "served",
        "HTTP/1.0 with Connection: close upstream: no idle connection is kept", "nginx", extras=("one_per_conn",),
    ),
    Scenario(
        "nginx-keepalive", "nginx x2, upstream keepalive", (("nginx-1", _N_KA), ("nginx-2", _N_KA)), "two_lbs",
        "starved", "504 \"upstream timed out\" after a connect of 0-1 ms", "nginx",
        extras=("connect_instant", "queued", "invisible", "ghost", "upstream_timed_out"),
    ),
    Scenario(
        "nginx-one-worker", "nginx x1, keepalive, 1 worker, 2 client conns", (("nginx-1", _N_KA),), "two_conns",
        "served", "one worker's pool serves all of its client connections: the new one reuses the idle "
        "connection (the same-worker half of the two-worker observation)", "nginx", extras=("reused",),
        derived=True,
    ),
    Scenario(
        "nginx-workers", "nginx x1, keepalive, 2 workers", (("nginx-1", NginxSpec(keepalive=8, workers=2)),),
        "workers", "starved", "a connection that lands on the other worker finds that worker's own, empty pool",
        "nginx",
    ),
    Scenario(
        "nginx-mixed", "nginx keepalive + nginx default", (("nginx-1", _N_KA), ("nginx-2", _N_OLD)), "two_lbs",
        "starved", "the second instance's own settings do not protect it", "nginx",
    ),
    Scenario(
        "nginx-overlap", "nginx x1, keepalive, overlap", (("nginx-1", _N_KA),), "overlap", "starved",
        "a request that arrives while the only connection is busy needs a second one", "nginx",
    ),
    Scenario(
        "fix-haproxy-nokeepalive", "HAProxy x2 + SetKeepAlivesEnabled(false)", (("haproxy-1", _H), ("haproxy-2", _H)),
        "two_lbs", "served", "the server-side fixes work behind real load balancers", "fix", keep_alives=False,
        extras=("one_per_conn",),
    ),
    Scenario(
        "fix-haproxy-connclose", "HAProxy x2 + handler Connection: close", (("haproxy-1", _H), ("haproxy-2", _H)),
        "two_lbs", "served", "the server-side fixes work behind real load balancers", "fix", conn_close=True,
        extras=("one_per_conn",),
    ),
    Scenario(
        "fix-nginx-nokeepalive", "nginx x2 keepalive + SetKeepAlivesEnabled(false)",
        (("nginx-1", _N_KA), ("nginx-2", _N_KA)), "two_lbs", "served",
        "the server-side fixes work behind real load balancers", "fix", keep_alives=False,
        extras=("one_per_conn",),
    ),
    Scenario(
        "fix-nginx-connclose", "nginx x2 keepalive + handler Connection: close",
        (("nginx-1", _N_KA), ("nginx-2", _N_KA)), "two_lbs", "served",
        "the server-side fixes work behind real load balancers", "fix", conn_close=True,
        extras=("one_per_conn",),
    ),
    Scenario(
        "check-tcp", "HAProxy TCP health check", (("haproxy-1", _H), ("haproxy-2", HAProxySpec(check="tcp"))),
        "health", "stays UP", "the check never reaches the application, while every request through that "
        "instance gets 504", "health",
    ),
    Scenario(
        "check-http", "HAProxy option httpchk", (("haproxy-1", _H), ("haproxy-2", HAProxySpec(check="http"))),
        "health", "DOWN, then UP", "marked DOWN a few check intervals after the slot was taken, 503 at once "
        "meanwhile, UP again soon after the slot frees: the article's \"demoted\"", "health",
    ),
)  # fmt: skip


def scenario(key: str) -> Scenario:
    for sc in SCENARIOS:
        if sc.key == key:
            return sc
    raise KeyError(f"no scenario {key!r}; there are {[s.key for s in SCENARIOS]}")


def availability() -> pd.DataFrame:
    """Which load balancers are installed here, with their versions."""
    rows = []
    for kind in ("haproxy", "nginx"):
        path = find_binary(kind)
        rows.append({"load balancer": kind, "installed": path is not None, "path": path or "",
                     "version": binary_version(kind) if path else ""})  # fmt: skip
    return pd.DataFrame(rows)


def _with_scenario(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["scenario"] = key
    return frame


def _verdict_row(trial: Trial) -> dict:
    sc = trial.scenario
    match = {"ran": "yes" if trial.matched else "NO", "skipped": "skipped", "error": "NO"}[trial.status]
    return {
        "scenario": sc.key, "setup": sc.title, "group": sc.group, "load balancers": sc.describe_lbs(),
        "server": sc.server(RealTimes()).describe(), "expected": sc.expected, "derived": sc.derived,
        "observed": trial.observed,
        "match": match, "status": trial.status, "evidence": trial.evidence, "wall_s": trial.wall_seconds,
    }  # fmt: skip


def run(
    scenarios: Sequence[Scenario] | Iterable[str] = SCENARIOS, times: RealTimes = RealTimes(), *, parallel: int = 4
) -> ExperimentResult:
    """Run the scenarios live, ``parallel`` at a time; skipped ones are reported, not faked."""
    chosen = [s if isinstance(s, Scenario) else scenario(s) for s in scenarios]
    start = time.monotonic()
    pool = ThreadPoolExecutor(max(1, parallel), thread_name_prefix="real-lb")
    try:
        futures = [pool.submit(run_trial, sc, times) for sc in chosen]
        trials = [f.result() for f in futures]
    except BaseException:
        # Ctrl-C: scenarios not yet started never start; running ones end (bounded) and clean up.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    wall = time.monotonic() - start
    tables: dict[str, pd.DataFrame] = {"verdicts": pd.DataFrame([_verdict_row(t) for t in trials])}
    for name in ("requests", "lb", "lb_timing", "access", "states", "health", "queue"):
        parts = [_with_scenario(t.tables[name], t.scenario.key) for t in trials if name in t.tables]
        parts = [p for p in parts if not p.empty]
        tables[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    claims = [c for t in trials if t.status != "skipped" for c in t.claims]
    values: dict = {
        "ran": [t.scenario.key for t in trials if t.status == "ran"],
        "skipped": [t.scenario.key for t in trials if t.status == "skipped"],
        "errors": {t.scenario.key: t.evidence for t in trials if t.status == "error"},
        "versions": {row["load balancer"]: row["version"] for row in availability().to_dict("records")},
        "scenario_wall_s": {t.scenario.key: t.wall_seconds for t in trials},
        "output": {t.scenario.key: t.output for t in trials},
        "pids": {t.scenario.key: t.pids for t in trials},
        "folders": {t.scenario.key: t.folder for t in trials},
    }
    for t in trials:
        for key, value in t.values.items():
            values[f"{t.scenario.key}.{key}"] = value
    return ExperimentResult(
        name="real-load-balancers",
        params={"times": asdict(times), "parallel": parallel, "scenarios": [s.key for s in chosen]},
        scale=TimeScale(1.0),
        wall_seconds=round(wall, 2),
        tables=tables,
        claims=claims,
        values=values,
    )


def setups(result: ExperimentResult, groups: Sequence[str] = tuple(GROUPS)) -> list[str]:
    """Titles of the scenarios of ``groups`` that ran, in catalogue order (for figure rows)."""
    ran = set(result.values.get("ran", []))
    return [sc.title for sc in SCENARIOS if sc.key in ran and sc.group in groups]


def plot_frame(result: ExperimentResult, groups: Sequence[str] = tuple(GROUPS)) -> pd.DataFrame:
    """The requests of the scenarios of ``groups`` with a ``setup`` label, 503s as their own outcome.

    Ready for :func:`keepalive_lab.plots.outcome_counts` with ``by="setup"``.
    """
    req = result.tables["requests"]
    if req.empty:
        return req.assign(setup=pd.Series(dtype=str))
    titles = {sc.key: sc.title for sc in SCENARIOS}
    req = req[req["scenario"].isin([sc.key for sc in SCENARIOS if sc.group in groups])]
    out = req.assign(setup=req["scenario"].map(titles))
    out.loc[out["status"] == 503, "outcome"] = "503"
    return out


def confirm(result: ExperimentResult, *keys: str) -> list[str]:
    """Require every claim of the scenarios ``keys`` that ran; return the keys that were skipped."""
    ran = set(result.values.get("ran", []))
    errors = set(result.values.get("errors", {}))
    names = [c.name for c in result.claims if c.name.split(":")[0] in keys and c.name.split(":")[0] in ran | errors]
    result.require(*names)
    return [k for k in keys if k not in ran]


def status_sentence(result: ExperimentResult, *keys: str) -> str:
    """A plain sentence for a page: did these scenarios run live in this build?"""
    skipped = [k for k in keys if k not in result.values.get("ran", [])]
    if not skipped:
        return "Every scenario in this section ran live while this page was built."
    kinds = sorted({kind for sc in SCENARIOS if sc.key in skipped for kind in sc.kinds if find_binary(kind) is None})
    missing = " and ".join(kinds) or "a load balancer"
    return (
        f"SKIPPED in this build: {missing} is not installed here (make lbs installs it), so "
        f"{len(skipped)} of the {len(keys)} scenarios in this section did not run; the sentences below about them "
        "report the earlier observation, and nothing in them was checked in this build."
    )


def run_summary(result: ExperimentResult) -> str:
    """One sentence for a page: how many scenarios ran live, matched, and how long it took."""
    v = result.tables["verdicts"]
    ran = v[v["status"] == "ran"]
    matched = int((ran["match"] == "yes").sum())
    missing = [kind for kind, version in result.values["versions"].items() if not version]
    if ran.empty:
        return (
            f"none of the {len(v)} scenarios ran, because {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed here (make lbs installs them): "
            "this page shows no live result, only what was observed earlier."
        )
    text = (
        f"{len(ran)} of the {len(v)} scenarios ran live, and {matched} of them matched, in "
        f"{result.wall_seconds:.0f} s ({result.params['parallel']} at a time, each with its own server, ports "
        "and processes)"
    )
    if missing:
        text += f"; the others were skipped because {' and '.join(missing)} is not installed here"
    return text + "."


def prose_numbers(result: ExperimentResult) -> dict[str, str]:
    """The numbers a page quotes, formatted; "n/a" for a scenario that did not run."""
    v = result.values
    times = result.params["times"]

    def get(key: str, fmt: str = "{:.2f}") -> str:
        value = v.get(key)
        return "n/a" if value is None else fmt.format(value)

    verdicts = result.tables["verdicts"]
    ran = verdicts[verdicts["status"] == "ran"]
    numbers = {
        "read_timeout": f"{times['read_timeout']:g}",
        "lb_timeout": f"{times['lb_timeout']:g}",
        "client_timeout": f"{times['client_timeout']:g}",
        "handler_ms": f"{times['handler_latency'] * 1000:.0f}",
        "gap": f"{times['gap']:g}",
        "check_inter": f"{times['check_inter']:g}",
        "check_fall": str(RealTimes(**times).lb_times().check_fall),
        "check_rise": str(RealTimes(**times).lb_times().check_rise),
        "hold_gap": f"{times['hold_gap']:g}",
        "parallel": str(result.params["parallel"]),
        "scenarios_total": str(len(verdicts)),
        "scenarios_ran": str(len(ran)),
        "scenarios_matched": str(int((ran["match"] == "yes").sum())),
        "run_wall": f"{result.wall_seconds:.0f}",
        "run_summary": run_summary(result),
        "haproxy_version": v["versions"].get("haproxy") or "not installed",
        "nginx_version": v["versions"].get("nginx") or "not installed",
    }
    for key in ("haproxy-two", "haproxy-one", "haproxy-overlap", "nginx-keepalive", "nginx-workers", "nginx-overlap"):
        slug = key.replace("-", "_")
        numbers[f"{slug}_latency"] = get(f"{key}.victim_latency")
        numbers[f"{slug}_connect"] = get(f"{key}.victim_connect_ms", "{:.0f}")
        numbers[f"{slug}_ghost"] = get(f"{key}.ghost_delay")
        numbers[f"{slug}_idle"] = get(f"{key}.holder_idle_for")
    numbers["check_tcp_504"] = get("check-tcp.probe_504_while_held", "{:d}")
    held = v.get("check-tcp.slot_freed_at", 0) - v.get("check-tcp.slot_taken_at", 0)
    numbers["check_tcp_held"] = f"{held:.1f}" if "check-tcp.slot_freed_at" in v else "n/a"
    numbers["check_http_down"] = get("check-http.down_after", "{:.1f}")
    numbers["check_http_503"] = get("check-http.probe_503", "{:d}")
    max_503 = v.get("check-http.max_503_latency")
    numbers["check_http_503_ms"] = "n/a" if max_503 is None else f"{max_503 * 1000:.0f}"
    numbers["check_http_up"] = get("check-http.up_after_freed", "{:.1f}")
    return numbers


def example_config(kind: str, spec: LBSpec | None = None) -> str:
    """A config as the lab writes it, with placeholder ports and folder, for a page to show."""
    spec = spec or (HAProxySpec() if kind == "haproxy" else _N_KA)
    folder = Path("/tmp/RUN-FOLDER") / ("" if kind == "haproxy" else "nginx-1")
    return render(spec, node=f"{kind}-1", listen_port=40001, server_port=40000, folder=folder,
                  times=RealTimes().lb_times())  # fmt: skip


def debian_nginx_workers(path: Path = Path("/etc/nginx/nginx.conf")) -> str | None:
    """The ``worker_processes`` value of the installed package's own nginx.conf; None without one."""
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        words = line.strip().rstrip(";").split()
        if len(words) == 2 and words[0] == "worker_processes":
            return words[1]
    return None
