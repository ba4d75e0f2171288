"""The chapters as downloaded notebooks: plain Markdown, this run's values, every figure, no errors.

Fast: the converter on MyST snippets (each kind of markup; markup it must refuse). Slow: every notebook
a reader downloads, run with nbclient in a scratch folder and read as a reader sees it; and papermill.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from keepalive_lab.bookkit import glue as glue_module
from keepalive_lab.bookkit.mystindex import ConversionError, index_book
from keepalive_lab.bookkit.mystmd import Context, convert_markdown, leftover_markup
from keepalive_lab.bookkit.notebooks import convert
from keepalive_lab.bookkit.prose import GLUE_ROLE, PENDING, format_plain_text, key_and_spec, render

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CELL_TIMEOUT = 300  # seconds per cell, as a reader's slow machine might need
# One notebook at a time by default. Two side by side (the chapters mostly wait on timers) took 2:11
# instead of about 3:30, but on this two-core machine, shared, a timing claim then failed (the grid's
# "without keep-alive no cell times out"): the lab's timers are scaled 20x, so a stalled thread is
# a timeout. NOTEBOOK_WORKERS=2 runs two at a time where the machine is idle.
WORKERS = int(os.environ.get("NOTEBOOK_WORKERS", "1"))
MYST_ONLY = ["{glue", "{ref}", "{numref}", "{term}", "{download}", "```{", ":::{"]
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
TARGET_LINE = re.compile(r"(?m)^\s*\([\w-]+\)=\s*$")


# --- the converter on snippets ------------------------------------------------------------------------


@pytest.fixture
def book(tmp_path):
    """A two-chapter book in a scratch folder; returns a converter of snippets of chapter "one"."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "mod.py").write_text("import os\n\n\nclass Box:\n    def open(self):\n        return 1\n\n"
                                             "    def shut(self):\n        return 0\n")  # fmt: skip
    other = "(two)=\n# 2. The other chapter\n\n(deep)=\n## A deep section\n\n```{glossary}\nSlot\n  A place.\n```\n"
    (tmp_path / "two.md").write_text(other)

    def run(snippet: str, numbers: dict | None = None):
        source = tmp_path / "one.md"
        source.write_text(snippet)
        index = index_book({"one": snippet, "two": other})
        ctx = Context(chapter="one", source=source, index=index, figure_numbers=numbers)
        return convert_markdown(snippet, 1, ctx)

    return run


def text(segments) -> str:
    return "\n\n".join(s.text for s in segments)  # the segments' Markdown, as one cell would hold it


def test_targets_go_and_references_become_text_or_a_link_to_the_other_notebook(book):
    out = text(book("(here)=\n## Here\n\nSee {ref}`two`, {ref}`the deep part <deep>` and {ref}`here`.\n"))
    assert "(here)=" not in out
    assert "See [2. The other chapter](two.ipynb), [the deep part](two.ipynb) and Here." in out


def test_terms_downloads_and_docs_become_their_text(book):
    out = text(book("A {term}`slot <Slot>`, {term}`Slot`, {download}`the file <data/x.csv>`, {download}`data/y.csv`, {doc}`two`."))
    assert out == "A slot, Slot, the file, y.csv, [2. The other chapter](two.ipynb)."


def test_a_numref_is_the_builds_number_or_says_where_the_figure_is(book):
    snippet = "{numref}`fig-a` shows it (see {numref}`fig-a`).\n\n```{glue:figure} key-a\n:name: fig-a\n\nThe caption.\n```\n\nAs {numref}`fig-a` showed.\n"
    plain = book(snippet)
    assert plain[0].text == "The figure below shows it (see the figure below)."
    assert plain[-1].text == "As the figure above showed."
    numbered = book(snippet, numbers={"fig-a": "7"})
    assert numbered[0].text == "Fig. 7 shows it (see Fig. 7)."
    figure = numbered[1]
    assert (figure.kind, figure.name, figure.label, figure.text) == ("figure", "key-a", "fig-a", "*Fig. 7: The caption.*")
    assert book("{numref}`Figure %s here <fig-a>`\n\n```{glue:figure} k\n:name: fig-a\n```", {"fig-a": "2"})[0].text == "Figure 2 here"


