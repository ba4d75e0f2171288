"""Each chapter as a notebook that plain Jupyter (JupyterLab, VS Code, nbconvert) shows as the page does.

The book's Sphinx extension (``_ext/chapter_notebooks.py``) calls
:func:`write_notebooks` twice per build: before Sphinx reads the pages, from
the MyST sources alone (a page's ``{download}`` link needs the file to
exist), and again once every page has been executed, from the executed
notebooks MyST-NB wrote, so that the downloaded notebook carries this
build's outputs and reads well before it is run.

What changes on the way (the MyST to Markdown part is :mod:`.mystmd`):

* a paragraph that shows glued values becomes a code cell with hidden input
  calling :func:`keepalive_lab.bookkit.prose.prose`, which renders it from the
  kernel's own values; in the executed version it already carries this
  build's rendering as its output;
* a ``{glue:figure}`` becomes a hidden-input cell calling
  :func:`~keepalive_lab.bookkit.prose.figure`: the figure, then its caption;
* the cells the page hides keep their code (the notebook must run) but fold
  their input away (``jupyter.source_hidden``), and their outputs too when
  the page removes the whole cell; a cell tagged ``parameters`` always shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keepalive_lab.bookkit.mystindex import BookIndex, ConversionError, index_book
from keepalive_lab.bookkit.mystmd import Context, Segment, convert_markdown
from keepalive_lab.bookkit.prose import render

__all__ = ["ConversionError", "convert", "convert_chapter", "write_notebooks"]

HIDE_INPUT = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
HIDE_OUTPUT = {"remove-cell", "remove-output", "hide-output", "hide-cell"}
# The first line of a folded cell is all JupyterLab shows of it: say what it is, not what it imports.
PROSE_HEAD = "# The text, with this run's values (bookkit.prose renders the Markdown below)"
FIGURE_HEAD = "# A figure of this run, then its caption"


def convert(notebook, ctx: Context, chapter_text: str, glue_data: dict[str, Any] | None = None):
    """The plain-Jupyter version of a chapter's notebook (executed when ``glue_data`` is given)."""
    import nbformat

    cells, cursor = [], 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            line, cursor = _locate(chapter_text, cell.source, cursor)
            cells.extend(_cell(s, ctx, glue_data) for s in convert_markdown(cell.source, line, ctx))
        elif cell.cell_type == "code":
            cells.append(_code(cell))
        else:
            raise ConversionError(f"{ctx.source.name}: cell {index} is a {cell.cell_type} cell, which has no place here")
    for number, cell in enumerate(cells):
        cell["id"] = f"{ctx.chapter}-{number}"  # stable ids: a rebuilt notebook differs only where the book did
    keep = ("kernelspec", "language_info")
    metadata = {k: notebook.metadata[k] for k in keep if k in notebook.metadata}
    converted = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    nbformat.validate(converted)
    return converted


def _locate(text: str, source: str, cursor: int) -> tuple[int, int]:
    """The line of the chapter's file where a markdown cell starts (for error messages), and a new cursor."""
    at = text.find(source.strip(), cursor) if source.strip() else -1
    if at < 0:
        return 1, cursor
    return text.count("\n", 0, at) + 1, at + len(source.strip())


def _code(cell):
    import nbformat

    tags = list(cell.metadata.get("tags", []))
    metadata = {k: v for k, v in cell.metadata.items() if k != "tags"}
    if "parameters" not in tags:  # the reader changes the parameters: never folded away
        hidden = {}
        if HIDE_INPUT & set(tags):
            hidden["source_hidden"] = True
            tags += [] if "hide-input" in tags else ["hide-input"]  # one tag for nbconvert to hide every such input
        if HIDE_OUTPUT & set(tags):
            hidden["outputs_hidden"] = True
        if hidden:
            metadata["jupyter"] = {**metadata.get("jupyter", {}), **hidden}
    if tags:
        metadata["tags"] = tags
    # What the page removes whole is the page's plumbing (imports, glue calls): its code stays, to run,
    # but not its build outputs, such as the last glued figure repeated as the cell's result.
    outputs = [] if "remove-cell" in tags and "parameters" not in tags else cell.get("outputs", [])
    new = nbformat.v4.new_code_cell(cell.source, metadata=metadata, outputs=outputs)
    new["execution_count"] = cell.get("execution_count")
    return new


