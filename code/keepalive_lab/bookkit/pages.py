"""Prose helpers for the real-load-balancer chapter: sentences, numbers and example configs from a run.

Everything here reads an :class:`~keepalive_lab.lab.results.ExperimentResult`
from :func:`keepalive_lab.reallb.runner.run` and returns text or a frame a
page shows, so the chapter's cells stay one line each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from keepalive_lab.lab.results import ExperimentResult
from keepalive_lab.reallb.catalogue import GROUPS, SCENARIOS
from keepalive_lab.reallb.config import HAProxySpec, LBSpec, NginxSpec, render
from keepalive_lab.reallb.lifetimes import HAPROXY_POOL_PURGE_DELAY
from keepalive_lab.reallb.process import find_binary
from keepalive_lab.reallb.times import ARTICLE_TIMERS, RealLBTimes

__all__ = [
    "fixes_table",
    "parameters_table",
    "setups", "plot_frame", "status_sentence", "run_summary", "prose_numbers", "example_config",
    "debian_nginx_workers",
]  # fmt: skip


def setups(result: ExperimentResult, groups: Sequence[str] = tuple(GROUPS)) -> list[str]:
    """Titles of the scenarios of ``groups`` that ran, in catalogue order (for figure rows)."""
    ran = set(result.values.get("ran", []))
    return [sc.title for sc in SCENARIOS if sc.key in ran and sc.group in groups]


def plot_frame(result: ExperimentResult, groups: Sequence[str] = tuple(GROUPS)) -> pd.DataFrame:
    """The requests of the scenarios of ``groups`` with a ``setup`` label, 503s as their own outcome.

    Ready for :func:`keepalive_lab.bookkit.plots.outcome_counts` with ``by="setup"``.
    """
    req = result.tables["requests"]
    if req.empty:
        return req.assign(setup=pd.Series(dtype=str))
    titles = {sc.key: sc.title for sc in SCENARIOS}
    req = req[req["scenario"].isin([sc.key for sc in SCENARIOS if sc.group in groups])]
    out = req.assign(setup=req["scenario"].map(titles))
    out.loc[out["status"] == 503, "outcome"] = "503"
    return out


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
        "check_fall": str(times["check_fall"]),
        "check_rise": str(times["check_rise"]),
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
    for key in ("haproxy-two", "haproxy-one", "haproxy-overlap", "nginx-keepalive", "nginx-workers", "nginx-overlap",
                "haproxy-maxconn", "haproxy-client-close", "nginx-client-close"):  # fmt: skip
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
    numbers["check_tcp_queue_max"] = get("check-tcp.queue_max", "{:d}")
    numbers["check_tcp_checks"] = get("check-tcp.checks_while_held", "{:d}")
    article = dict(ARTICLE_TIMERS)
    numbers["article_read_timeout"] = f"{article['read_timeout']:g}"
    numbers["article_lb_timeout"] = f"{article['lb_timeout']:g}"
    numbers["pool_purge_delay"] = f"{HAPROXY_POOL_PURGE_DELAY:g}"
    for key in ("haproxy-article-timers", "nginx-article-timers"):
        slug = key.split("-")[0]
        numbers[f"{slug}_timers_idle"] = get(f"{key}.idle_lifetime", "{:.1f}")
        numbers[f"{slug}_timers_closer"] = str(v.get(f"{key}.closer", "n/a"))
        numbers[f"{slug}_timers_close_kind"] = str(v.get(f"{key}.close_kind", "n/a"))
    return numbers


def example_config(kind: str, spec: LBSpec | None = None) -> str:
    """A config as the lab writes it, with placeholder ports and folder, for a page to show."""
    spec = spec or (HAProxySpec() if kind == "haproxy" else NginxSpec(keepalive=8))
    folder = Path("/tmp/RUN-FOLDER") / ("" if kind == "haproxy" else "nginx-1")
    return render(spec, node=f"{kind}-1", listen_port=40001, server_port=40000, folder=folder,
                  times=RealLBTimes())  # fmt: skip


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


def parameters_table() -> pd.DataFrame:
    """Every experiment's parameters and defaults, as the appendix shows them."""
    import dataclasses

    from keepalive_lab.experiments import EXPERIMENTS

    rows = []
    for exp in EXPERIMENTS.values():
        for f in dataclasses.fields(exp.params):
            default = f.default if f.default is not dataclasses.MISSING else ""
            if isinstance(default, tuple):
                default = ",".join(f"{v:g}" if isinstance(v, float) else str(v).lower() for v in default)
            rows.append({"experiment": exp.name, "parameter": "--" + f.name.replace("_", "-"), "default": str(default)})
    return pd.DataFrame(rows)


def fixes_table() -> pd.DataFrame:
    """The catalogue of fixes: the name ``--fix`` takes, what it changes, whether the article proposed it."""
    from keepalive_lab.experiments.catalogue import FIXES

    return pd.DataFrame(
        [{"--fix": f.name, "change": f.label, "from the article": "yes" if f.from_article else "no"} for f in FIXES]
    )
