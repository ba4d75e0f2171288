"""Helpers for the book's pages: glue measured values and figures (with their alt text) into the prose.

Pages stay thin: a cell runs an experiment, then ``glue_values(result)`` makes
every measured number available to ``{glue:text}`` roles, and
``glue_figure(name, plots.something(...))`` stores a figure for a
``{glue:figure}`` directive. A figure is stored as an ``<img>`` whose alt text
says what this run's figure shows (the plotting function writes it), so the
built HTML never falls back to a file name.
"""

from __future__ import annotations

import base64
import io
from typing import Any, Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from keepalive_lab.bookkit import readable

__all__ = ["GLUED", "Text", "FigureWithAlt", "glue", "glue_values", "glue_figure", "glue_table", "show_table", "show_values", "run_experiment"]


class Text(str):
    """A string that glues as itself, without the quotes of its repr."""

    def __repr__(self) -> str:
        return str(self)


class FigureWithAlt:
    """A rendered figure that displays as an ``<img>`` with real alt text (PNG for other front ends)."""

    def __init__(self, fig: Figure, alt: str, dpi: int = 130) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        plt.close(fig)
        self.png = buffer.getvalue()
        self.alt = alt

    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        alt = self.alt.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        return f'<img src="data:image/png;base64,{data}" alt="{alt}" style="max-width:100%;height:auto">'


# Every value and figure glued in this kernel, by name: a chapter run as a plain notebook renders its
# prose from here (keepalive_lab.bookkit.prose), where MyST-NB is not there to paste values in.
GLUED: dict[str, Any] = {}
# Called with a name each time it is glued, so that prose shown above the cell that computes a value
# is updated in place.
LISTENERS: list[Callable[[str], None]] = []


def glue(name: str, variable: Any, display: bool = True) -> None:
    """``myst_nb.glue`` with the same signature, also recorded in :data:`GLUED` (pages import this one)."""
    variable = _plain(variable)
    GLUED[name] = variable
    try:
        from myst_nb import glue as myst_glue  # the book's build; a reader's kernel may not have it
    except ImportError:
        if display:
            from IPython.display import display as show

            show(variable)
    else:
        myst_glue(name, variable, display=display)
    for listener in list(LISTENERS):
        listener(name)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds: its repr (``np.int64(3)``) is not prose."""
    return value.item() if isinstance(value, np.generic) else value


def _glue(name: str, value: Any, display: bool = False) -> None:
    glue(name, value, display=display)


def glue_values(values: dict[str, Any], prefix: str = "") -> None:
    """Glue each measured value under ``prefix + key``; floats keep their measured precision."""
    for key, value in values.items():
        _glue(prefix + key, value)


def glue_figure(name: str, figure_and_alt: tuple[Figure, str]) -> FigureWithAlt:
    """Glue a ``(figure, alt)`` pair from :mod:`keepalive_lab.bookkit.plots` under ``name``."""
    figure = FigureWithAlt(*figure_and_alt)
    _glue(name, figure)
    return figure


def show_table(frame: pd.DataFrame, caption: str = "", preformatted: tuple[str, ...] = ()) -> Any:
    """A DataFrame styled for the page: no index, compact numbers, a dash for a missing value.

    ``preformatted`` columns keep their line breaks. A page that shows a
    dash says what it means.
    """
    # Values in words (yes/no, LB2, 502: 2, 30 rather than True, ['LB2'], {'502': 2}, 30.00): readable.py.
    styler = frame.style.hide(axis="index").format(lambda v: readable.text(v) if isinstance(v, str) else readable.cell(v))
    if preformatted:
        styler = styler.format(lambda v: v if isinstance(v, str) else readable.cell(v), subset=list(preformatted))
        styler = styler.set_properties(
            subset=list(preformatted), **{"white-space": "pre", "font-family": "monospace", "text-align": "left"}
        )
    return styler.set_caption(caption) if caption else styler


def show_values(values: dict[str, Any]) -> Any:
    """A probe's measured values as a two-column table: what was measured, and the value."""
    rows = [{"measured": name.replace("_", " "), "value": value} for name, value in values.items()]
    return show_table(pd.DataFrame(rows))


def glue_table(name: str, frame: pd.DataFrame) -> None:
    _glue(name, show_table(frame))


def run_experiment(name: str, scale, prefix: str | None = None, **changes) -> Any:
    """Run a registered experiment for a page: every claim required, values and parameters glued.

    Values are glued as ``PREFIX_key``, parameters as ``PREFIX_p_key`` (the
    prefix defaults to the experiment's name); ``changes`` override the
    experiment's default parameters.
    """
    (result,) = run_experiments(scale, (name, changes, prefix if prefix is not None else name + "_"))
    return result


def run_experiments(scale, *runs: tuple[str, dict, str]) -> list[Any]:
    """Run several ``(name, changes, prefix)`` experiments side by side (they wait on timers, not the CPU).

    Each result must hold every claim; its values and parameters are glued
    under its prefix. Results come back in the order asked.
    """
    from keepalive_lab.experiments import EXPERIMENTS
    from keepalive_lab.lab.sweep import run_all

    def one(run: tuple[str, dict, str]):
        name, changes, _ = run
        exp = EXPERIMENTS[name]
        return exp.run(exp.params(**changes), scale)

    results = run_all(one, list(runs), workers=len(runs))
    for (_, _, prefix), result in zip(runs, results):
        result.require()  # the page fails to build if a claim does not hold
        glue_values(result.values, prefix)
        glue_values(result.params_dict(), prefix + "p_")
    return results
