"""Real load-balancer processes (HAProxy, nginx) started, watched and stopped by the lab.

Theory of operation
-------------------
The lab never touches the system services. Each run gets a private folder
(:func:`workspace`) that holds every config, pid file, socket, log and temp
directory, and is removed afterwards whatever happened. Each load balancer
runs in the foreground as a child of the lab (``haproxy -db -f CONFIG``,
``nginx -p PREFIX -c CONFIG -e stderr`` with ``daemon off``), in a session of
its own, so that its process group holds it and everything it forks (nginx's
workers) and nothing else.

:class:`LBProcess` starts one, reads its stdout and stderr line by line in two
threads (HAProxy's access log goes to stdout here), stamping each line with
``time.monotonic()``, waits until the kernel shows its listening socket, and
stops it by PID: SIGTERM, then SIGKILL to its process group after a timeout.
It is a context manager, and :func:`stop_all` ends every process still
running at interpreter exit, so an interrupted run leaves nothing behind.
When the lab's own process dies without cleaning up (SIGKILL, SIGTERM), the
kernel sends each load balancer SIGTERM (``setpriv --pdeathsig``, where
util-linux has it; nginx's master then stops its workers), and the next
:func:`workspace` removes folders whose owning process is gone.

Ports are chosen free at run time on 127.0.0.1 (:func:`free_port`); a port
taken between the choice and the bind makes the start fail, and the caller
retries with another.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from keepalive_lab.kernel import tcp_sockets
from keepalive_lab.lab.programs import with_parent_death_signal

__all__ = [
    "WORKSPACE_PREFIX",
    "LBStartError",
    "OutputLine",
    "LBProcess",
    "find_binary",
    "binary_version",
    "free_port",
    "workspace",
    "group_members",
    "stop_all",
]

WORKSPACE_PREFIX = "keepalive-lab-lb-"
_SEARCH = ("/usr/sbin", "/sbin", "/usr/local/sbin")
_LIVE: set["LBProcess"] = set()
_LIVE_LOCK = threading.Lock()


class LBStartError(RuntimeError):
    """A load balancer exited or did not listen in time; the message carries its output."""


@dataclass(frozen=True)
class OutputLine:
    """One line a load-balancer process wrote, stamped when the lab read it."""

    node: str
    stream: str  # "stdout" or "stderr"
    at: float
    text: str


def find_binary(name: str) -> str | None:
    """The path of ``name`` on PATH or in the sbin folders (Debian installs both LBs in /usr/sbin)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _SEARCH:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def binary_version(name: str) -> str:
    """``HAProxy version 2.6.12...`` or ``nginx version: nginx/1.22.1``; "" when not installed."""
    path = find_binary(name)
    if path is None:
        return ""
    try:
        done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0].split(" - ")[0].strip() if text else ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether some socket listens on 127.0.0.1:``port`` (from ``/proc/net/tcp``)."""
    return any(s.state == "LISTEN" and s.local == f"127.0.0.1:{port}" for s in tcp_sockets(port))


_OWNER = "owner.pid"


def _remove_orphaned_workspaces() -> None:
    """Remove workspaces left by a lab process that died without cleaning up (its pid is gone)."""
    for folder in Path(tempfile.gettempdir()).glob(WORKSPACE_PREFIX + "*"):
        try:
            owner = int((folder / _OWNER).read_text().strip())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours to judge: unreadable, another user's, or being created right now


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A private folder for one run's configs, logs and pid files; removed on the way out."""
    _remove_orphaned_workspaces()
    path = Path(tempfile.mkdtemp(prefix=WORKSPACE_PREFIX))
    try:
        (path / _OWNER).write_text(f"{os.getpid()}\n")
        # nginx's workers drop root privileges; they must be able to reach their temp folders.
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class LBProcess:
    """One load-balancer process in the foreground, its output captured; stop by PID."""

    def __init__(self, node: str, argv: Sequence[str], *, cwd: Path, stop_timeout: float = 3.0) -> None:
        self.node = node
        self.argv = list(argv)
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.output: list[OutputLine] = []
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._readers: list[threading.Thread] = []

    # -- life cycle --------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> "LBProcess":
        self._proc = subprocess.Popen(
            with_parent_death_signal(self.argv),  # setpriv execs the LB in place: same pid
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: itself and its workers, nothing else
        )
        with _LIVE_LOCK:
            _LIVE.add(self)
        for stream, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            t = threading.Thread(target=self._read, args=(stream, pipe), name=f"lb-{self.node}-{stream}", daemon=True)
            t.start()
            self._readers.append(t)
        return self

    def wait_listening(self, port: int, timeout: float = 5.0) -> None:
        """Return once 127.0.0.1:``port`` listens; raise :class:`LBStartError` if the process exits first."""
        deadline = time.monotonic() + timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._join_readers(1.0)
                raise LBStartError(f"{self.node} exited with status {self._proc.returncode}:\n{self.text()}")
            if listening(port):
                return
            time.sleep(0.005)  # polling the kernel's socket table; bounded by the deadline
        raise LBStartError(f"{self.node} did not listen on 127.0.0.1:{port} within {timeout} s:\n{self.text()}")

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def group_alive(self) -> bool:
        """Whether any process of its group (nginx workers included) is still running."""
        return self._proc is not None and bool(group_members(self._proc.pid))

    def stop(self) -> int | None:
        """SIGTERM by PID, SIGKILL to the process group after ``stop_timeout``; returns the exit status."""
        proc = self._proc
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self._kill_group()
                    proc.wait(self.stop_timeout)
            # The leader is gone; workers it left (it should have taken them with it) go too.
            if self.group_alive():
                self._kill_group()
                self._wait_group_gone(self.stop_timeout)
        finally:
            self._join_readers(self.stop_timeout)
            with _LIVE_LOCK:
                _LIVE.discard(self)
        return proc.returncode

    def _kill_group(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def _wait_group_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # bounded wait for the kernel to reap the killed workers

    def __enter__(self) -> "LBProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- output --------------------------------------------------------------------

    def _read(self, stream: str, pipe) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = OutputLine(self.node, stream, time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n"))
                with self._lock:
                    self.output.append(line)

    def _join_readers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self._readers:
            t.join(max(0.0, deadline - time.monotonic()))

    def lines(self, stream: str | None = None) -> list[OutputLine]:
        with self._lock:
            return [line for line in self.output if stream is None or line.stream == stream]

    def text(self) -> str:
        return "\n".join(f"[{line.stream}] {line.text}" for line in self.lines())

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"<LBProcess {self.node} pid={self.pid} {state}>"


def group_members(pgid: int) -> list[int]:
    """Live processes (zombies excluded) of process group ``pgid``, read from ``/proc``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its closing parenthesis.
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def stop_all() -> None:
    """Stop every load balancer this interpreter started and has not stopped yet."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        with contextlib.suppress(Exception):
            proc.stop()


atexit.register(stop_all)