def _literal(text: str) -> str:
    """``text`` as a Python string literal that reads as the Markdown it holds."""
    if '"""' in text or text.endswith("\\"):
        return repr(text)
    return f'r"""\n{text}\n"""'


def _hidden_cell(source: str, outputs: list):
    import nbformat

    # JupyterLab and VS Code fold the input away (jupyter.source_hidden); nbconvert's templates skip a
    # source whose metadata says transient.remove_source (what its TagRemovePreprocessor sets), so its
    # HTML shows the rendered prose once, as the page does. Only these cells: a script export loses
    # nothing but display calls.
    metadata = {"jupyter": {"source_hidden": True}, "tags": ["hide-input"], "transient": {"remove_source": True}}
    return nbformat.v4.new_code_cell(source, metadata=metadata, outputs=outputs)


def _markdown_output(text: str):
    import nbformat

    # The bundle IPython's display of bookkit.prose's Markdown gives, so a rerun changes only values.
    return nbformat.v4.new_output("display_data", data={"text/markdown": text, "text/plain": text})


def _cell(segment: Segment, ctx: Context, glue_data: dict[str, Any] | None):
    import nbformat

    if segment.kind == "md":
        return nbformat.v4.new_markdown_cell(segment.text)
    texts = {k: v["data"]["text/plain"] for k, v in (glue_data or {}).items() if "text/plain" in v.get("data", {})}

    def rendered(markdown: str) -> str:
        try:
            return render(markdown, texts, pending=None)
        except (KeyError, ValueError, TypeError) as exc:
            raise ctx.error(segment.line, f"cannot render the glued values: {exc}") from exc

    if segment.kind == "prose":
        outputs = [] if glue_data is None else [_markdown_output(rendered(segment.text))]
        source = f"{PROSE_HEAD}\nfrom keepalive_lab.bookkit.prose import prose\n\nprose({_literal(segment.text)})"
        return _hidden_cell(source, outputs)
    outputs = []
    if glue_data is not None:
        if segment.name not in glue_data:
            raise ctx.error(segment.line, f"nothing was glued under {segment.name!r} for this figure")
        data = dict(glue_data[segment.name]["data"])
        outputs = [nbformat.v4.new_output("display_data", data=data)]
        outputs += [_markdown_output(rendered(segment.text))] if segment.text else []
    source = f"{FIGURE_HEAD}\nfrom keepalive_lab.bookkit.prose import figure\n\nfigure({segment.name!r}, {_literal(segment.text)})"
    return _hidden_cell(source, outputs)


def convert_chapter(source: Path, index: BookIndex, executed: Path | None = None, **context):
    """A chapter's ``.md`` as a plain notebook; from MyST-NB's ``executed`` notebook (and its glue) if given."""
    import nbformat

    ctx = Context(chapter=source.stem, source=source, index=index, **context)
    if executed is None:
        import jupytext  # the MyST notebook reader MyST-NB's own follows

        notebook, glue_data = jupytext.read(source), None
    else:
        notebook = nbformat.read(executed, as_version=4)
        glue_file = executed.with_name(executed.stem + ".glue.json")  # MyST-NB writes it beside the notebook
        glue_data = json.loads(glue_file.read_text(encoding="utf-8")) if glue_file.exists() else {}
    return convert(notebook, ctx, source.read_text(encoding="utf-8"), glue_data)


def write_notebooks(book: Path, out: Path, executed: Path | None = None, **context) -> list[Path]:
    """Write ``out/<name>.ipynb`` for every ``book/*.md``; from ``executed/<name>.ipynb`` where given.

    A chapter without an executed notebook (one the build did not read)
    keeps the version written from its source.
    """
    import nbformat

    chapters = sorted(book.glob("*.md"))
    index = index_book({c.stem: c.read_text(encoding="utf-8") for c in chapters})
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in chapters:
        run = executed / f"{chapter.stem}.ipynb" if executed is not None else None
        if run is not None and not run.exists():
            continue
        target = out / f"{chapter.stem}.ipynb"
        nbformat.write(convert_chapter(chapter, index, run, **context), target)
        written.append(target)
    return written
