"""MyST Markdown to the Markdown that plain Jupyter renders, for the chapters downloaded as notebooks.

:func:`convert_markdown` turns one markdown cell of a chapter into segments:
plain Markdown, "prose" (Markdown that still shows glued values, rendered in
the reader's kernel by :mod:`keepalive_lab.bookkit.prose`) and figures. Each
MyST construct the chapters use has a translation here; anything else raises
:class:`ConversionError` with the chapter and line, so that new markup fails
the build instead of reaching a reader as raw syntax.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from keepalive_lab.bookkit.mystindex import (CODE_OPEN, BookIndex, ConversionError, Directive, closes, parse,
                                              split_target, term_key)

__all__ = ["ConversionError", "Context", "Segment", "convert_markdown", "leftover_markup"]

ROLE_OR_CODE = re.compile(r"\{(?P<name>[A-Za-z][\w:.+-]*)\}(?P<rtick>`+)|(?P<tick>`+)")
HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
ADMONITIONS = {"admonition": None, "note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important",
               "hint": "Hint", "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
               "seealso": "See also"}  # fmt: skip
# The options each directive may carry; one that is not listed fails, so nothing is dropped unseen.
OPTIONS = {
    "admonition": {"class", "name"},
    "exercise": {"label", "class", "nonumber", "hidden"},
    "solution": {"label", "class", "hidden"},
    "glossary": {"sorted"},
    "tab-set": {"class", "sync-group"},
    "tab-item": {"sync", "class", "selected"},
    "glue:figure": {"name", "alt", "align", "figwidth", "width", "class"},
    "literalinclude": {"language", "pyobject", "dedent", "start-at", "end-at", "start-after", "end-before",
                       "lines", "emphasize-lines", "linenos", "caption", "name", "tab-width", "encoding"},
}  # fmt: skip


@dataclass
class Context:
    """What converting one chapter needs to know about the book."""

    chapter: str  # the chapter's name, e.g. "symptom"
    source: Path  # the chapter's .md file (literalinclude paths are relative to it)
    index: BookIndex
    figure_numbers: dict[str, str] | None = None  # label -> number, from the build's numbering
    numfig_format: str = "Fig. %s"
    book_title: str = "One Slot, Two Load Balancers"

    def error(self, line: int, message: str) -> ConversionError:
        return ConversionError(f"{self.source.name}:{line}: {message}")


@dataclass
class Segment:
    kind: str  # "md", "prose" (shows glued values) or "figure"
    text: str
    line: int
    name: str = ""  # a figure's glue key
    label: str = ""  # a figure's label (its :name:)


@dataclass
class _Out:
    segments: list[Segment] = field(default_factory=list)

    def add(self, kind: str, text: str, line: int, **extra) -> None:
        last = self.segments[-1] if self.segments else None
        # Neighbouring paragraphs of one kind share a cell; a heading stays a cell of its own (it makes
        # the notebook's table of contents) and so does a figure.
        if last and last.kind == kind and kind != "figure" and not HEADING.match(text) and not HEADING.match(last.text):
            last.text += "\n\n" + text
        else:
            self.segments.append(Segment(kind, text, line, **extra))


def convert_markdown(source: str, first_line: int, ctx: Context) -> list[Segment]:
    """One markdown cell of the chapter (starting at ``first_line`` of its file) as segments."""
    lines = list(enumerate(source.splitlines(), start=first_line))
    out = _Out()
    _convert(lines, ctx, out)
    for segment in out.segments:
        if found := leftover_markup(segment.text):
            raise ctx.error(segment.line, f"MyST markup the converter does not know: {found!r}")
    return out.segments


def _convert(lines: list[tuple[int, str]], ctx: Context, out: _Out) -> None:
    for item in parse(lines, ctx.error):
        if isinstance(item, Directive):
            _directive(item, ctx, out)
        elif item.code:
            out.add("md", "\n".join(text for _, text in item.lines), item.lines[0][0])
        else:
            _paragraphs(item.lines, ctx, out)


def _paragraphs(lines: list[tuple[int, str]], ctx: Context, out: _Out) -> None:
    block: list[tuple[int, str]] = []
    for no, text in lines + [(0, "")]:
        if split_target(text) or (text.strip() and HEADING.match(text)) or not text.strip():
            if block:
                _paragraph(block, ctx, out)
                block = []
            if text.strip() and HEADING.match(text):
                _paragraph([(no, text)], ctx, out)
            continue
        block.append((no, text))


def _paragraph(block: list[tuple[int, str]], ctx: Context, out: _Out) -> None:
    line = block[0][0]
    text = "\n".join(t for _, t in block)
    if f"<_notebooks/{ctx.chapter}.ipynb>" in text and "{download}" in text:
        out.add("md", _about(ctx), line)  # the page's own download link: say what this notebook is
        return
    markdown, glued = roles(text, line, ctx)
    out.add("prose" if glued else "md", markdown, line)


def _about(ctx: Context) -> str:
    return (f"> **About this notebook.** It is a chapter of the book *{ctx.book_title}*. Running it reruns the "
            "chapter's experiments on your machine, and the numbers and figures in the text become those of "
            "your run; the outputs saved with it come from the run that built the book. Where a cell is "
            "tagged `parameters`, change its values and run the notebook again (or use papermill, see the "
            "book's appendix, *The chapters as notebooks*).")  # fmt: skip


def _closing(text: str, start: int, ticks: str) -> int | None:
    match = re.compile(rf"(?<!`){ticks}(?!`)").search(text, start)
    return match.start() if match else None


def roles(text: str, line: int, ctx: Context) -> tuple[str, bool]:
    """``text`` with every role translated (glue roles kept for :mod:`prose`); and whether any is glue."""
    out: list[str] = []
    pos, glued = 0, False
    while match := ROLE_OR_CODE.search(text, pos):
        ticks = match.group("tick") or match.group("rtick")
        close = _closing(text, match.end(), ticks)
        if match.group("tick"):  # a code span (or a lone backtick run): copied as it is
            end = match.end() if close is None else close + len(ticks)
            out.append(text[pos:end])
            pos = end
            continue
        at = line + text.count("\n", 0, match.start())
        if close is None:
            raise ctx.error(at, f"the role {{{match.group('name')}}} is never closed")
        out.append(text[pos : match.start()])
        before = "".join(out).rstrip()
        name, content = match.group("name"), text[match.end() : close]
        glued |= name in ("glue", "glue:text")
        out.append(_role(name, content, at, ctx, sentence_start=not before or before[-1] in ".!?"))
        pos = close + len(ticks)
    out.append(text[pos:])
    return "".join(out), glued


def _titled(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    match = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content.strip())
    return (match.group(1), match.group(2)) if match and match.group(1) else (None, content.strip())


def _role(name: str, content: str, line: int, ctx: Context, sentence_start: bool) -> str:
    if name in ("glue", "glue:text"):
        if "::" in content:
            raise ctx.error(line, f"glue from another page ({content!r}) cannot be rendered in a notebook")
        return f"{{{name}}}`{content}`"
    text, target = _titled(content)
    if name in ("term", "download"):
        if name == "term" and ctx.index.terms and term_key(target) not in ctx.index.terms:
            raise ctx.error(line, f"{{term}} refers to {target!r}, which the glossary does not define")
        return text or (Path(target).name if name == "download" else target)
    if name in ("ref", "doc", "numref"):
        key = Path(target).stem if name == "doc" else target
        found = ctx.index.labels.get(key) or ctx.index.chapter_target(key)
        if found is None:
            raise ctx.error(line, f"{{{name}}} refers to {target!r}, which no chapter defines")
        if name == "numref":
            return _numref(text, key, found, line, ctx, sentence_start)
        shown = text or found.title
        if not shown:
            raise ctx.error(line, f"{{{name}}}`{target}` needs an explicit text: the target has no title")
        return shown if found.chapter == ctx.chapter else f"[{shown}]({found.chapter}.ipynb)"
    raise ctx.error(line, f"the role {{{name}}} has no plain-Markdown translation")


def _numref(text, label, found, line, ctx: Context, sentence_start: bool) -> str:
    if found.kind != "figure":
        raise ctx.error(line, f"{{numref}} of {label!r}, which is not a figure")
    number = (ctx.figure_numbers or {}).get(label)
    if text and "%s" not in text and "{number}" not in text:
        return text  # an explicit text without a number shows as it is, as on the page
    if number is not None:
        return (text or ctx.numfig_format).replace("{number}", number).replace("%s", number)
    # No numbering (a build without numfig, or outside Sphinx): say where the figure is.
    if found.chapter != ctx.chapter:
        return f"a figure of [{found.chapter}]({found.chapter}.ipynb)"
    shown = f"the figure {'below' if found.line > line else 'above'}"
    return shown[0].upper() + shown[1:] if sentence_start else shown


# --- directives ------------------------------------------------------------------------------------


def _directive(d: Directive, ctx: Context, out: _Out) -> None:
    kind = "admonition" if d.name in ADMONITIONS else d.name
    if kind not in OPTIONS:
        raise ctx.error(d.line, f"the directive {{{d.name}}} has no plain-Markdown translation")
    if unknown := set(d.options) - OPTIONS[kind]:
        raise ctx.error(d.line, f"{{{d.name}}} option(s) the converter does not know: {sorted(unknown)}")
    if kind == "glue:figure":
        caption = _figure_caption(d, ctx)
        out.add("figure", caption, d.line, name=d.argument, label=d.options.get("name", ""))
        return
    if kind == "literalinclude":
        out.add("md", _literalinclude(d, ctx), d.line)
        return
    if kind == "glossary":
        markdown, glued = roles(_glossary(d, ctx), d.body_line, ctx)
        out.add("prose" if glued else "md", markdown, d.line)
        return
    body, glued = _nested(d, ctx)
    if kind == "admonition":
        title = d.argument or ADMONITIONS[d.name]
        if not title:
            raise ctx.error(d.line, "an {admonition} needs a title")
        markdown = "\n".join(">" + (" " + t if t else "") for t in [f"**{title}**", ""] + body.splitlines())
    elif kind == "exercise":
        markdown = f"**Exercise{': ' + d.argument if d.argument else ''}**\n\n{body}"
    elif kind == "solution":
        # A <details> block folds the solution away as the page's dropdown does; JupyterLab's
        # sanitizer keeps <details> and <summary>, and the blank lines let Markdown render inside.
        markdown = f"<details>\n<summary>Solution</summary>\n\n{body}\n\n</details>"
    elif kind == "tab-set":
        markdown = body
    else:  # tab-item: the tabs become consecutive sections, each under its title
        markdown = f"**{d.argument}**\n\n{body}"
    out.add("prose" if glued else "md", markdown, d.line)


def _nested(d: Directive, ctx: Context) -> tuple[str, bool]:
    """A directive's body converted on its own: one Markdown text, and whether it shows glued values."""
    inner = _Out()
    if d.name == "tab-set":
        for item in parse(d.body, ctx.error):
            if not (isinstance(item, Directive) and item.name == "tab-item") and any(t.strip() for _, t in item.lines):
                raise ctx.error(d.line, "a {tab-set} may hold only {tab-item} directives")
    _convert(d.body, ctx, inner)
    if any(s.kind == "figure" for s in inner.segments):
        raise ctx.error(d.line, f"a figure inside {{{d.name}}} cannot be shown in a notebook")
    return "\n\n".join(s.text for s in inner.segments), any(s.kind == "prose" for s in inner.segments)


