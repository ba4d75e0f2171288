"""An HAProxy instance's view of the lab server, read from its stats socket.

The lab gives each HAProxy a stats socket in the run's folder
(``stats socket PATH level user``). ``show stat`` answers with CSV, one row
per proxy and server; the ``status`` column of the row for the server named
``lab`` is what the health checks concluded: ``UP``, ``DOWN``, or a
transition such as ``UP 1/3`` (still up, one failed check counted).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

__all__ = ["HealthSample", "haproxy_server_status"]


@dataclass(frozen=True)
class HealthSample:
    """The state an HAProxy instance gave its one server at one instant (``show stat``)."""

    TIMES: ClassVar[tuple[str, ...]] = ("at",)

    node: str
    at: float
    status: str  # "UP", "DOWN", "UP 1/2"...


def haproxy_server_status(path: Path, timeout: float = 1.0) -> str:
    """The ``status`` column of HAProxy's ``show stat`` for the server named ``lab``; "" if unreadable."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(b"show stat\n")
            chunks = []
            for _ in range(64):  # a few KiB at most
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except OSError:
        return ""
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return ""
    header = lines[0][2:].split(",")
    try:
        sv, st = header.index("svname"), header.index("status")
    except ValueError:
        return ""
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) > max(sv, st) and cells[sv] == "lab":
            return cells[st]
    return ""
