"""Build the book into _build/html with every chapter executed; print the time it took.

Warnings are errors (-W), cross-references are checked (-n), and a failing
cell fails the build (``raise_on_error`` in _config.yml).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    start = time.monotonic()
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
        "--builder", "html", "-W", "-n", "--keep-going",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT)
    elapsed = time.monotonic() - start
    status = "built" if result.returncode == 0 else "FAILED"
    print(f"book {status} in {elapsed:.0f} s: {ROOT / '_build' / 'html' / 'index.html'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