def _figure_caption(d: Directive, ctx: Context) -> str:
    inner = _Out()
    _convert(d.body, ctx, inner)
    if any(s.kind == "figure" for s in inner.segments):
        raise ctx.error(d.line, "a figure inside a figure's caption")
    paragraphs = [p for s in inner.segments for p in s.text.split("\n\n")]
    number = (ctx.figure_numbers or {}).get(d.options.get("name", ""))
    label = ctx.numfig_format.replace("%s", number) if number else "Figure"
    if not paragraphs:
        return f"*{label}*"
    caption, legend = paragraphs[0], paragraphs[1:]  # as in Sphinx: the first paragraph is the caption
    # Italics cannot hold a caption that has emphasis of its own; then only the label is set off.
    first = f"**{label}:** {caption}" if re.search(r"[*_]", re.sub(r"`[^`]*`", "", caption)) else f"*{label}: {caption}*"
    return "\n\n".join([first] + legend)


def _literalinclude(d: Directive, ctx: Context) -> str:
    from sphinx.directives.code import LiteralIncludeReader  # the page's own reader: the same lines

    path = (ctx.source.parent / d.argument).resolve()
    if not path.is_file():
        raise ctx.error(d.line, f"{{literalinclude}} of {d.argument}, which does not exist")
    options = {k: v for k, v in d.options.items() if k not in ("language", "emphasize-lines", "linenos", "caption", "name")}
    for key in ("dedent", "tab-width"):
        if key in options:
            options[key] = int(options[key]) if options[key] else None
    try:
        text, _ = LiteralIncludeReader(str(path), options, SimpleNamespace(source_encoding="utf-8-sig")).read()
    except Exception as exc:  # Sphinx says what is wrong (an object not found, a bad range); add where
        raise ctx.error(d.line, f"{{literalinclude}} {d.argument}: {exc}") from exc
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    code = f"{fence}{d.options.get('language', '')}\n{text.rstrip(chr(10))}\n{fence}"
    return f"**{d.options['caption']}**\n\n{code}" if d.options.get("caption") else code


