"""The real-load-balancer chapter's own figure: what a health check made of a starved server.

Colours and conventions are those of :mod:`keepalive_lab.bookkit.plots` (outcomes in
the same colours, a white background, alt text returned with the figure).
Times here are lab seconds: the chapter runs its own clock (see its timings
table), not the incident's.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from keepalive_lab.bookkit.pages import plot_frame, setups
from keepalive_lab.bookkit.plots import OUTCOME_COLOURS, outcome_counts
from keepalive_lab.lab.results import ExperimentResult

__all__ = ["health_timeline", "verdict_table", "outcomes_figure"]

_STATE_COLOURS = {"UP": "#009E73", "DOWN": "#D55E00"}


def _outcome(row) -> str:
    return "503" if row.status == 503 else row.outcome


def health_timeline(
    result: ExperimentResult, keys: tuple[str, ...] = ("check-tcp", "check-http")
) -> tuple[Figure, str]:
    """One panel per health-check scenario: the checked instance's view of the server, the probe's requests."""
    ran = [k for k in keys if k in result.values.get("ran", [])]
    fig, axes = plt.subplots(len(ran) or 1, 1, figsize=(8, 0.4 + 2.0 * max(1, len(ran))), sharex=True, squeeze=False)
    parts = []
    for ax, key in zip(axes[:, 0], ran):
        health = result.tables["health"]
        health = health[health["scenario"] == key].sort_values("at")
        probe = result.tables["requests"]
        probe = probe[(probe["scenario"] == key) & (probe["client"] == "probe")]
        taken, freed = result.values[f"{key}.slot_taken_at"], result.values[f"{key}.slot_freed_at"]
        ax.axvspan(taken, freed, color="#cccccc", alpha=0.35, linewidth=0)
        ax.annotate("slot held by haproxy-1's connection", (taken + 0.05, 0.55), fontsize=8, color="#555555")
        words = health["status"].str.split().str[0].tolist()
        times = health["at"].tolist()
        for i, (at, word) in enumerate(zip(times, words)):
            end = times[i + 1] if i + 1 < len(times) else at
            ax.broken_barh([(at, end - at)], (1.25, 0.12), color=_STATE_COLOURS.get(word, "#999999"), linewidth=0)
        for outcome in ("ok", "504", "503", "timeout", "error"):
            rows = probe[[_outcome(r) == outcome for r in probe.itertuples()]]
            if not rows.empty:
                ax.scatter(rows["start"], rows["latency"], s=28, color=OUTCOME_COLOURS[outcome], label=outcome,
                           zorder=3)  # fmt: skip
        ax.set_ylim(-0.05, 1.45)
        ax.set_yticks([0, 0.5, 1.0, 1.31], ["0", "0.5", "1.0", "state"])
        ax.set_ylabel("probe latency (s)")
        title = "TCP health check" if key == "check-tcp" else "option httpchk"
        ax.set_title(f"{title}: haproxy-2's state of the server (band) and the probe's requests", fontsize=9)
        ax.legend(loc="center right", frameon=False, fontsize=8, title="outcome", title_fontsize=8)
        down = sum(w == "DOWN" for w in words)
        counts = probe.assign(o=[_outcome(r) for r in probe.itertuples()])["o"].value_counts().to_dict()
        parts.append(
            f"{title}: the slot was held from {taken:.1f} to {freed:.1f} s; the state band is "
            + ("green (UP) throughout" if down == 0 else "red (DOWN) for part of that window, then green again")
            + "; probe requests: " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        )
    axes[-1, 0].set_xlabel("time since the scenario started (lab s)")
    if not ran:
        axes[0, 0].text(0.5, 0.5, "HAProxy is not installed: no health-check scenario ran", ha="center",
                        transform=axes[0, 0].transAxes)  # fmt: skip
        parts.append("No health-check scenario ran (HAProxy is not installed)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _STATE_COLOURS.values()]
    fig.legend(handles, ["UP", "DOWN"], loc="lower left", ncol=2, frameon=False, fontsize=8, title="server state")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    alt = "Two timelines of HAProxy health checks on a starved server. " + ". ".join(parts) + "."
    return fig, alt


def verdict_table(result: ExperimentResult) -> pd.DataFrame:
    """The verdicts for a page, one row per setup: expected, observed live in this build, match."""
    v = result.tables["verdicts"]
    table = pd.DataFrame(
        {"expected": list(v["expected"]), "observed in this build": list(v["observed"]), "match": list(v["match"])}
    )
    table.index = pd.Index(v["setup"], name="setup")
    return table


def outcomes_figure(result: ExperimentResult, groups: tuple[str, ...]) -> tuple[Figure, str]:
    """:func:`keepalive_lab.bookkit.plots.outcome_counts` by setup for the scenarios of ``groups`` that ran."""
    frame, rows = plot_frame(result, groups), setups(result, groups)
    if rows:
        return outcome_counts(frame, by="setup", order=rows)
    fig, ax = plt.subplots(figsize=(7, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, "No scenario ran: neither HAProxy nor nginx is installed", ha="center", va="center")
    return fig, "An empty figure: no load-balancer scenario ran in this build, because none is installed."
