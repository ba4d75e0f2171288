"""Print the built book (``_build/html``) to one PDF, and the handout page alone, with Debian's Chromium.

Usage: ``tools/build_pdf.py [--html DIR] [--out DIR]`` after ``make book`` (``make pdf`` runs both).

Why print the HTML pages: Jupyter Book's own ``pdfhtml`` builder downloads a
browser (it cannot work offline), and a single-page build would execute every
chapter a second time. The HTML build has already executed every chapter and
holds every figure as an inline PNG, so printing its pages gives the same
book, numbers and figures included, in seconds.

Each page listed in ``_toc.yml`` (root, then chapters, then their sections, in
that order) is printed on its own by Chromium headless, with a throw-away
profile and nothing that reaches the network, then the pages are merged with
pypdf into ``one-slot-two-load-balancers.pdf``, with one bookmark per page. The
print rules that hide the theme's navigation and wrap code live in
``_static/print.css``, part of the HTML build. When a page named ``handout``
is in the table of contents, it is also written alone to ``handout.pdf``;
when there is none, a stale ``handout.pdf`` is removed.

Exit status: 0 written; 1 a page could not be printed or is missing (build
the book first); 3 no Chromium here (the message says how to install it).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parent.parent
BOOK_NAME = "one-slot-two-load-balancers.pdf"
HANDOUT = "handout"
BROWSERS = ("chromium", "chromium-browser")  # Debian's name, and Ubuntu's older one
PAGE_TIMEOUT = 180.0  # seconds to print one page; the longest page prints in about 2 s
EXIT_FAILED, EXIT_NO_BROWSER = 1, 3


class PrintError(RuntimeError):
    """A page could not be printed."""


def toc_pages(toc_file: Path) -> list[str]:
    """The document names of ``_toc.yml`` in reading order: root, then every ``file`` entry, depth first.

    Parts (``parts: [{chapters: ...}]``), chapters and their ``sections`` are all
    walked; ``url`` entries (external links) and ``glob`` entries have no single
    built page and are skipped.
    """
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    pages: list[str] = [_docname(toc["root"])]

    def walk(entries) -> None:
        for entry in entries or []:
            if "file" in entry:
                pages.append(_docname(entry["file"]))
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key))

    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return pages


def _docname(name: str) -> str:
    """``book/symptom.md`` and ``book/symptom`` both name the page ``book/symptom``."""
    return re.sub(r"\.(md|ipynb|rst)$", "", name.strip("/"))


def find_browser() -> str | None:
    """Chromium from $CHROMIUM (a path) or PATH; never a downloaded one."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        return shutil.which(chosen)
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def print_page(browser: str, page: Path, out: Path, profile: Path) -> None:
    """Print one HTML file to ``out`` with Chromium headless; PrintError with its output if it fails."""
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
        "--no-default-browser-check", f"--user-data-dir={profile}",
        # Every name resolves to nothing: a page that asked for something online (a CDN script) would
        # print without it rather than wait for it, and printing never touches the network.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--no-pdf-header-footer", f"--print-to-pdf={out}", page.resolve().as_uri(),
    ]  # fmt: skip
    # Its own process group: on a timeout the renderer and GPU helper processes go too.
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=PAGE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise PrintError(f"{page.name}: Chromium did not finish within {PAGE_TIMEOUT:.0f} s") from None
    finally:
        if proc.poll() is None:  # an exception other than the timeout (Ctrl-C): leave nothing behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        # Chromium's stderr is full of harmless D-Bus complaints; show it only when printing failed.
        tail = "\n".join(output.decode("utf-8", "replace").splitlines()[-15:])
        raise PrintError(f"{page.name}: Chromium exited {proc.returncode} without a PDF:\n{tail}")


def page_title(page: Path) -> str:
    """The page's first heading as a reader sees it (numbered, no ``#`` link), for the PDF's bookmarks."""
    text = page.read_text(encoding="utf-8")
    match = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.S) or re.search(r"<title>(.*?)</title>", text, re.S)
    if match is None:
        return page.stem
    inner = re.sub(r'<a class="headerlink".*?</a>', "", match.group(1), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", inner)).split())


def _book_metadata() -> dict[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8")) or {}
    return {"/Title": str(config.get("title", "")), "/Author": str(config.get("author", ""))}


def merge(parts: list[tuple[str, Path]], out: Path, title: str | None = None) -> int:
    """Merge ``(bookmark title, pdf)`` parts into ``out`` (written whole, then renamed); its page count."""
    writer = PdfWriter()
    for name, pdf in parts:
        first = len(writer.pages)
        writer.append(str(pdf), import_outline=False)
        writer.add_outline_item(title=name, page_number=first)
    metadata = _book_metadata()
    if title:
        metadata["/Title"] = title
    writer.add_metadata(metadata)
    writer.page_mode = "/UseOutlines"  # a reader opens with the bookmarks shown
    partial = out.with_suffix(".pdf.partial")
    with open(partial, "wb") as handle:
        writer.write(handle)
    writer.close()
    partial.replace(out)
    return len(PdfReader(out).pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built book (_build/html)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf", help="where the PDFs go (_build/pdf)")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="the table of contents (_toc.yml)")
    args = parser.parse_args(argv)

    browser = find_browser()
    if browser is None:
        print("build_pdf: no Chromium; on Debian or Ubuntu, as root: "
              "apt-get install -y --no-install-recommends chromium", file=sys.stderr)  # fmt: skip
        return EXIT_NO_BROWSER
    docnames = toc_pages(args.toc)
    pages = [(name, args.html / f"{name}.html") for name in docnames]
    missing = [str(path) for _, path in pages if not path.is_file()]
    if missing:
        print(f"build_pdf: not built: {', '.join(missing)}; build the book first (make book)", file=sys.stderr)
        return EXIT_FAILED

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="keepalive-lab-pdf-") as scratch:
        scratch_dir = Path(scratch)
        printed: list[tuple[str, str, Path]] = []  # (docname, title, pdf)
        for index, (name, page) in enumerate(pages):
            pdf = scratch_dir / f"{index:02d}-{name.replace('/', '-')}.pdf"
            try:
                print_page(browser, page, pdf, scratch_dir / "profile")
            except PrintError as exc:
                print(f"build_pdf: {exc}", file=sys.stderr)
                return EXIT_FAILED
            printed.append((name, page_title(page), pdf))
            print(f"  printed {name} ({len(PdfReader(pdf).pages)} pages)")

        book = args.out / BOOK_NAME
        count = merge([(title, pdf) for _, title, pdf in printed], book)
        written = [(book, count)]
        handouts = [(title, pdf) for name, title, pdf in printed if name.rsplit("/", 1)[-1] == HANDOUT]
        handout = args.out / f"{HANDOUT}.pdf"
        if handouts:
            written.append((handout, merge(handouts[:1], handout, title=handouts[0][0])))
        elif handout.exists():
            handout.unlink()  # the page left the table of contents: do not leave last time's print behind
            print(f"build_pdf: no page named {HANDOUT!r} in {args.toc.name}; removed the old {handout}")
    elapsed = time.monotonic() - start
    for path, count in written:
        print(f"{path}: {count} pages, {path.stat().st_size / 1e6:.1f} MB")
    print(f"build_pdf: {len(printed)} pages of {args.toc.name} printed in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
