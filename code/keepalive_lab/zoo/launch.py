"""Start a zoo server on a free loopback port for a ``with`` block, and always stop it.

Theory of operation
-------------------
:func:`launch` gives each server a private folder
(:func:`keepalive_lab.reallb.process.workspace`) for its configuration file,
pid file, page to serve and temporary files; the folder is removed on the way
out. Each process runs in the foreground in a process group of its own
(:class:`~keepalive_lab.reallb.process.LBProcess`): Apache's and nginx's
children, gunicorn's worker and HAProxy's backend are stopped with it, by PID
and then by process group, also when the block raises. Nothing binds
anything but 127.0.0.1, and the system services of the packages are never
used.

A server is ready when the kernel shows its listening socket *and* it has
answered one request (with ``Connection: close``): gunicorn's and Apache's
workers start after the socket is bound, and the probe's first request must
not wait for them. A port taken between the choice and the bind makes the
start fail; it is retried on another port, three times at most.

:func:`availability` says what is missing to run a server here (``None``:
nothing), :func:`version` what version runs.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from keepalive_lab.reallb.process import LBProcess, LBStartError, find_binary, free_port, workspace
from keepalive_lab.zoo import configs
from keepalive_lab.zoo.servers import ZooServer, ZooTimes

__all__ = ["Running", "ZooStartError", "launch", "availability", "version", "GO_PROGRAMS", "ROOT"]

ROOT = Path(__file__).resolve().parents[3]
NODE_SCRIPT = Path(__file__).with_name("server.js")
GO_PROGRAMS = ("incident", "no-keepalives", "work-semaphore", "no-limit")
_PAGE = "ok\n"
_ATTEMPTS = 3


class ZooStartError(RuntimeError):
    """A server did not start (the message carries its output)."""


@dataclass
class Running:
    """A started server: where it listens, its processes, and the file or command that set it up."""

    server: ZooServer
    port: int
    folder: Path
    config: str
    processes: list[LBProcess] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def output(self) -> str:
        return "\n".join(f"--- {p.node}\n{p.text()}" for p in self.processes)


# -- what is installed -------------------------------------------------------------------------------


_GO_LOCK = threading.Lock()


@functools.cache
def _go_build() -> str | None:
    """Build the zoo's Go programs once (tools/go_build.sh); None when built, else why not."""
    try:
        done = subprocess.run([str(ROOT / "tools" / "go_build.sh"), *GO_PROGRAMS], cwd=ROOT, capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"tools/go_build.sh did not run: {exc}"
    if done.returncode == 0:
        return None
    said = done.stderr.strip().splitlines()
    prefix = "no Go toolchain" if done.returncode == 3 else f"tools/go_build.sh failed ({done.returncode})"
    return f"{prefix}: {said[-1] if said else ''}".strip(": ")


def _go_missing() -> str | None:
    with _GO_LOCK:  # several runner threads may ask at once; build once
        return _go_build()


def availability(server: ZooServer) -> str | None:
    """What is missing to run ``server`` here, or None when it can run."""
    kind = server.kind
    if kind == "go":
        return _go_missing()
    if kind in ("uvicorn", "gunicorn"):
        return None if importlib.util.find_spec(kind) else f"the Python package {kind} (make install)"
    binary = {"apache": "apache2", "nginx": "nginx", "haproxy": "haproxy", "node": "node"}.get(kind)
    if binary is not None and find_binary(binary) is None:
        package = {"apache2": "apache2", "node": "nodejs"}.get(binary, binary)
        return f"Debian's {package} (sudo tools/system_packages.sh)"
    if kind == "apache" and not (configs.APACHE_MODULES / "mod_mpm_event.so").exists():
        return f"Apache's modules in {configs.APACHE_MODULES} (Debian's apache2-bin)"
    return None


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else ""


@functools.cache
def _version(kind: str) -> str:
    if kind == "go":
        return _first_line([str(ROOT / ".venv" / "bin" / "go"), "env", "GOVERSION"])
    if kind == "lab":
        import keepalive_lab

        return f"keepalive-lab {keepalive_lab.__version__}"
    if kind in ("uvicorn", "gunicorn"):
        try:
            return f"{kind} {importlib.metadata.version(kind)}"
        except importlib.metadata.PackageNotFoundError:
            return ""
    binary = {"apache": "apache2", "nginx": "nginx", "haproxy": "haproxy", "node": "node"}[kind]
    path = find_binary(binary)
    if path is None:
        return ""
    if kind == "node":
        text = _first_line([path, "--version"])
        return f"Node.js {text}" if text else ""
    text = _first_line([path, "-v"])
    text = text.replace("Server version: ", "").replace("nginx version: ", "").replace("HAProxy version", "HAProxy")
    return re.sub(r" \d{4}/\d\d/\d\d.*$", "", text)  # HAProxy's build date goes


def version(server: ZooServer) -> str:
    """The version that runs ``server`` here ("" when it is not installed)."""
    return "" if availability(server) else _version(server.kind)


# -- the command lines -------------------------------------------------------------------------------


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _commands(s: ZooServer, port: int, folder: Path, times: ZooTimes) -> tuple[list[tuple[str, list[str], int]], str]:
    """The processes to start, in order, as (name, argv, port it listens on), and the text the page shows."""
    o, idle = s.options, None if s.defaults else times.idle
    kind = s.kind
    if kind == "go":
        argv = [str(ROOT / "_build" / "go-fixes" / o["program"]), "-addr", f"127.0.0.1:{port}"]
        return [("go", argv, port)], f"code/go-fixes/{o['program']}: {s.describe(times)}"
    if kind == "lab":
        argv = _python("-m", "keepalive_lab", "serve", "--addr", f"127.0.0.1:{port}", "--limit", str(o["limit"]),
                       "--read-timeout", f"{times.idle}s")  # fmt: skip
    elif kind == "uvicorn":
        argv = _python("-m", "uvicorn", "keepalive_lab.zoo.apps:app", "--host", "127.0.0.1", "--port", str(port),
                       "--no-access-log")  # fmt: skip
        if o["limit"]:
            argv += ["--limit-concurrency", str(o["limit"])]
        if idle is not None:
            argv += ["--timeout-keep-alive", str(idle)]
    elif kind == "gunicorn":
        argv = _python("-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket",
                       "--worker-tmp-dir", str(folder))  # fmt: skip
        if o["worker_class"] != "sync":
            argv += ["--worker-class", o["worker_class"], "--threads", str(o["threads"])]
        if o["worker_connections"]:
            argv += ["--worker-connections", str(o["worker_connections"])]
        if idle is not None and o["worker_class"] != "sync":
            argv += ["--keep-alive", str(idle)]
        argv.append("keepalive_lab.zoo.apps:wsgi")
    elif kind == "node":
        argv = [find_binary("node") or "node", str(NODE_SCRIPT), str(port), str(o["max_connections"]),
                str(0 if idle is None else idle * 1000)]  # fmt: skip
    elif kind in ("apache", "nginx"):
        (folder / "docs").mkdir()
        (folder / "docs" / "index.html").write_text(_PAGE)
        conf = folder / f"{kind}.conf"
        if kind == "apache":
            conf.write_text(configs.apache(mpm=o["mpm"], port=port, folder=folder, idle=idle,
                                           as_root=os.geteuid() == 0, async_factor=o["async_factor"]))
            argv = [find_binary("apache2") or "apache2", "-DFOREGROUND", "-f", str(conf)]
        else:
            conf.write_text(configs.nginx(port=port, folder=folder, idle=idle, limit_conn=o["limit_conn"],
                                          worker_connections=o["worker_connections"]))  # fmt: skip
            argv = [find_binary("nginx") or "nginx", "-p", str(folder), "-c", str(conf), "-e", "stderr"]
        return [(kind, argv, port)], conf.read_text()
    elif kind == "haproxy":
        backend = free_port()
        conf = folder / "haproxy.cfg"
        conf.write_text(configs.haproxy(port=port, backend_port=backend, folder=folder, idle=idle,
                                        frontend_maxconn=o["frontend_maxconn"], server_maxconn=o["server_maxconn"]))
        backend_argv = _python("-m", "keepalive_lab.zoo.apps", str(backend))
        argv = [find_binary("haproxy") or "haproxy", "-db", "-f", str(conf)]
        return [("backend", backend_argv, backend), ("haproxy", argv, port)], conf.read_text()
    else:
        raise ValueError(f"no launcher for {kind!r}")
    shown = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv))
    return [(kind, argv, port)], shown


