"""A chapter's prose in a plain Jupyter notebook: its Markdown, with the values this kernel glued.

In the book, MyST-NB replaces each ``{glue:text}`key:fmt``` role with the
value a cell glued, after the whole page has run. A downloaded chapter has no
MyST-NB to do that, so its converter (:mod:`keepalive_lab.bookkit.notebooks`)
turns every paragraph that shows a glued value into a hidden-input code cell
calling :func:`prose`, and every ``{glue:figure}`` into one calling
:func:`figure`. They render from :data:`keepalive_lab.bookkit.glue.GLUED`, the
values of the reader's own run, formatted exactly as MyST-NB formats them.

A page may show a value above the cell that computes it (MyST-NB resolves
glue after executing everything). A notebook runs top to bottom, so a value
not glued yet shows as "…", and the display is updated in place
(``update_display_data``) as soon as a later cell glues it; rerunning an
experiment cell updates the prose above it the same way.
"""

from __future__ import annotations

import re
from ast import literal_eval
from functools import cache
from typing import Any, Mapping

from keepalive_lab.bookkit import glue as _glue

__all__ = ["GLUE_ROLE", "PENDING", "escape", "figure", "format_plain_text", "glue_keys", "key_and_spec", "plain_text",
           "prose", "render"]

# The glue roles a converted paragraph may still hold: {glue:text}`key[:format]` and {glue}`key`.
GLUE_ROLE = re.compile(r"\{glue(?P<text>:text)?\}`(?P<body>[^`]+)`")
PENDING = "…"  # what a value not glued yet shows, until the cell that computes it runs
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>$~|])")


def plain_text(value: Any) -> str:
    """The ``text/plain`` MyST-NB stores for ``value``: IPython's formatter, as ``myst_nb.glue`` calls it."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        return shell.display_formatter.formatters["text/plain"](value)
    from IPython.lib.pretty import pretty  # outside a kernel: the same printer, with its defaults

    return pretty(value)


def format_plain_text(text: str, fmt_spec: str) -> str:
    """MyST-NB's formatting of a glued ``text/plain`` (``myst_nb.core.variables.format_plain_text``, 1.4).

    Copied rather than imported: a reader's kernel needs only this package,
    not the book's tools. ``tests/test_notebooks.py`` checks it against MyST-NB's.
    """
    try:
        value = literal_eval(text)  # removes the quotes of a string's repr
    except (SyntaxError, ValueError):
        value = text
    if fmt_spec == "":
        return str(value)
    type_char = fmt_spec[-1]
    if type_char == "s":
        value = str(value)
    elif type_char in ("b", "c", "d", "o", "x", "X"):
        value = int(value)
    elif type_char in ("e", "E", "f", "F", "g", "G", "n", "%"):
        value = float(value)
    return format(value, fmt_spec)


def escape(text: str) -> str:
    """``text`` as literal Markdown: MyST-NB pastes glued text as text, never as markup (nor as $math$)."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def key_and_spec(match: re.Match) -> tuple[str, str | None]:
    """A glue role's name and format (None for ``{glue}``, shown as its text/plain)."""
    body = match.group("body")
    if not match.group("text"):
        return body, None  # {glue}: the text/plain as it is, as MyST-NB's inline paste shows it
    key, _, spec = body.rpartition(":") if ":" in body else (body, "", "s")
    return key, spec


def glue_keys(markdown: str) -> list[str]:
    """The glued names ``markdown`` shows, in order."""
    return [key_and_spec(m)[0] for m in GLUE_ROLE.finditer(markdown)]


def render(markdown: str, texts: Mapping[str, str], pending: str | None = PENDING) -> str:
    """``markdown`` with each glue role replaced by its value, from ``texts`` (name -> ``text/plain``).

    A name missing from ``texts`` shows ``pending``; with ``pending=None``
    it is an error (the build renders with every value present).
    """

    def one(match: re.Match) -> str:
        key, spec = key_and_spec(match)
        if key not in texts:
            if pending is None:
                raise KeyError(f"nothing was glued under {key!r}")
            return pending
        return escape(texts[key] if spec is None else format_plain_text(texts[key], spec))

    return GLUE_ROLE.sub(one, markdown)


def _texts(keys: list[str]) -> dict[str, str]:
    return {key: plain_text(_glue.GLUED[key]) for key in keys if key in _glue.GLUED}


@cache
def _markdown_class() -> type:
    from IPython.display import Markdown  # IPython comes with the kernel; the package does not need it

    class Prose(Markdown):
        """Markdown whose plain-text form is the text itself (for text-only front ends)."""

        def __repr__(self) -> str:
            return self.data

    return Prose


def _markdown(text: str):
    return _markdown_class()(text)


# Each displayed paragraph or figure, by the names it shows: re-rendered when one of them is glued
# again. Keyed by the cell's text, so rerunning a cell replaces its entry instead of adding one.
_SHOWN: dict[tuple[str, str], tuple[list[str], Any]] = {}


def _show(kind: str, source: str, keys: list[str], make) -> None:
    from IPython.display import display

    handle = display(make(), display_id=True)
    if handle is not None:  # None outside a kernel, where nothing can be updated later
        _SHOWN[(kind, source)] = (keys, lambda: handle.update(make()))


def _refresh(name: str) -> None:
    for keys, update in list(_SHOWN.values()):
        if name in keys:
            update()


_glue.LISTENERS.append(_refresh)


def prose(markdown: str) -> None:
    """Display a paragraph of the chapter with this run's values (updated as later cells glue more)."""
    markdown = markdown.strip("\n")  # the converter sets the text on lines of its own
    keys = glue_keys(markdown)
    _show("prose", markdown, keys, lambda: _markdown(render(markdown, _texts(keys))))


def figure(name: str, caption: str = "") -> None:
    """Display the figure glued under ``name``, then its caption (which may show glued values)."""
    caption = caption.strip("\n")
    keys = glue_keys(caption)

    def picture():
        if name in _glue.GLUED:
            return _glue.GLUED[name]
        return _markdown(f"*{PENDING} the figure appears when the cell that draws it has run.*")

    _show("figure", name, [name], picture)
    if caption:
        _show("caption", name + "\0" + caption, keys, lambda: _markdown(render(caption, _texts(keys))))