def _glossary(d: Directive, ctx: Context) -> str:
    entries: list[tuple[list[str], list[str]]] = []
    for no, text in d.body:
        if not text.strip():
            if entries and entries[-1][1]:
                entries[-1][1].append("")
        elif text[0] not in " \t":
            if not entries or entries[-1][1]:
                entries.append(([], []))
            entries[-1][0].append(text.strip())
        elif not entries:
            raise ctx.error(no, "a {glossary} definition without a term")
        else:
            entries[-1][1].append(text)
    if "sorted" in d.options:
        entries.sort(key=lambda e: e[0][0].lower())
    paragraphs = []
    for terms, definition in entries:
        body = textwrap.dedent("\n".join(definition)).strip()
        paragraphs.append(", ".join(f"**{t}**" for t in terms) + ": " + body)
    return "\n\n".join(paragraphs)


def leftover_markup(markdown: str) -> str | None:
    """The first MyST-only construct left in ``markdown`` outside code (glue roles aside), or None."""
    text, fence = [], None
    for line in markdown.splitlines():
        match = CODE_OPEN.match(line)
        if fence is None and match:
            fence = match.group("fence")
        elif fence is not None:
            fence = None if closes(line, fence) else fence
        else:
            text.append(line)
    # A directive fence indented past where the parser looks for one (in a list item, say) is still one.
    if fenced := next((line for line in text if re.match(r"\s*(`{3,}|:{3,})\{", line)), None):
        return fenced.strip()
    prose, kept, pos = "\n".join(text), [], 0
    # The same scan as roles(): a code span is skipped, a role other than glue is left over.
    while match := ROLE_OR_CODE.search(prose, pos):
        ticks = match.group("tick") or match.group("rtick")
        close = _closing(prose, match.end(), ticks)
        if match.group("name") and match.group("name") not in ("glue", "glue:text"):
            return match.group(0)
        kept.append(prose[pos : match.start()] if match.group("tick") else prose[pos : match.end()])
        pos = match.end() if close is None else close + len(ticks)
    kept.append(prose[pos:])
    for pattern in (r"`{3,}\{|:{3,}\{", r"(?m)^\s*\([^()\s]+\)=\s*$", r"\{\{"):
        if found := re.search(pattern, "".join(kept)):
            return found.group(0)
    return None