def test_a_paragraph_with_glue_becomes_prose_and_one_without_stays_markdown(book):
    segments = book("# Title\n\nRan {glue:text}`n:.0f` times, {glue}`who`.\nStill prose.\n\nPlain.\n\nAgain {glue:text}`m`.\n")
    assert [s.kind for s in segments] == ["md", "prose", "md", "prose"]
    assert segments[1].text == "Ran {glue:text}`n:.0f` times, {glue}`who`.\nStill prose."
    caption = book("```{glue:figure} k\n:name: f\n\nWaited {glue:text}`t:.1f` s, *twice*.\n\nA legend.\n```")[0]
    assert caption.text == "**Figure:** Waited {glue:text}`t:.1f` s, *twice*.\n\nA legend."


def test_admonitions_become_blockquotes_with_a_bold_title(book):
    out = text(book("```{admonition} Take away\n:class: tip\nLine one\n\nLine {ref}`two`\n```\n\n```{note}\nA note.\n```\n\n:::{warning}\nCareful.\n:::"))
    assert out == ("> **Take away**\n>\n> Line one\n>\n> Line [2. The other chapter](two.ipynb)\n\n"
                   "> **Note**\n>\n> A note.\n\n> **Warning**\n>\n> Careful.")  # fmt: skip


def test_exercises_solutions_and_the_glossary(book):
    out = text(book("```{exercise} Try it\n:label: ex-1\n\nDo it.\n```\n\n````{solution} ex-1\n:class: dropdown\n\nLike this:\n\n```python\nx = 1\n```\n````\n"))
    assert out == ("**Exercise: Try it**\n\nDo it.\n\n<details>\n<summary>Solution</summary>\n\nLike this:\n\n"
                   "```python\nx = 1\n```\n\n</details>")  # fmt: skip
    glossary = text(book("```{glossary}\nSlot\n  One place,\n  given back.\n\n`Pool`\n  Idle {term}`slot <Slot>`s.\n```"))
    assert glossary == "**Slot**: One place,\ngiven back.\n\n**`Pool`**: Idle slots."


def test_literalinclude_honours_the_options_the_page_does(book):
    out = text(book("```{literalinclude} code/mod.py\n:language: python\n:pyobject: Box.open\n:dedent: 4\n:emphasize-lines: 2\n```"))
    assert out == "```python\ndef open(self):\n    return 1\n```"
    out = text(book("```{literalinclude} code/mod.py\n:start-at: def shut\n:end-at: return 0\n```"))
    assert out == "```\n    def shut(self):\n        return 0\n```"
    assert text(book("```{literalinclude} code/mod.py\n:lines: 1\n```")) == "```\nimport os\n```"


def test_tabs_become_consecutive_sections(book):
    out = text(book("::::{tab-set}\n:::{tab-item} Go\nGo text.\n:::\n:::{tab-item} Python\n```{literalinclude} code/mod.py\n:lines: 1\n```\n:::\n::::"))
    assert out == "**Go**\n\nGo text.\n\n**Python**\n\n```\nimport os\n```"


def test_code_is_left_alone(book):
    snippet = "A `http.Server{}` and `` {ref}`x` `` stay.\n\n```text\n{ref}`not a role` (x)=\n```"
    assert text(book(snippet)) == snippet


def test_the_pages_own_download_line_becomes_a_note_about_the_notebook(book):
    out = text(book("*{download}`Download this page <_notebooks/one.ipynb>` to rerun it.*"))
    assert "chapter of the book *One Slot, Two Load Balancers*" in out and "reruns" in out


@pytest.mark.parametrize(
    "snippet, complaint",
    [
        ("Some {math}`x^2` here.", "role {math}"),
        ("\n\n```{figure} a.png\n```", "one.md:3: the directive {figure}"),
        ("```{note}\n:foo: bar\nText.\n```", "option(s) the converter does not know: ['foo']"),
        ("```{note}\nnever closed", "never closed"),
        ("See {ref}`nowhere`.", "which no chapter defines"),
        ("A {term}`pool <Pool>`.", "the glossary does not define"),
        ("{glue:text}`other::key`", "another page"),
        ("```{literalinclude} code/mod.py\n:pyobject: Nothing\n```", "Nothing"),
        ("::::{tab-set}\nLoose text.\n::::", "only {tab-item}"),
        ("```{note}\n```{glue:figure} k\n```\n```", "never closed"),
        ("1. An item\n\n    ```{note}\n    indented\n    ```", "does not know: '```{note}'"),
        ("Hello {{ name }}.", "does not know: '{{'"),
    ],
)
def test_markup_the_converter_does_not_know_fails_loudly_with_the_line(book, snippet, complaint):
    with pytest.raises(ConversionError, match=re.escape(complaint)):
        book(snippet)


