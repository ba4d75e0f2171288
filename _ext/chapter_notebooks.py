"""Sphinx extension: turn each chapter (a MyST Markdown notebook) into a downloadable ``.ipynb``.

Before Sphinx reads the sources, every ``book/*.md`` chapter is converted with
jupytext into ``book/_notebooks/<name>.ipynb``; a chapter links to its own
notebook with ``{download}``, so readers get a file Jupyter opens and runs.
"""

from __future__ import annotations

from pathlib import Path

import jupytext


def convert_chapters(app) -> None:
    # The whole book builds from the repository root; a single page builds from book/ itself.
    src = Path(app.srcdir)
    book = src / "book" if (src / "book").is_dir() else src
    out = book / "_notebooks"
    out.mkdir(exist_ok=True)
    for chapter in sorted(book.glob("*.md")):
        notebook = jupytext.read(chapter)
        notebook.metadata.pop("jupytext", None)  # a plain notebook, not a paired one
        jupytext.write(notebook, out / f"{chapter.stem}.ipynb", fmt="ipynb")


def setup(app):
    app.connect("builder-inited", convert_chapters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
