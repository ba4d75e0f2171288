"""The fidelity appendix's figure: every scenario of the matrix, coloured by how the two servers compared.

Conventions of :mod:`keepalive_lab.bookkit.plots`: Okabe-Ito colours, a white
background, and ``(figure, alt_text)`` returned.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from keepalive_lab.bookkit.plots import OUTCOME_COLOURS

__all__ = ["verdict_grid", "VERDICT_COLOURS"]

VERDICT_COLOURS = {
    "yes": OUTCOME_COLOURS["ok"],
    "explained": "#F0E442",  # a known difference between Go releases
    "NO": OUTCOME_COLOURS["timeout"],
}
_LABELS = {"yes": "same transcript", "explained": "differs only as a known Go release difference",
           "NO": "differs otherwise"}  # fmt: skip


def verdict_grid(table: pd.DataFrame, columns: int = 4) -> tuple[Figure, str]:
    """One cell per scenario (``table`` indexed by scenario, with a ``same?`` column), filled by verdict."""
    names, verdicts = list(table.index), list(table["same?"])
    rows = -(-len(names) // columns)
    fig, ax = plt.subplots(figsize=(8.0, 0.27 * rows + 0.9))
    for i, (name, verdict) in enumerate(zip(names, verdicts)):
        col, row = divmod(i, rows)
        ax.add_patch(plt.Rectangle((col, rows - row - 1), 0.96, 0.9, color=VERDICT_COLOURS.get(verdict, "#999999")))
        ax.text(col + 0.04, rows - row - 0.55, name, fontsize=8, va="center", ha="left")
    ax.set_xlim(0, columns)
    ax.set_ylim(0, rows)
    ax.axis("off")
    present = [v for v in VERDICT_COLOURS if v in verdicts]
    ax.legend(handles=[Patch(color=VERDICT_COLOURS[v], label=f"{_LABELS[v]} ({verdicts.count(v)})") for v in present],
              loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(present), fontsize=8, frameon=False)  # fmt: skip
    fig.tight_layout()
    counts = ", ".join(f"{verdicts.count(v)} {_LABELS[v]}" for v in present)
    alt = f"A grid of the {len(names)} scenarios of the fidelity matrix, one cell each, coloured by verdict: {counts}."
    return fig, alt
