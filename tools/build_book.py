"""Build the book into _build/html with every chapter executed; print the time it took, per chapter too.

Warnings are errors (-W), cross-references are checked (-n), and a failing
cell fails the build (``raise_on_error`` in _config.yml). The build's own
output streams through unchanged; at the end come the total time and each
chapter's execution time, slowest first.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = re.compile(r"book/([\w-]+)\.md: Executed notebook in ([\d.]+) seconds")


def main() -> int:
    start = time.monotonic()
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
        "--builder", "html", "-W", "-n", "--keep-going",
    ]  # fmt: skip
    chapters: dict[str, float] = {}
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as build:
        for line in build.stdout:
            sys.stdout.write(line)
            if match := EXECUTED.search(line):
                chapters[match.group(1)] = float(match.group(2))
    elapsed = time.monotonic() - start
    status = "built" if build.returncode == 0 else "FAILED"
    print(f"\nbook {status} in {elapsed:.0f} s: {ROOT / '_build' / 'html' / 'index.html'}")
    for name, seconds in sorted(chapters.items(), key=lambda item: -item[1]):
        print(f"  {seconds:6.1f} s  {name}")
    return build.returncode


if __name__ == "__main__":
    sys.exit(main())
