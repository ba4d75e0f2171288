"""``python -m keepalive_lab doctor``: can this machine run the lab, and what would add what is missing?

An instructor runs it before class. Each check prints one line, ``ok``,
``missing`` (not installed) or ``problem`` (there, but not as the lab needs
it), with what it found and, when not ok, the exact command that adds it.

The *core* checks are what every experiment needs: Linux, Python 3.11+, the
package and its dependencies, loopback TCP, free ports on 127.0.0.1, and an
accept queue readable both through ``TCP_INFO`` and ``/proc/net/tcp``. The
others are for parts of the book that fall back to recordings without them
(HAProxy, nginx, Go, the Go reference), for the by-hand recipe (``ss``,
``curl``) and for ``make pdf`` (Chromium). Exit status: 0 when the core
passes, whatever the optional checks say; 1 when it does not; 2 on a bad
command line. ``--json`` adds one JSON object as the last line.

Every check is bounded: the socket checks (:mod:`keepalive_lab.lab.selfcheck`)
have deadlines of a few seconds and close what they open, and every program
asked for its version gets a timeout. A check that raises is reported as a
problem; it does not stop the others.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from keepalive_lab import kernel
from keepalive_lab.cli.args import EXIT_FAILED, EXIT_OK
from keepalive_lab.fidelity.process import PROJECT_ROOT, find_go_reference
from keepalive_lab.lab import selfcheck
from keepalive_lab.reallb.process import binary_version, find_binary

__all__ = ["Check", "add_doctor", "doctor_command", "run_checks", "CORE"]

OK, MISSING, PROBLEM = "ok", "missing", "problem"
CORE = ("linux", "python", "package", "loopback", "accept-queue", "free-ports")
GO_VERSION = "go1.23.4"  # the release the incident ran; tools/go_build.sh insists on it too
CHROMIUM_NAMES = ("chromium", "chromium-browser")  # Debian's name, and Ubuntu's older one
PROGRAM_TIMEOUT = 5.0  # seconds for one `prog --version`; a hung program must not hang the doctor
# The lab's own modules, one per floor, and the third-party packages the lab imports.
_MODULES = ("keepalive_lab.goserver.server", "keepalive_lab.lbmodel.fleet", "keepalive_lab.lab.launch",
            "keepalive_lab.experiments", "keepalive_lab.reallb.runner", "keepalive_lab.bookkit.plots",
            "h11", "httpx", "matplotlib", "pandas")  # fmt: skip


@dataclass(frozen=True)
class Check:
    """One line of the report; ``fix`` is empty when the check is ok."""

    name: str
    status: str  # ok, missing, problem
    detail: str
    fix: str = ""
    core: bool = False


def add_doctor(sub) -> None:
    p = sub.add_parser("doctor", help="check that this machine can run the lab (before class)")
    p.add_argument("--json", action="store_true", help="also print the checks as one JSON object, last line")


def doctor_command(args: argparse.Namespace) -> int:
    checks = run_checks()
    width = max(len(c.name) for c in checks)
    print("keepalive_lab doctor: can this machine run the lab?")
    sections = (("core (every experiment needs these)", True), ("optional (the core lab runs without them)", False))
    for heading, core in sections:
        print(f"{heading}:")
        for c in (c for c in checks if c.core == core):
            print(f"  {c.status:<8} {c.name:<{width}}  {c.detail}")
            if c.fix:
                print(f"  {'':<8} {'':<{width}}  fix: {c.fix}")
    ready = core_ready(checks)
    optional = [c for c in checks if not c.core]
    print(
        ("the core lab can run" if ready else "the core lab cannot run here: fix the core checks above")
        + f"; optional: {sum(c.status == OK for c in optional)} of {len(optional)} ok"
    )
    if any(c.fix for c in checks) and Path.cwd().resolve() != PROJECT_ROOT:
        print(f"run the fixes from {PROJECT_ROOT} (they name files of the project)")
    if args.json:
        print(json.dumps({"core_ready": ready, "checks": [asdict(c) for c in checks]}))
    return EXIT_OK if ready else EXIT_FAILED


def core_ready(checks: list[Check]) -> bool:
    return all(c.status == OK for c in checks if c.core)


def run_checks() -> list[Check]:
    """Every check, core first, in the order the report prints them."""
    probes: list[tuple[str, Callable[[], Check]]] = [
        ("linux", _linux), ("python", _python), ("package", _package), ("loopback", _loopback),
        ("accept-queue", _accept_queue), ("free-ports", _free_ports),
        ("ss", lambda: _tool("ss", ["-V"], "iproute2", "for code/recipes/starve-by-hand.sh")),
        ("curl", lambda: _tool("curl", ["--version"], "curl", "for code/recipes/starve-by-hand.sh")),
        ("haproxy", lambda: _load_balancer("haproxy")), ("nginx", lambda: _load_balancer("nginx")),
        ("go", _go), ("go-x-packages", _go_x_packages), ("go-reference", _go_reference), ("chromium", _chromium),
    ]  # fmt: skip
    checks = []
    for name, probe in probes:
        try:
            check = probe()
        except Exception as exc:  # noqa: BLE001 - a broken check is a finding, not a crash of the doctor
            # A check that raises points at a broken installation more often than at the machine.
            check = Check(name, PROBLEM, f"the check itself failed: {type(exc).__name__}: {exc}", _reinstall())
        checks.append(Check(name, check.status, check.detail, check.fix, core=name in CORE))
    return checks


def _sudo() -> str:
    """``sudo `` unless already root, so that the fix is the exact command to type."""
    return "" if os.geteuid() == 0 else "sudo "


def _apt(package: str) -> str:
    return f"{_sudo()}apt-get install -y --no-install-recommends {package}"


def _first_line(argv: list[str]) -> str:
    """The first non-empty line a program prints (stdout, else stderr); "" if it fails or hangs."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROGRAM_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for text in (done.stdout, done.stderr):
        for line in text.splitlines():
            # Debian's chromium wrapper script prints a shell warning on stderr; skip such noise.
            if line.strip() and ": [: " not in line:
                # "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/..." and "Chromium 156.0 built on Debian
                # ...": the name and version are what a report line has room for.
                return line.split(" (")[0].split(" built on ")[0].strip()
    return ""