def test_leftover_markup_is_found_outside_code_only():
    assert leftover_markup("a {ref}`x` b") == "{ref}`"
    assert leftover_markup("(label)=\n") is not None
    assert leftover_markup("- item\n\n      ```{note}") == "```{note}"
    assert leftover_markup("a `{ref}`x`` b\n```\n(label)=\n```") is None
    assert leftover_markup("{glue:text}`kept:.1f` for the kernel") is None


# --- values, as MyST-NB formats them ------------------------------------------------------------------


@pytest.mark.parametrize("plain, spec", [("12.0", ".0f"), ("0.2", ""), ("'weighted'", "s"), ("5", "d"), ("0.0625", ".1%"), ("x < y", "s")])
def test_values_are_formatted_as_myst_nb_formats_them(plain, spec):
    variables = pytest.importorskip("myst_nb.core.variables")
    assert format_plain_text(plain, spec) == variables.format_plain_text(plain, spec)


def test_prose_renders_values_escaped_and_pending_ones_as_an_ellipsis():
    markdown = "Sent {glue:text}`n:.0f` of {glue:text}`who`, {glue}`raw`, {glue:text}`later`."
    out = render(markdown, {"n": "12.0", "who": "'a_b*c'", "raw": "'x'"})
    assert out == f"Sent 12 of a\\_b\\*c, 'x', {PENDING}."
    with pytest.raises(KeyError, match="later"):
        render(markdown, {"n": "1", "who": "'w'", "raw": "1"}, pending=None)


def test_glue_records_every_value_and_tells_the_listeners(monkeypatch):
    heard = []
    monkeypatch.setattr(glue_module, "GLUED", {})
    monkeypatch.setattr(glue_module, "LISTENERS", [heard.append])
    glue_module.glue("one", 1.5, display=False)
    glue_module.glue_values({"two": 2}, prefix="p_")
    assert glue_module.GLUED == {"one": 1.5, "p_two": 2} and heard == ["one", "p_two"]


def _notebook(cells, **metadata):
    return pytest.importorskip("nbformat").v4.new_notebook(cells=cells, metadata=metadata)


def test_a_notebook_keeps_its_code_folds_what_the_page_hides_and_renders_the_builds_values(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    source = tmp_path / "one.md"
    chapter = "# One\n\nRan {glue:text}`n:.0f` times.\n\n```{glue:figure} fig\n:name: fig-x\n\nIt, {glue:text}`n`.\n```\n"
    source.write_text(chapter)
    cells = [
        nbformat.v4.new_code_cell("scale_factor = 20", metadata={"tags": ["parameters", "remove-cell"]}),
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["remove-cell"]}, outputs=[nbformat.v4.new_output("stream", text="1")]),
        nbformat.v4.new_code_cell("show()", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_markdown_cell(chapter),
    ]
    ctx = Context(chapter="one", source=source, index=index_book({"one": chapter}), figure_numbers={"fig-x": "3"})
    glue_data = {"n": {"data": {"text/plain": "4.0"}}, "fig": {"data": {"image/png": "iVBOR", "text/plain": "<fig>"}}}
    out = convert(_notebook(cells, kernelspec=KERNEL), ctx, chapter, glue_data)
    params, hidden, no_input, title, prose, figure = out.cells
    assert params.metadata == {"tags": ["parameters", "remove-cell"]}  # the reader's to change: shown
    assert hidden.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True} and hidden.outputs == []
    assert no_input.metadata["jupyter"] == {"source_hidden": True} and "hide-input" in no_input.metadata["tags"]
    assert title.cell_type == "markdown" and title.source == "# One"
    assert prose.metadata == {"jupyter": {"source_hidden": True}, "tags": ["hide-input"], "transient": {"remove_source": True}}
    assert prose.outputs[0]["data"]["text/markdown"] == "Ran 4 times."
    assert _call_argument(prose.source) == "\nRan {glue:text}`n:.0f` times.\n"
    assert figure.outputs[0]["data"]["image/png"] == "iVBOR"
    assert figure.outputs[1]["data"]["text/markdown"] == "*Fig. 3: It, 4.0.*"
    assert out.metadata == {"kernelspec": KERNEL}
    with pytest.raises(ConversionError, match="one.md:3: cannot render"):
        convert(_notebook(cells, kernelspec=KERNEL), ctx, chapter, {"fig": glue_data["fig"]})


