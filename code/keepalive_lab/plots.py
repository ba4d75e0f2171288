"""The book's figures, one function each, made for readers.

Conventions: one colour per actor across the whole book (LB1, LB2, LB3, the
server, each outcome), axes labelled with units, time in **article seconds**
(the incident's clock; every caption states the scale), an opaque white
background, and alt text: every function returns ``(figure, alt_text)`` where
the alt text describes what the figure shows in this run.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display: the book and the tests render to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .timescale import TimeScale  # noqa: E402

__all__ = ["ACTOR_COLOURS", "OUTCOME_COLOURS", "actor_colour", "outcome_counts"]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
ACTOR_COLOURS = {
    "LB1": "#0072B2",  # blue
    "LB2": "#E69F00",  # orange
    "LB3": "#009E73",  # green
    "LB4": "#CC79A7",  # purple
    "server": "#555555",
    "direct": "#555555",
}
OUTCOME_COLOURS = {
    "ok": "#009E73",
    "timeout": "#D55E00",
    "504": "#CC79A7",
    "502": "#F0E442",
    "503": "#56B4E9",
    "error": "#000000",
}
STATE_COLOURS = {"queued": "#D55E00", "active": "#0072B2", "idle": "#9ECAE1"}

plt.rcParams.update(
    {
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "figure.dpi": 110,
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def actor_colour(name: str) -> str:
    return ACTOR_COLOURS.get(name, "#777777")


def _article(series: pd.Series, scale: TimeScale) -> pd.Series:
    return series * scale.factor


def outcome_counts(
    requests: pd.DataFrame, by: str = "node", order: list[str] | None = None, title: str = ""
) -> tuple[Figure, str]:
    """Stacked bars: how many requests ended ok / timeout / 504 / ... for each value of ``by``."""
    outcomes = [o for o in OUTCOME_COLOURS if o in set(requests["outcome"])] or ["ok"]
    counts = requests.groupby([by, "outcome"]).size().unstack(fill_value=0).reindex(columns=outcomes, fill_value=0)
    if order is not None:
        counts = counts.reindex(order, fill_value=0)
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(2, len(counts))))
    left = np.zeros(len(counts))
    labels = [str(i) for i in counts.index]
    for outcome in outcomes:
        values = counts[outcome].to_numpy()
        ax.barh(labels, values, left=left, color=OUTCOME_COLOURS[outcome], label=outcome, edgecolor="white")
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("requests")
    ax.legend(title="outcome", loc="lower right", frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    parts = []
    for label, row in zip(labels, counts.itertuples(index=False)):
        parts.append(f"{label}: " + ", ".join(f"{n} {o}" for o, n in zip(outcomes, row) if n))
    alt = f"Stacked bar chart of request outcomes by {by}. " + "; ".join(parts) + "."
    return fig, alt
