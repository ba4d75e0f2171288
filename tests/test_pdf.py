"""``make pdf``: the built book printed to one PDF by Chromium, every chapter in it, figures and numbers included.

Runs ``tools/build_pdf.py`` on ``_build/html`` (built first when it is missing or older than the
table of contents or the print rules) into a temporary folder. Skipped where there is no Chromium
or no pypdf (``make pdf`` installs both).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import unicodedata
from html import unescape
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BROWSER is None, reason="no Chromium (make pdf installs it as root)"),
]
pypdf = pytest.importorskip("pypdf", reason="pypdf is installed by make pdf")


def _pages() -> list[str]:
    """Root, then every chapter and section of _toc.yml, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key))

    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return pages


def _words(text: str) -> str:
    """Text as a reader sees it: ligatures spelt out (the PDF's font prints "fi" as one glyph), and
    every run of whitespace as one space (a title may wrap on paper)."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _title(html: str) -> str:
    """A page's first heading as printed: tags and the ``#`` link dropped."""
    inner = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)
    inner = re.sub(r'<a class="headerlink".*?</a>', "", inner, flags=re.S)
    return _words(unescape(re.sub(r"<[^>]+>", "", inner)))


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> tuple[Path, object, list[str]]:
    stale = not all((HTML / f"{page}.html").exists() for page in _pages())
    if stale or "print.css" not in (HTML / f"{_pages()[0]}.html").read_text(encoding="utf-8"):
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py")], check=True, timeout=1800)
    out = tmp_path_factory.mktemp("pdf")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_pdf.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    book = out / "one-slot-two-load-balancers.pdf"
    assert book.is_file()
    reader = pypdf.PdfReader(book)
    return out, reader, [_words(page.extract_text()) for page in reader.pages]


def _chapter_ranges(reader) -> list[tuple[str, range]]:
    """Each bookmark (one per page of the table of contents) and the PDF pages it covers."""
    starts = [(item.title, reader.get_destination_page_number(item)) for item in reader.outline]
    ends = [start for _, start in starts[1:]] + [len(reader.pages)]
    return [(title, range(start, end)) for (title, start), end in zip(starts, ends)]


def test_every_page_of_the_table_of_contents_is_in_the_pdf_in_order(printed):
    _, reader, texts = printed
    chapters = _pages()
    assert len(reader.pages) > len(chapters)
    ranges = _chapter_ranges(reader)
    assert len(ranges) == len(chapters), [title for title, _ in ranges]
    for page, (bookmark, pages) in zip(chapters, ranges):
        title = _title((HTML / f"{page}.html").read_text(encoding="utf-8"))
        assert len(pages) >= 1, page
        assert title in texts[pages.start], f"{page}: {title!r} not on its first printed page"
        assert bookmark == title


def test_every_chapter_with_figures_prints_them_and_its_executed_numbers(printed):
    _, reader, texts = printed
    for page, (_, pages) in zip(_pages(), _chapter_ranges(reader)):
        html = (HTML / f"{page}.html").read_text(encoding="utf-8")
        figures = html.count("data:image/png")
        images = sum(len(reader.pages[i].images) for i in pages)
        # Every inline PNG of the page (the figures) is an image on its printed pages.
        assert images >= figures, f"{page}: {figures} figures in the HTML, {images} images in the PDF"
        # Every number a cell computed while the book was built (a glued value) is printed too.
        glued = {_words(unescape(v)) for v in re.findall(r'class="pasted-text">([^<]{1,40})<', html)}
        text = " ".join(texts[i] for i in pages)
        missing = sorted(v for v in glued if v not in text)
        assert not missing, f"{page}: executed values not printed: {missing}"


def test_the_theme_navigation_and_buttons_do_not_print(printed):
    _, reader, texts = printed
    for number, page in enumerate(reader.pages, 1):
        lines = [line.strip() for line in page.extract_text().splitlines()]
        # The theme's print-only "Contents" list of each page's sections is a line of its own.
        assert "Contents" not in lines, f"page {number} has the theme's Contents list"
    screen_only_texts = ("Show code cell source", "Download this page as a Jupyter notebook to rerun it",
                         "Skip to main content", "Back to top")  # fmt: skip
    for screen_only in screen_only_texts:
        found = [number for number, text in enumerate(texts, 1) if screen_only in text]
        assert not found, f"{screen_only!r} printed on pages {found}"


def test_the_handout_is_printed_alone_when_the_table_of_contents_has_one(printed):
    out, _, _ = printed
    handout = out / "handout.pdf"
    names = [page.rsplit("/", 1)[-1] for page in _pages()]
    if "handout" not in names:
        assert not handout.exists()
        return
    reader = pypdf.PdfReader(handout)
    assert len(reader.pages) >= 1
    assert [item.title for item in reader.outline] and len(reader.outline) == 1