def _call_argument(source: str) -> str:
    """The Markdown a prose() or figure() cell passes (its last argument)."""
    call = ast.parse(source).body[-1].value
    return ast.literal_eval(call.args[-1])


# --- the downloaded notebooks, run as a reader runs them ----------------------------------------------

REGISTRY_CELL = """\
import json
from keepalive_lab.bookkit.glue import GLUED
from keepalive_lab.bookkit.prose import plain_text
print(json.dumps({"values": {k: plain_text(v) for k, v in GLUED.items() if not hasattr(v, "_repr_png_")},
                  "figures": sorted(k for k, v in GLUED.items() if hasattr(v, "_repr_png_"))}))
"""


def _execute(notebook, folder: Path, kernel: str = "python3") -> dict:
    """Run ``notebook`` in ``folder`` (as Jupyter would), then read what this run glued."""
    import nbformat
    from nbclient import NotebookClient

    notebook.cells.append(nbformat.v4.new_code_cell(REGISTRY_CELL))
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name=kernel, allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})  # fmt: skip
    # An event loop of its own, closed at the end (execute() would leave one open in each worker thread).
    asyncio.run(client.async_execute())
    registry_cell = notebook.cells.pop()
    printed = "".join(o.get("text", "") for o in registry_cell.outputs if o.output_type == "stream")
    return json.loads(printed) if printed else {"values": {}, "figures": []}


@pytest.mark.slow
def test_prose_shows_values_glued_later_and_follows_them_when_glued_again(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    cells = [
        nbformat.v4.new_code_cell('from keepalive_lab.bookkit.prose import prose\nprose("{glue:text}`n:.0f` requests")'),
        nbformat.v4.new_code_cell('from keepalive_lab.bookkit.prose import figure\nfigure("f", "*{glue:text}`n`*")'),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nfrom keepalive_lab.bookkit.glue import glue, glue_figure\n"
            "glue('n', 3.0, display=False)\nfig, _ = plt.subplots()\nglue_figure('f', (fig, 'alt text'))\nglue('n', 7.0, display=False)"
        ),
    ]
    notebook = _notebook(cells, kernelspec=KERNEL)
    _execute(notebook, tmp_path)
    prose, figure, _ = notebook.cells
    assert [o["data"]["text/markdown"] for o in prose.outputs] == ["7 requests"]
    assert "image/png" in figure.outputs[0]["data"] and figure.outputs[1]["data"]["text/markdown"] == "*7.0*"


def _chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]


def _downloaded(chapter: str) -> Path:
    """The notebook a reader downloads from the chapter's page (its link into _downloads)."""
    page = (HTML / f"{chapter}.html").read_text(encoding="utf-8")
    name = Path(chapter).name
    links = re.findall(rf'href="([^"]*/{re.escape(name)}\.ipynb)"', page)
    assert links, f"{chapter} has no notebook download link"
    return (HTML / Path(chapter).parent / links[0]).resolve()


@pytest.fixture(scope="session")
def built() -> Path:
    """The built book (``make test`` builds it first; run alone, the tests build it when it is missing)."""
    if not (HTML / "index.html").exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py")], check=True, timeout=1800)
    return HTML


@pytest.fixture(scope="session")
def runs(built, tmp_path_factory) -> dict[str, tuple]:
    """Every downloaded notebook, run in a scratch folder of its own (WORKERS at a time)."""
    nbformat = pytest.importorskip("nbformat")

    def one(chapter: str):
        start = time.monotonic()
        try:
            notebook = nbformat.read(_downloaded(chapter), as_version=4)
            registry = _execute(notebook, tmp_path_factory.mktemp(Path(chapter).name))
        except Exception as exc:  # that chapter's tests fail with it; the other chapters still run
            return exc, None, time.monotonic() - start
        return notebook, registry, time.monotonic() - start

    chapters = _chapters()
    with ThreadPoolExecutor(WORKERS) as pool:
        results = dict(zip(chapters, pool.map(one, chapters)))
    for chapter, (_, _, seconds) in sorted(results.items(), key=lambda item: -item[1][2]):
        print(f"{seconds:6.1f} s  {chapter}")
    return results


