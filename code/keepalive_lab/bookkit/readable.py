"""Table cells in words a reader expects, not in the way Python prints its values.

The experiments' evidence strings and tables hold Python values: ``True``,
``['LB2']``, ``{'502': 2}``, ``30.0``. On a page these read as program
output. :func:`cell` turns one value into text (``yes``/``no``, ``LB2``,
``502: 2``, ``30``), and :func:`text` does the same for the Python literals
embedded in a sentence. Only what parses as a Python literal changes, so
prose, HTTP heads and code are left as they are.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

__all__ = ["cell", "text", "MISSING"]

MISSING = "–"  # a dash for a value that was not measured; a page that shows one says why
_BOOLEAN = re.compile(r"(?<![\w'\"])(True|False)(?![\w'\"])")


def cell(value: Any) -> str:
    """One value as a reader reads it."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar
        return cell(value.item())
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        return f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:.2f}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_item(v) for v in value]
        nested = any(isinstance(v, (list, tuple, dict)) for v in value)
        return ("; " if nested else ", ").join(items) if items else "none"
    if isinstance(value, dict):
        return ", ".join(f"{_item(k)}: {_item(v)}" for k, v in value.items()) if value else "none"
    return str(value)  # a string as it is: an empty cell stays empty


def _item(value: Any) -> str:
    """A value inside a list or dict: an empty string is shown, or the list would lose an item."""
    return '""' if value == "" else cell(value)


def text(sentence: str) -> str:
    """``sentence`` with every embedded Python list, dict or boolean written as :func:`cell` writes it."""
    out, i = [], 0
    while i < len(sentence):
        if sentence[i] in "[{" and (i == 0 or sentence[i - 1] in " =:(,"):  # a value, not part of a word or path
            end = _closing(sentence, i)
            if end is not None:
                literal = _literal(sentence[i : end + 1])
                if literal is not None:
                    out.append(cell(literal[0]))
                    i = end + 1
                    continue
        out.append(sentence[i])
        i += 1
    return _BOOLEAN.sub(lambda m: "yes" if m[1] == "True" else "no", "".join(out))


def _closing(s: str, start: int) -> int | None:
    """The index of the bracket that closes the one at ``start``, skipping quoted text; None if unbalanced."""
    depth, quote, j = 0, "", start
    while j < len(s):
        ch = s[j]
        if quote:
            if ch == "\\":
                j += 1  # the escaped character cannot end the quote
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


def _literal(source: str) -> tuple[Any] | None:
    """``(value,)`` when ``source`` is a Python list or dict literal, else None."""
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return (value,) if isinstance(value, (list, dict)) else None
