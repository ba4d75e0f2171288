"""The built book, checked as a reader gets it: every page, no errors, real alt text, resolved glue.

``make test`` builds the book first (``make book``); these tests read
``_build/html``. Run alone, they build it when it is missing.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"

pytestmark = pytest.mark.slow


def _chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]


@pytest.fixture(scope="session")
def built() -> Path:
    if not (HTML / "index.html").exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py")], check=True, timeout=1800)
    return HTML


class _Page(HTMLParser):
    """The parts of a page the checks need."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.classes: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if "class" in attrs:
            self.classes.extend(attrs["class"].split())


def _page(built: Path, chapter: str) -> tuple[str, _Page]:
    path = built / f"{chapter}.html"
    assert path.exists(), f"{chapter} was not built"
    text = path.read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(text)
    return text, parsed


@pytest.mark.parametrize("chapter", _chapters())
def test_every_chapter_page_is_clean(built, chapter):
    text, page = _page(built, chapter)
    assert "traceback" not in page.classes, "an error output is on the page"
    assert "stderr" not in page.classes, "stray stderr is on the page"
    assert "Traceback (most recent call last)" not in text
    assert "{glue" not in text, "an unresolved glue role or directive"
    # Glued values that came out empty or undefined.
    assert not re.search(r'class="pasted-text">(nan|None|NaN|inf)<', text)


@pytest.mark.parametrize("chapter", _chapters())
def test_every_image_has_real_alt_text(built, chapter):
    _, page = _page(built, chapter)
    for img in page.images:
        alt = (img.get("alt") or "").strip()
        if "logo" in img.get("class", ""):
            continue
        assert len(alt) > 30, f"image without real alt text: {img.get('src', '')[:60]}"
        assert not alt.endswith((".png", ".svg", ".jpg")), f"alt text is a file name: {alt}"


def test_every_figure_is_referenced_from_the_text(built):
    figures, references = set(), set()
    for chapter in _chapters():
        text, page = _page(built, chapter)
        figures |= {i for i in page.ids if i.startswith("fig-")}
        references |= {h.split("#", 1)[1] for h in page.hrefs if "#fig-" in h}
    assert figures, "the book has no named figures"
    assert figures <= references, f"figures nobody refers to: {sorted(figures - references)}"


@pytest.mark.parametrize("chapter", _chapters())
def test_every_chapter_downloads_as_a_runnable_notebook(built, chapter):
    _, page = _page(built, chapter)
    name = Path(chapter).name
    links = [h for h in page.hrefs if h.endswith(f"/{name}.ipynb")]
    assert links, f"{chapter} has no notebook download link"
    notebook = json.loads((built / Path(chapter).parent / links[0]).resolve().read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert any(cell["cell_type"] == "code" for cell in notebook["cells"]) or name == "appendix"


def test_the_build_left_no_execution_reports(built):
    reports = built / "reports"
    assert not reports.exists() or not any(reports.iterdir()), "a notebook failed to execute"


@pytest.mark.parametrize("chapter", _chapters())
def test_every_chapter_opens_with_objectives_and_ends_with_a_takeaway_and_has_a_figure(built, chapter):
    text, page = _page(built, chapter)
    assert "In this chapter" in text and "After it you can" in text, "no learning objectives"
    assert "What to take from this" in text, "no takeaway box"
    assert any(i.startswith("fig-") for i in page.ids), "no figure"


def test_the_book_has_enough_exercises_and_most_make_students_run_code(built):
    exercises = checked = predictions = 0
    for chapter in _chapters():
        text, page = _page(built, chapter)
        exercises += page.classes.count("exercise")
        predictions += text.count('<p class="admonition-title">Predict</p>')
        code = html.unescape(re.sub(r"<[^>]+>", "", text))  # highlighted code as plain text
        checked += len(re.findall(r'^check\("ex-', code, flags=re.M))
    assert exercises >= 12, exercises
    assert checked >= 8, checked  # solutions that call the self-check, in code
    assert predictions >= 10, predictions


# A chapter that runs something the reader can vary: experiments at a time scale, the real load balancers,
# the scale check, the zoo's probes.
_RUNS = re.compile(r"TimeScale\(|runner\.run\(|scalecheck\.validate\(|run_experiments?\(")


@pytest.mark.parametrize("chapter", _chapters())
def test_a_chapter_that_runs_experiments_opens_with_one_parameters_cell(chapter):
    # papermill's convention: the one cell tagged `parameters` comes before the code that uses it.
    text = (ROOT / f"{chapter}.md").read_text(encoding="utf-8")
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S)
    tagged = [i for i, cell in enumerate(cells) if re.match(r":tags: \[[^\]]*\bparameters\b", cell)]
    if not any(_RUNS.search(cell) for cell in cells):
        assert tagged == [], f"{chapter} has parameters but runs nothing"
        return
    assert tagged == [0], f"{chapter}: the first code cell, and only it, must be tagged parameters"
    names = re.findall(r"^(\w+) = ", cells[0], flags=re.M)
    assert names and all(re.search(rf"\b{name}\b", "".join(cells[1:])) for name in names), names