# -- core ---------------------------------------------------------------------------------------------


def _linux() -> Check:
    if sys.platform != "linux":
        return Check("linux", PROBLEM, f"{platform.system()}: the lab reads /proc/net/tcp and TCP_INFO, Linux only",
                     "run the lab in a Linux virtual machine or container (the pages can still be read)")  # fmt: skip
    if not kernel.PROC_NET_TCP.is_file() or not hasattr(socket, "TCP_INFO"):
        return Check("linux", PROBLEM, f"Linux {platform.release()} without {kernel.PROC_NET_TCP} or TCP_INFO",
                     "mount /proc (in a container: do not hide /proc/net), or use a Linux virtual machine")  # fmt: skip
    return Check("linux", OK, f"Linux {platform.release()}: {kernel.PROC_NET_TCP} and TCP_INFO are there")


def _python() -> Check:
    version = platform.python_version()
    if sys.version_info < (3, 11):
        return Check("python", PROBLEM, f"Python {version} at {sys.executable}; the lab needs 3.11 or newer",
                     "rm -rf .venv && make install PYTHON=python3.11")  # fmt: skip
    return Check("python", OK, f"Python {version} at {sys.executable}")


def _package() -> Check:
    failed = []
    for module in _MODULES:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - an ImportError, or an error while importing
            failed.append(f"{module}: {type(exc).__name__}: {exc}")
    if failed:
        return Check("package", MISSING, "; ".join(failed), _reinstall())
    import keepalive_lab

    where = Path(keepalive_lab.__file__).parent
    return Check("package", OK, f"keepalive_lab imports from {where}, with h11, httpx, matplotlib and pandas")


def _reinstall() -> str:
    """`make install` does nothing once its stamp exists; removing the stamp makes it reinstall."""
    stamp = PROJECT_ROOT / ".venv" / ".installed"
    return "rm -f .venv/.installed && make install" if stamp.exists() else "make install"


def _loopback() -> Check:
    try:
        port = selfcheck.loopback_roundtrip()
    except (OSError, selfcheck.SelfCheckError) as exc:
        return Check("loopback", PROBLEM, f"127.0.0.1 does not carry TCP: {exc}", f"{_sudo()}ip link set lo up")
    return Check("loopback", OK, f"bound 127.0.0.1:{port}, connected, bytes went both ways")


def _accept_queue() -> Check:
    try:
        via_tcp_info, via_proc = selfcheck.accept_queue_readings()
    except (OSError, selfcheck.SelfCheckError) as exc:
        return Check("accept-queue", PROBLEM, f"could not read a listener's accept queue: {exc}",
                     "run the lab on a Linux kernel (a VM or container), not under gVisor or WSL1")  # fmt: skip
    found = f"one queued connection reads as {via_tcp_info} through TCP_INFO and {via_proc} through /proc/net/tcp"
    if (via_tcp_info, via_proc) != (1, 1):
        return Check("accept-queue", PROBLEM, f"{found}; both must say 1",
                     "run the lab on a Linux kernel (a VM or container), not under gVisor or WSL1")  # fmt: skip
    return Check("accept-queue", OK, found)


