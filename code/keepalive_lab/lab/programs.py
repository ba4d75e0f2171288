"""``Program``: another program on this machine, started for a ``with`` block, always stopped after it.

The book's live pages run programs that are not Python: the Go examples, and
real servers. Each prints where it listens; :meth:`Program.wait_for` reads its
output (stdout and stderr together) until a line matches, with a deadline,
without ever blocking on a silent program. On the way out the program gets
SIGTERM, then SIGKILL if it lingers, as a whole process group, and its pipe is
closed: nothing outlives the block, also after an error. A program whose
stdout is a protocol (the fidelity servers' first line) keeps its stderr apart
(``stderr_apart=True``): :attr:`Program.stderr` then holds it, for diagnosis.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

__all__ = ["Program", "ProgramError", "ProgramExited", "with_parent_death_signal"]


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """``argv`` run so that the kernel sends it SIGTERM if the lab's thread that started it dies.

    A lab killed by SIGKILL (a timeout, an impatient reader) cannot run its
    clean-up; without this its programs would outlive it as orphans.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else list(argv)


class ProgramError(RuntimeError):
    """The program exited, or said nothing expected, before the deadline."""


class ProgramExited(ProgramError):
    """The program's output ended (it exited) before the line waited for."""


class Program:
    """``with Program(argv) as p: p.wait_for(r"listening on (\\S+)")``."""

    def __init__(
        self, argv: Sequence[str], *, cwd: Path | None = None, stop_timeout: float = 5.0, stderr_apart: bool = False
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.stderr_apart = stderr_apart
        self.output = ""  # everything read so far (stdout only, with stderr_apart)
        self.returncode: int | None = None
        self._proc: subprocess.Popen | None = None
        self._unread = b""
        self._stderr_file = None  # with stderr_apart: a file, not a pipe, so a chatty program never blocks on it
        self._stderr = ""

    def __enter__(self) -> "Program":
        if self.stderr_apart:
            self._stderr_file = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                with_parent_death_signal(self.argv), cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=self._stderr_file if self.stderr_apart else subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its children too
            )  # fmt: skip
        except BaseException:
            self.stop()  # closes the stderr file
            raise
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
                    said = self.stderr if self.stderr_apart else self.output
                    raise ProgramExited(f"{Path(self.argv[0]).name} exited: {said[-500:]}")
                self._unread += data

    @property
    def stderr(self) -> str:
        """With ``stderr_apart``: what the program wrote on stderr so far (all of it once stopped)."""
        if self._stderr_file is None:
            return self._stderr
        fd = self._stderr_file.fileno()
        # pread leaves the file offset alone: the program, still running, writes at that shared offset.
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")

    def stop(self) -> int | None:
        """SIGTERM to the group, wait, SIGKILL if needed; reap and close the pipe. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
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
        if self._stderr_file is not None:  # after the reaping: the program has written all it will
            self._stderr = self.stderr
            self._stderr_file.close()
            self._stderr_file = None
        return self.returncode

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self._proc is not None else f"exited {self.returncode}"
        return f"<Program {Path(self.argv[0]).name} {state}>"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass  # already gone
