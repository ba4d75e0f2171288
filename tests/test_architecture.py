"""The package's shape: imports point down the floors, no import cycles, no module over 400 lines.

The floors are declared once, in pyproject.toml's import-linter contract; this file runs it, so
a change that makes ``goserver`` import from ``lab`` fails the tests.
"""

from __future__ import annotations

from pathlib import Path

import grimp
from importlinter.cli import lint_imports

PACKAGE = Path(__file__).resolve().parents[1] / "code" / "keepalive_lab"
ROOT = Path(__file__).resolve().parents[1]


def test_every_import_points_down_the_floors(capsys):
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert status == 0, capsys.readouterr().out  # the report names each import that points up


def _cycle_from(graph, start: str) -> list[str] | None:
    """A path of direct imports from ``start`` back to itself, if there is one (depth-first)."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        module, path = stack.pop()
        for imported in graph.find_modules_directly_imported_by(module):
            if imported == start:
                return path + [start]
            if imported not in seen and imported.startswith("keepalive_lab"):
                seen.add(imported)
                stack.append((imported, path + [imported]))
    return None


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph("keepalive_lab")
    cycles = [c for m in sorted(graph.modules) if (c := _cycle_from(graph, m))]
    # A package's __init__ that re-exports its own modules is not a cycle of code.
    cycles = [c for c in cycles if not any(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert not cycles, cycles[0]


def test_no_module_is_longer_than_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