def _answers(port: int, deadline: float, alive=lambda: True) -> bool:
    """Whether one request with ``Connection: close`` gets a status line before ``deadline`` (or ``alive()``
    turns false: the server exited)."""
    while time.monotonic() < deadline and alive():
        try:
            # At most 2 s per try, so that a server that exits meanwhile is noticed.
            wait = min(2.0, max(0.1, deadline - time.monotonic()))
            with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(16).startswith(b"HTTP/1."):
                    return True
        except OSError:
            pass  # not ready yet (reset, refused) or timed out: try again while the deadline allows
        time.sleep(0.05)
    return False


def _start(s: ZooServer, folder: Path, times: ZooTimes, stack: contextlib.ExitStack, start_timeout: float) -> Running:
    port = free_port()
    commands, shown = _commands(s, port, folder, times)
    running = Running(s, port, folder, shown)
    for name, argv, listen_port in commands:
        process = LBProcess(f"{s.key}-{name}", argv, cwd=folder)
        stack.callback(process.stop)  # registered before it starts: a failed start is stopped too
        running.processes.append(process.start())
        process.wait_listening(listen_port, start_timeout)
    alive = lambda: all(p.alive() for p in running.processes)  # noqa: E731
    if not _answers(port, time.monotonic() + start_timeout, alive):
        if not alive():  # e.g. another program took the port and answered the listening check for it
            raise LBStartError(f"{s.key} exited before it answered:\n{running.output()}")
        raise ZooStartError(f"{s.key} listens on {port} but did not answer within {start_timeout} s:\n"
                            f"{running.output()}")  # fmt: skip
    return running


@contextlib.contextmanager
def launch(s: ZooServer, times: ZooTimes = ZooTimes(), *, start_timeout: float = 15.0) -> Iterator[Running]:
    """Start ``s`` on a free 127.0.0.1 port, yield it ready, and stop every process it started."""
    missing = availability(s)
    if missing:
        raise ZooStartError(f"{s.key} cannot run here: missing {missing}")
    with workspace() as folder:
        for attempt in range(1, _ATTEMPTS + 1):
            with contextlib.ExitStack() as stack:  # stops this attempt's processes, whatever happens
                try:
                    running = _start(s, folder, times, stack, start_timeout)
                except LBStartError as exc:
                    if "in use" not in str(exc).lower() or attempt == _ATTEMPTS:
                        raise ZooStartError(str(exc)) from None
                    running = None  # the port was taken meanwhile: stop, clear, try another one
                if running is not None:
                    yield running
                    return
            _clear(folder)
        raise AssertionError("unreachable: the last attempt raises or returns")


def _clear(folder: Path) -> None:
    """Empty the workspace for another attempt (keeps the owner file the workspace needs)."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.name == "owner.pid" and path.parent == folder:
            continue
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
