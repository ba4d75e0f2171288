"""The block structure of a MyST chapter, and the book's index of labels, figures and glossary terms.

:func:`parse` splits lines into directives (``` ```{name} ``` or ``:::{name}``
fences, nested by fence length as MyST nests them), plain fenced code, and
text. :func:`index_book` reads every chapter once, so that a ``{ref}`` from
one chapter to another can name and link the other chapter's notebook, and a
``{numref}`` knows where its figure is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["CODE_OPEN", "BookIndex", "ConversionError", "Directive", "Lines", "Target", "closes", "index_book",
           "parse", "split_target", "term_key"]  # fmt: skip

DIRECTIVE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>[^}\s]+)\}\s*(?P<arg>.*?)\s*$")
CODE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`{]*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*?))?\s*$")
TARGET = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
HEADING = re.compile(r"^ {0,3}(?P<marks>#{1,6})\s+(?P<title>.*?)\s*#*\s*$")


class ConversionError(ValueError):
    """MyST markup that has no plain-Markdown translation (the message names the chapter and line)."""


@dataclass
class Lines:
    lines: list[tuple[int, str]]  # (line number in the chapter's file, text)
    code: bool = False  # a plain fenced code block, copied as it is


@dataclass
class Directive:
    name: str
    argument: str
    options: dict[str, str]
    body: list[tuple[int, str]]
    line: int

    @property
    def body_line(self) -> int:
        return self.body[0][0] if self.body else self.line


def closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a fence opened with ``fence`` (same character, at least as long)."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def term_key(term: str) -> str:
    """How Sphinx matches a glossary term: its text, whatever the case (and without code marks)."""
    return term.replace("`", "").strip().lower()


def split_target(line: str) -> str | None:
    """The label of a ``(label)=`` target line, or None."""
    match = TARGET.match(line)
    return match.group("label") if match else None


def parse(lines: list[tuple[int, str]], error: Callable[[int, str], Exception]) -> list[Lines | Directive]:
    items: list[Lines | Directive] = []
    i = 0
    while i < len(lines):
        no, text = lines[i]
        opened = DIRECTIVE_OPEN.match(text) or CODE_OPEN.match(text)
        if not opened:
            if not items or not isinstance(items[-1], Lines) or items[-1].code:
                items.append(Lines([]))
            items[-1].lines.append((no, text))
            i += 1
            continue
        fence = opened.group("fence")
        end = next((j for j in range(i + 1, len(lines)) if closes(lines[j][1], fence)), None)
        if "name" not in opened.groupdict():  # plain code: to its closing fence, or to the end as CommonMark
            stop = len(lines) if end is None else end + 1
            items.append(Lines(lines[i:stop], code=True))
            i = stop
            continue
        if end is None:
            raise error(no, f"the directive {{{opened.group('name')}}} is never closed")
        items.append(_directive(opened, lines[i + 1 : end], no, error))
        i = end + 1
    return items


def _directive(opened: re.Match, body: list[tuple[int, str]], line: int, error) -> Directive:
    options: dict[str, str] = {}
    if body and body[0][1].strip() == "---":
        raise error(line, "YAML options of a directive are not supported here; use :key: value lines")
    while body and (match := OPTION.match(body[0][1])):
        options[match.group("key")] = match.group("value") or ""
        body = body[1:]
    if body and not body[0][1].strip():
        body = body[1:]
    return Directive(opened.group("name"), opened.group("arg"), options, body, line)


@dataclass
class Target:
    chapter: str
    kind: str  # "section", "figure", "exercise" or "target"
    title: str | None
    line: int


@dataclass
class BookIndex:
    labels: dict[str, Target] = field(default_factory=dict)
    chapters: dict[str, Target] = field(default_factory=dict)  # each chapter's first heading
    terms: set[str] = field(default_factory=set)  # glossary terms, lower case

    def chapter_target(self, name: str) -> Target | None:
        return self.chapters.get(name)


def index_book(chapters: dict[str, str]) -> BookIndex:
    """Every label, figure, exercise and glossary term of the chapters (name -> MyST text)."""
    index = BookIndex()
    for chapter, text in chapters.items():
        lines = list(enumerate(text.splitlines(), start=1))
        if lines and lines[0][1].strip() == "---":  # front matter
            end = next((j for j in range(1, len(lines)) if lines[j][1].strip() == "---"), 0)
            lines = lines[end + 1 :]
        _index(chapter, lines, index)
    return index


def _index(chapter: str, lines: list[tuple[int, str]], index: BookIndex) -> None:
    def never(line: int, message: str) -> Exception:
        return ConversionError(f"{chapter}.md:{line}: {message}")

    pending: list[str] = []  # labels waiting for the heading they name
    for item in parse(lines, never):
        if isinstance(item, Directive):
            pending = []
            if item.name == "glue:figure" and "name" in item.options:
                index.labels[item.options["name"]] = Target(chapter, "figure", None, item.line)
            elif item.name == "exercise" and "label" in item.options:
                index.labels[item.options["label"]] = Target(chapter, "exercise", item.argument, item.line)
            elif item.name == "glossary":
                index.terms |= {term_key(t) for _, t in item.body if t.strip() and t[0] not in " \t"}
            elif item.name != "code-cell":
                _index(chapter, item.body, index)  # tab-sets, admonitions: labels may sit inside
            continue
        for no, text in [] if item.code else item.lines:
            if label := split_target(text):
                pending.append(label)
                index.labels[label] = Target(chapter, "target", None, no)
            elif heading := HEADING.match(text):
                title = heading.group("title")
                for label in pending:
                    index.labels[label] = Target(chapter, "section", title, no)
                pending = []
                index.chapters.setdefault(chapter, Target(chapter, "section", title, no))
            elif text.strip():
                pending = []
