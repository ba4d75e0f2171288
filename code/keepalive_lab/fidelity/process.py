"""A lab server in its own process, driven through the shared command line.

Theory of operation
-------------------
The Python lab server (``python -m keepalive_lab serve``) and the Go
reference program (``_build/go-reference/keepalive-go``) take the same flags
and both print ``listening on 127.0.0.1:PORT`` as their first line on stdout.
:class:`ServerProcess` starts either one from its argv (as a
:class:`~keepalive_lab.lab.programs.Program`), reads that line within a
deadline, and on exit stops the process with SIGTERM (both exit 0 on it),
killing it if it does not stop in time. Whatever happens in between, the
process is reaped and its pipes are closed; its stderr is kept for
diagnosis.

:func:`python_server_command` and :func:`go_server_command` build the two
command lines; :func:`find_go_reference` locates the Go binary and the
versions file ``tools/go_reference.sh`` writes next to it.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from keepalive_lab.lab.programs import Program, ProgramError, ProgramExited

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
_FIRST_LINE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


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


class ServerProcess(Program):
    """Run a lab server process for a ``with`` block; ``port`` is where it listens.

    ``stop()`` (also called on exit) sends SIGTERM and returns the exit status;
    ``stderr`` holds what the process wrote there. A :class:`Program` (which
    reads with a deadline, stops and reaps) whose stdout is a protocol, the
    address line, so its stderr is kept apart.
    """

    def __init__(self, argv: Sequence[str], start_timeout: float = 60.0, stop_timeout: float = 15.0) -> None:
        super().__init__(argv, stop_timeout=stop_timeout, stderr_apart=True)
        self.start_timeout = start_timeout
        self.port = 0

    def __enter__(self) -> "ServerProcess":
        super().__enter__()
        try:
            self.port = self._read_port()
        except BaseException:
            self.stop()
            raise
        return self

    def _read_port(self) -> int:
        # The address must be the first line: wait for any line (the empty pattern), then check it.
        try:
            first = self.wait_for("", self.start_timeout).string
        except ProgramExited:
            raise ServerStartError(f"exited before listening: {self.argv}: {self.stderr}") from None
        except ProgramError:
            raise ServerStartError(f"no address line within {self.start_timeout} s: {self.argv}") from None
        match = _FIRST_LINE.fullmatch(first)
        if match is None:
            raise ServerStartError(f"unexpected first line {first!r} from {self.argv}")
        return int(match[1])

    def __repr__(self) -> str:
        state = f"port {self.port}" if self.pid else f"exited {self.returncode}"
        return f"<ServerProcess {Path(self.argv[0]).name} {state}>"
