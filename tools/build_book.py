"""Build the book into _build/html with every chapter executed; print the time it took, per chapter too.

The chapters are executed first, side by side (keepalive_lab.bookkit.execution):
most of their time is spent waiting on scaled-down timers, so running them
together costs about the longest one instead of the sum. Each chapter's
notebook goes into a jupyter-cache emptied at the start of this build, and
Jupyter Book then renders from it (MyST-NB's ``cache`` mode) without
executing again: every number on every page comes from this build.

Warnings are errors (-W), cross-references are checked (-n), and a failing
cell fails the build. At the end come the total time and, for each chapter,
its execution time, its timer floor (the seconds of timeouts its experiments
must wait out, whatever the machine) and its kernel's CPU time.

``BOOK_WORKERS`` sets how many chapters execute at once (default 3; 1 runs
them one after another).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
CACHE = BUILD / ".jupyter_cache"  # Jupyter Book's default execution cache
FLOORS = BUILD / "floors"
TIMES = BUILD / "chapter-times.json"  # last build's times: the longest chapters start first
BUILD_CONFIG = BUILD / "build-config.yml"
DEFAULT_WORKERS = 3  # on 2 cores: 82-85 s; with 4 (72-87 s) a timing-sensitive claim of the real-LB or grid runs failed in 4 of 7 builds
CELL_TIMEOUT = 180  # seconds per cell, as _config.yml says
CACHE_MISS = re.compile(r"Executing notebook using")


def chapters() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]
    return [ROOT / f"{name}.md" for name in files]


def floor_seconds(log: Path) -> float:
    """The length of the union of the [start, start + floor] intervals the chapter's runs logged."""
    try:
        spans = sorted((float(a), float(a) + float(b)) for a, b, *_ in (line.split() for line in log.read_text().splitlines()))
    except (OSError, ValueError):
        return 0.0
    total, end = 0.0, float("-inf")
    for start, stop in spans:
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def build_config() -> Path:
    """_config.yml with execution switched to the cache this build has just filled."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "cache"
    config["execute"]["cache"] = str(CACHE)
    # The copy lives in _build/, and Jupyter Book finds local extensions relative to the config file.
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    config["sphinx"]["local_extensions"] = {name: str(ROOT / folder) for name, folder in extensions.items()}
    BUILD.mkdir(exist_ok=True)
    BUILD_CONFIG.write_text(yaml.safe_dump(config, sort_keys=False))
    return BUILD_CONFIG


def execute(paths: list[Path], workers: int) -> list:
    from keepalive_lab.bookkit.execution import execute_chapters, fill_cache

    FLOORS.mkdir(parents=True, exist_ok=True)
    for path in paths:
        (FLOORS / f"{path.stem}.log").unlink(missing_ok=True)
    expected = json.loads(TIMES.read_text()) if TIMES.exists() else {}

    def done(run) -> None:
        state = "executed" if run.ok else "FAILED"
        print(f"{state} {run.name} in {run.seconds:.1f} s", flush=True)

    envs = {path.stem: {**os.environ, "KEEPALIVE_FLOOR_LOG": str(FLOORS / f"{path.stem}.log")} for path in paths}
    runs = execute_chapters(paths, workers, CELL_TIMEOUT, expected, on_done=done, envs=envs)
    fill_cache(CACHE, runs)
    return runs


def render() -> tuple[int, int]:
    """Jupyter Book from the cache; returns its exit status and how many chapters it had to execute itself."""
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--config", str(build_config()),
        "--builder", "html", "-W", "-n", "--keep-going",
    ]  # fmt: skip
    misses = 0
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as build:
        for line in build.stdout:
            sys.stdout.write(line)
            misses += bool(CACHE_MISS.search(line))
    return build.returncode, misses


def main() -> int:
    start = time.monotonic()
    setting = os.environ.get("BOOK_WORKERS") or str(DEFAULT_WORKERS)
    if not (setting.isascii() and setting.isdigit() and int(setting) >= 1):
        print(f"build_book: BOOK_WORKERS must be a whole number of at least 1, not {setting!r}", file=sys.stderr)
        return 2
    workers = int(setting)
    paths = chapters()
    runs = execute(paths, workers)
    executed = time.monotonic() - start
    failed = [run for run in runs if not run.ok]
    for run in failed:
        print(f"\n{run.name} failed:\n{run.error}", file=sys.stderr)
    status = 1 if failed else 0
    misses = 0
    if not failed:
        status, misses = render()
    elapsed = time.monotonic() - start
    word = "built" if status == 0 else "FAILED"
    print(f"\nbook {word} in {elapsed:.0f} s ({executed:.0f} s executing {len(runs)} chapters, {workers} at a time; "
          f"{elapsed - executed:.0f} s rendering): {BUILD / 'html' / 'index.html'}")  # fmt: skip
    if misses:
        print(f"  note: {misses} chapter(s) missed the cache and were executed again while rendering")
    print(f"  {'executed':>9}  {'floor':>6}  {'cpu':>6}  chapter")
    for run in sorted(runs, key=lambda r: -r.seconds):
        cpu = f"{run.cpu_seconds:5.1f} s" if run.cpu_seconds is not None else "     -"
        print(f"  {run.seconds:7.1f} s  {floor_seconds(FLOORS / f'{run.name}.log'):4.1f} s  {cpu}  {run.name}")
    if status == 0:
        TIMES.write_text(json.dumps({run.name: round(run.seconds, 1) for run in runs}, indent=1))
    return status


if __name__ == "__main__":
    sys.exit(main())