def _run(runs, chapter: str):
    if isinstance(runs[chapter][0], Exception):
        raise runs[chapter][0]
    return runs[chapter][:2]


def each_chapter(test):
    """A slow test of each chapter's notebook; the first to run waits for them all (hence the timeout)."""
    return pytest.mark.parametrize("chapter", _chapters())(pytest.mark.slow(pytest.mark.timeout(3600)(test)))


def _kind(cell) -> str:
    """"prose", "figure" (cells the converter made) or the cell's type."""
    match = re.search(r"^from keepalive_lab\.bookkit\.prose import (prose|figure)$", cell.source, re.M)
    return match.group(1) if cell.cell_type == "code" and match else cell.cell_type


def _markdowns(cell) -> list[str]:
    return [o["data"]["text/markdown"] for o in cell.get("outputs", []) if "text/markdown" in o.get("data", {})]


def _without_code(markdown: str) -> str:
    markdown = re.sub(r"(?ms)^ {0,3}(`{3,}|~{3,})[^`\n]*$.*?^ {0,3}\1\s*$", "", markdown)  # fenced blocks
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", markdown, flags=re.S)  # code spans


@each_chapter
def test_a_downloaded_notebook_runs_without_errors(runs, chapter):
    notebook, _ = _run(runs, chapter)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{output.get('ename')}: {output.get('evalue')}\n{cell.source}"
            assert output.get("name") != "stderr", f"stderr: {output.get('text')}\n{cell.source}"


@each_chapter
def test_a_downloaded_notebook_has_no_myst_markup_left(runs, chapter):
    notebook, _ = _run(runs, chapter)
    texts = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    texts += [m for c in notebook.cells if _kind(c) in ("prose", "figure") for m in _markdowns(c)]
    for prose in map(_without_code, texts):
        assert not [m for m in MYST_ONLY if m in prose] and not TARGET_LINE.search(prose), prose


@each_chapter
def test_a_downloaded_notebook_shows_every_figure_and_this_runs_numbers(runs, chapter):
    notebook, registry = _run(runs, chapter)
    values, shown = registry["values"], set()
    for cell in notebook.cells:
        if _kind(cell) == "figure":
            name = ast.literal_eval(ast.parse(cell.source).body[-1].value.args[0])
            assert "image/png" in cell.outputs[0]["data"], f"figure {name} has no image"
            shown.add(name)
        if _kind(cell) not in ("prose", "figure"):
            continue
        source, rendered = _call_argument(cell.source).strip("\n"), _markdowns(cell)[-1]
        assert PENDING not in rendered, f"a value was never glued in:\n{rendered}"
        assert rendered == render(source, values, pending=None)
        plain = re.sub(r"\\(.)", r"\1", rendered)  # the Markdown escapes off: the text a reader sees
        for key, spec in map(key_and_spec, GLUE_ROLE.finditer(source)):
            expected = values[key] if spec is None else format_plain_text(values[key], spec)
            assert expected in plain, f"{key} = {expected!r} is not in:\n{plain}"
    assert set(registry["figures"]) <= shown, f"glued figures no cell shows: {set(registry['figures']) - shown}"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_papermill_reruns_the_symptom_with_another_time_scale(built, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("papermill")
    source, out = _downloaded("book/symptom"), tmp_path / "symptom-x10.ipynb"
    parameters = [c for c in nbformat.read(source, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "scale_factor = 20" in parameters[0].source
    command = [str(Path(sys.executable).parent / "papermill"), str(source), str(out), "-p", "scale_factor", "10",
               "--cwd", str(tmp_path), "--execution-timeout", str(CELL_TIMEOUT), "--no-progress-bar", "--log-output"]  # fmt: skip
    subprocess.run(command, check=True, timeout=1800, cwd=tmp_path)
    notebook = nbformat.read(out, as_version=4)
    tags = [c.metadata.get("tags", []) for c in notebook.cells]
    injected = tags.index(["injected-parameters"])
    assert "parameters" in tags[injected - 1] and "scale_factor = 10" in notebook.cells[injected].source
    prose = "\n".join(m for c in notebook.cells if _kind(c) == "prose" for m in _markdowns(c))
    assert re.search(r"\b10\s+times faster", prose), "the prose does not show the new time scale"
    assert PENDING not in prose
