"""Sphinx extension: each chapter downloadable as a notebook that plain Jupyter shows as the page does.

The conversion is :mod:`keepalive_lab.bookkit.notebooks`; this module only
calls it at two moments of the build:

* ``builder-inited``, before any page is read: ``book/_notebooks/<name>.ipynb``
  from the MyST sources, because a page's ``{download}`` role needs its file
  to exist when the page is read;
* ``write-started``, after every page was read and executed (MyST-NB writes
  each executed notebook and its glue data to ``_build/jupyter_execute``
  while reading) and after figures were numbered (``env-get-updated``), but
  before the HTML builder copies download files (``copy_assets``, at the
  start of writing): the same files again, from the executed notebooks, so
  the download carries this build's outputs and figure numbers.
"""

from __future__ import annotations

from pathlib import Path

from keepalive_lab.bookkit.notebooks import write_notebooks


def _places(app) -> tuple[Path, Path, Path]:
    # The whole book builds from the repository root; a single page builds from book/ itself.
    src = Path(app.srcdir)
    book = src / "book" if (src / "book").is_dir() else src
    executed = Path(app.outdir).parent / "jupyter_execute" / book.relative_to(src)  # MyST-NB's OUTPUT_FOLDER
    return book, book / "_notebooks", executed


def _figure_numbers(app, book: Path) -> dict[str, str] | None:
    """Each figure label's number as the pages show it (``env.toc_fignumbers``), or None without numfig."""
    if not app.config.numfig:
        return None
    env, prefix = app.env, book.relative_to(Path(app.srcdir)).as_posix()
    numbers = {}
    for label, (docname, labelid, _) in env.get_domain("std").labels.items():
        if prefix != "." and not docname.startswith(prefix + "/"):
            continue
        number = env.toc_fignumbers.get(docname, {}).get("figure", {}).get(labelid)
        if number:
            numbers[label] = ".".join(map(str, number))
    return numbers


def _context(app) -> dict:
    # Jupyter Book puts the book's title in html_title (Sphinx's `project` stays unset).
    return {"book_title": app.config.html_title or app.config.project,
            "numfig_format": app.config.numfig_format.get("figure", "Fig. %s")}


def from_sources(app) -> None:
    book, out, _ = _places(app)
    write_notebooks(book, out, **_context(app))


def from_executed(app, builder) -> None:
    book, out, executed = _places(app)
    write_notebooks(book, out, executed, figure_numbers=_figure_numbers(app, book), **_context(app))


def setup(app):
    app.connect("builder-inited", from_sources)
    app.connect("write-started", from_executed)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
