"""A lab server in its own process, driven through the shared command line.

Theory of operation
-------------------
The Python lab server (``python -m keepalive_lab serve``) and the Go
reference program (``_build/go-reference/keepalive-go``) take the same flags
and both print ``listening on 127.0.0.1:PORT`` as their first line on stdout.
:class:`ServerProcess` starts either one from its argv, reads that line
within a deadline, and on exit stops the process with SIGTERM (both exit 0
on it), killing it if it does not stop in time. Whatever happens in between,
the process is reaped and its pipes are closed; its stderr is kept for
diagnosis.

:func:`python_server_command` and :func:`go_server_command` build the two
command lines; :func:`find_go_reference` locates the Go binary and the
versions file ``tools/go_reference.sh`` writes next to it.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = [
    "ServerProcess",
    "ServerStartError",
    "GoReference",
    "find_go_reference",
    "python_server_command",
    "go_server_command",
    "PROJECT_ROOT",
]

PROJECT_ROOT = Path(__file__).resolve().parents[3]
GO_BINARY = PROJECT_ROOT / "_build" / "go-reference" / "keepalive-go"
_FIRST_LINE = re.compile(rb"listening on 127\.0\.0\.1:(\d+)\n")


class ServerStartError(RuntimeError):
    """The server process exited, or stayed silent, before printing its address."""


def python_server_command(flags: Sequence[str]) -> list[str]:
    """``python -m keepalive_lab serve FLAGS`` with this interpreter."""
    return [sys.executable, "-m", "keepalive_lab", "serve", *flags]


def go_server_command(binary: Path | str, flags: Sequence[str]) -> list[str]:
    """The Go reference binary with the same flags."""
    return [str(binary), *flags]


@dataclass(frozen=True)
class GoReference:
    """A built Go reference program and the versions it was built with."""

    binary: Path
    go_version: str  # e.g. "go1.19.8"
    x_net_version: str  # e.g. "0.7.0"


def find_go_reference(binary: Path | str = GO_BINARY) -> GoReference | None:
    """The Go binary built by ``tools/go_reference.sh``, or None when it is not there."""
    path = Path(binary)
    if not (path.is_file() and os.access(path, os.X_OK)):
        return None
    versions = {}
    stamp = path.with_name("versions.txt")
    if stamp.is_file():
        for line in stamp.read_text().splitlines():
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return GoReference(path, versions.get("go", "unknown"), versions.get("x_net", "unknown"))


class ServerProcess:
    """Run a lab server process for a ``with`` block; ``port`` is where it listens.

    ``stop()`` (also called on exit) sends SIGTERM and returns the exit status;
    ``stderr`` holds what the process wrote there.
    """

    def __init__(self, argv: Sequence[str], start_timeout: float = 60.0, stop_timeout: float = 15.0) -> None:
        self.argv = list(argv)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.port = 0
        self.returncode: int | None = None
        self.stderr = ""
        self._proc: subprocess.Popen | None = None
        self._stderr_file = None

    def __enter__(self) -> "ServerProcess":
        self._stderr_file = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr_file
            )
            self.port = self._read_port()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else 0

    def _read_port(self) -> int:
        # A blocking readline() could wait forever on a server that never prints: read
        # with a deadline instead.
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.start_timeout
        line = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ServerStartError(f"no address line within {self.start_timeout} s: {self.argv}")
                data = os.read(fd, 1)  # one byte at a time: nothing after the line is consumed
                if not data:
                    raise ServerStartError(f"exited before listening: {self.argv}: {self._read_stderr()}")
                line += data
        match = _FIRST_LINE.fullmatch(line)
        if match is None:
            raise ServerStartError(f"unexpected first line {line!r} from {self.argv}")
        return int(match[1])

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; reap the process and close its pipes. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
            self.returncode = proc.returncode
        if self._stderr_file is not None:
            self.stderr = self._read_stderr()
            self._stderr_file.close()
            self._stderr_file = None
        return self.returncode

    def _read_stderr(self) -> str:
        if self._stderr_file is None:
            return ""
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode("utf-8", "replace")

    def __repr__(self) -> str:
        state = f"port {self.port}" if self._proc is not None else f"exited {self.returncode}"
        return f"<ServerProcess {Path(self.argv[0]).name} {state}>"
