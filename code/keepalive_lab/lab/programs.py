"""``Program``: another program on this machine, started for a ``with`` block, always stopped after it.

The book's live pages run programs that are not Python: the Go examples, and
real servers. Each prints where it listens; :meth:`Program.wait_for` reads its
output (stdout and stderr together) until a line matches, with a deadline,
without ever blocking on a silent program. On the way out the program gets
SIGTERM, then SIGKILL if it lingers, as a whole process group, and its pipe is
closed: nothing outlives the block, also after an error.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

__all__ = ["Program", "ProgramError"]


class ProgramError(RuntimeError):
    """The program exited, or said nothing expected, before the deadline."""


class Program:
    """``with Program(argv) as p: p.wait_for(r"listening on (\\S+)")``."""

    def __init__(self, argv: Sequence[str], *, cwd: Path | None = None, stop_timeout: float = 5.0) -> None:
        self.argv = [str(a) for a in argv]
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.output = ""  # everything read so far
        self.returncode: int | None = None
        self._proc: subprocess.Popen | None = None
        self._unread = b""

    def __enter__(self) -> "Program":
        self._proc = subprocess.Popen(
            self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches its children too
        )  # fmt: skip
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else 0

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """The first output line (from now on) that matches ``pattern``; ProgramError at the deadline."""
        assert self._proc is not None and self._proc.stdout is not None, "not started"
        regex = re.compile(pattern)
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                while b"\n" in self._unread:
                    line, self._unread = self._unread.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    self.output += text + "\n"
                    if match := regex.search(text):
                        return match
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ProgramError(f"{Path(self.argv[0]).name}: no line matching {pattern!r} in {timeout:g} s")
                data = os.read(fd, 65536)
                if not data:
                    raise ProgramError(f"{Path(self.argv[0]).name} exited: {self.output[-500:]}")
                self._unread += data

    def stop(self) -> int | None:
        """SIGTERM to the group, wait, SIGKILL if needed; reap and close the pipe. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return self.returncode
        try:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        self.returncode = proc.returncode
        return self.returncode

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self._proc is not None else f"exited {self.returncode}"
        return f"<Program {Path(self.argv[0]).name} {state}>"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass  # already gone
