"""Execute the book's chapters side by side, before Sphinx reads them, and hand the results to MyST-NB.

Theory of operation
-------------------
Most of a chapter's execution time is spent waiting: experiments sleep on
timers scaled down from the article's. Executed one after another, as
MyST-NB does by itself, the book takes the sum of those waits; executed side
by side, about the longest of them. So the build first executes every
chapter here, each in its own kernel, a few at a time (longest first, so
that the slow ones do not end up last), and stores each executed notebook
in a jupyter-cache that the build has just emptied. MyST-NB then runs in
``cache`` mode and finds every chapter there: it renders, it does not
execute again.

Nothing stale can reach a page: the cache is emptied at the start of every
build, so every number on every page comes from this build's run. A chapter
that fails stops the build with its traceback, as MyST-NB's own
``raise_on_error`` would.

A chapter is read from its MyST Markdown the way MyST-NB reads it
(``read_myst_markdown_notebook``), so that the cache's hash of its code
cells matches the notebook MyST-NB looks up.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

__all__ = ["ChapterRun", "read_chapter", "execute_chapter", "execute_chapters", "fill_cache"]


@dataclass
class ChapterRun:
    """One chapter's execution: how long it took, how much CPU its kernel used, and how it ended."""

    name: str
    path: Path
    seconds: float = 0.0
    cpu_seconds: float | None = None  # the kernel process's user + system time
    error: str | None = None
    notebook: nbformat.NotebookNode | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def read_chapter(path: Path) -> nbformat.NotebookNode:
    """The chapter as the notebook MyST-NB builds from its Markdown."""
    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=path)


def _kernel_cpu_seconds(client: NotebookClient) -> float | None:
    """user + system CPU seconds of the kernel process, from /proc (None where that cannot be read)."""
    try:
        pid = client.km.provisioner.process.pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    except (AttributeError, OSError, ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def execute_chapter(path: Path, timeout: float, env: dict[str, str] | None = None) -> ChapterRun:
    """Execute one chapter in a fresh kernel, in its own folder (as MyST-NB's ``run_in_temp: false``).

    ``env`` is the kernel's environment (this process's by default).
    """
    run = ChapterRun(path.stem, path)
    notebook = read_chapter(path)
    client = NotebookClient(notebook, timeout=timeout, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    cpu: list[float | None] = [None]

    def after_cell(**_) -> None:  # the kernel is gone by the end of the notebook: read it after each cell
        cpu[0] = _kernel_cpu_seconds(client)

    client.on_cell_executed = after_cell
    started = time.monotonic()
    try:
        client.execute(**({"env": env} if env is not None else {}))
    except CellExecutionError as exc:
        run.error = str(exc)
    except Exception as exc:  # a dead kernel, a timeout: the build reports it and stops
        run.error = f"{type(exc).__name__}: {exc}"
    run.seconds = time.monotonic() - started
    run.cpu_seconds = cpu[0]
    run.notebook = _outputs_on_fresh_read(path, notebook) if run.ok else None
    return run


def _outputs_on_fresh_read(path: Path, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter as read, with the executed outputs: execution adds cell metadata (timings) that
    would change the cache's hash and hide the entry from MyST-NB."""
    fresh = read_chapter(path)
    for cell, done in zip(fresh.cells, executed.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs = done.outputs
            cell.execution_count = done.execution_count
    fresh.metadata["language_info"] = executed.metadata.get("language_info", {})
    return fresh


def execute_chapters(paths: list[Path], workers: int, timeout: float, expected: dict[str, float] | None = None,
                     on_done: Callable[[ChapterRun], None] | None = None,
                     envs: dict[str, dict[str, str]] | None = None) -> list[ChapterRun]:  # fmt: skip
    """Execute every chapter, ``workers`` at a time, the longest (by ``expected`` seconds) first.

    ``envs`` maps a chapter's name to its kernel's environment.
    """
    expected = expected or {}
    ordered = sorted(paths, key=lambda p: -expected.get(p.stem, 0.0))
    lock = threading.Lock()

    def one(path: Path) -> ChapterRun:
        run = execute_chapter(path, timeout, (envs or {}).get(path.stem))
        if on_done is not None:
            with lock:
                on_done(run)
        return run

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="chapter") as pool:
        return list(pool.map(one, ordered))


def fill_cache(cache_path: Path, runs: list[ChapterRun]) -> None:
    """Empty the jupyter-cache at ``cache_path``, then store every executed chapter in it."""
    shutil.rmtree(cache_path, ignore_errors=True)
    cache = get_cache(str(cache_path))
    for run in runs:
        if run.notebook is None:
            continue
        bundle = CacheBundleIn(run.notebook, str(run.path), data={"execution_seconds": run.seconds})
        cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
