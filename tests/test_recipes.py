"""The by-hand recipe the appendix prints works as the book says: a second client times out while
``ss -lnt`` shows its connection in the accept queue (Recv-Q 1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "code" / "recipes" / "starve-by-hand.sh"


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("ss")), reason="the recipe needs curl and ss")
def test_the_by_hand_recipe_starves_the_second_client():
    done = subprocess.run(
        ["bash", str(RECIPE)], cwd=ROOT, env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=60, start_new_session=True,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "first client: HTTP/1.1 200 OK" in out
    (listen,) = [line.split() for line in out.splitlines() if line.startswith("LISTEN")]
    assert listen[1] == "1", out  # Recv-Q: the second client's connection, never accepted
    assert "second client: gave up (curl exit 28)" in out  # curl's "operation timed out"
    # The script's own server is gone: nothing is left in its session.
    left = subprocess.run(["pgrep", "-f", "keepalive_lab serve --limit 1 --read-timeout 30s --latency 100ms"],
                          capture_output=True, text=True).stdout.split()  # fmt: skip
    assert not left, f"the recipe left its server running: {left}"