def _free_ports() -> Check:
    try:
        ports = selfcheck.free_ports(4)
    except (OSError, selfcheck.SelfCheckError) as exc:
        return Check("free-ports", PROBLEM, f"could not bind 4 ports on 127.0.0.1 at once: {exc}",
                     f"{_sudo()}sysctl -w net.ipv4.ip_local_port_range='32768 60999'")  # fmt: skip
    return Check("free-ports", OK, f"bound 4 ports on 127.0.0.1 at once ({', '.join(map(str, ports))})")


# -- optional -----------------------------------------------------------------------------------------


def _tool(name: str, version_flags: list[str], package: str, purpose: str) -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, MISSING, f"not on PATH; {purpose}", _apt(package))
    return Check(name, OK, f"{_first_line([path, *version_flags]) or path} ({path})")


def _load_balancer(name: str) -> Check:
    fix = f"{_sudo()}tools/system_packages.sh"
    if find_binary(name) is None:
        return Check(name, MISSING, "not installed; the real-load-balancer pages show recordings", fix)
    version = binary_version(name)
    if not version:
        return Check(name, PROBLEM, f"{find_binary(name)} does not print its version", fix)
    return Check(name, OK, f"{version} ({find_binary(name)})")


def _go() -> Check:
    go = PROJECT_ROOT / ".venv" / "bin" / "go"
    if not (go.is_file() and os.access(go, os.X_OK)):
        return Check("go", MISSING, f"no Go toolchain at {go}; the Go programs cannot be built", _reinstall())
    # GOTOOLCHAIN=local: asking for the version must never make Go download another toolchain.
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOTELEMETRY": "off", "GOFLAGS": ""}
    try:
        done = subprocess.run([str(go), "env", "GOVERSION"], capture_output=True, text=True, env=env,
                              timeout=PROGRAM_TIMEOUT, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT)  # fmt: skip
        version = done.stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("go", PROBLEM, f"{go} does not run: {exc}", _reinstall())
    if version != GO_VERSION:
        return Check("go", PROBLEM, f"{go} is {version or 'unknown'}, not {GO_VERSION}", _reinstall())
    return Check("go", OK, f"{version} ({go})")


def _go_x_packages() -> Check:
    gopath = Path(os.environ.get("KEEPALIVE_GOPATH", "/usr/share/gocode"))
    wanted = {
        "golang.org/x/net": ("golang-golang-x-net-dev", gopath / "src/golang.org/x/net/netutil/listen.go"),
        "golang.org/x/sync": ("golang-golang-x-sync-dev", gopath / "src/golang.org/x/sync/semaphore/semaphore.go"),
    }
    missing = [name for name, (_, marker) in wanted.items() if not marker.is_file()]
    if missing:
        return Check("go-x-packages", MISSING, f"{' and '.join(missing)} not under {gopath}",
                     f"{_sudo()}tools/system_packages.sh")  # fmt: skip
    found = [f"{name} {_deb_version(package)}".rstrip() for name, (package, _) in wanted.items()]
    return Check("go-x-packages", OK, f"{', '.join(found)} under {gopath}")


def _deb_version(package: str) -> str:
    """The upstream part of a Debian version (1:0.7.0+dfsg-1 -> 0.7.0); "" when dpkg cannot say."""
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return ""
    line = _first_line([dpkg, "-W", "-f=${Version}\n", package])
    upstream = line.split(":", 1)[-1]
    for separator in "+~-":
        upstream = upstream.split(separator, 1)[0]
    return upstream


def _go_reference() -> Check:
    reference = find_go_reference()
    if reference is None:
        return Check("go-reference", MISSING, "not built; the fidelity appendix compares with a recording",
                     "make go-reference")  # fmt: skip
    binary = reference.binary
    where = binary.relative_to(PROJECT_ROOT) if binary.is_relative_to(PROJECT_ROOT) else binary
    return Check("go-reference", OK, f"{where} ({reference.go_version}, golang.org/x/net {reference.x_net_version})")


def _chromium() -> Check:
    path = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    if path is None:
        return Check("chromium", MISSING, "not installed; `make pdf` prints the book with it", _apt("chromium"))
    version = _first_line([path, "--version"])
    if not version:
        return Check("chromium", PROBLEM, f"{path} --version failed", _apt("chromium"))
    return Check("chromium", OK, f"{version} ({path}), for `make pdf`")
