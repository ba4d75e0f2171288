"""The catalogue of fixes: each a named change to the server's settings.

The article's two fixes change when a connection closes, so that the one
``LimitListener`` slot is held only while a request is in flight:
``SetKeepAlivesEnabled(false)`` and a handler ``Connection: close``. The
alternatives trade something else: a short ``IdleTimeout`` shrinks the window
(but keeps it), a larger limit lets more connections in (and more handlers
run at once, which the service wanted to avoid), a work limit keeps the
serial processing while accepting every connection (requests then wait
*inside* the application, where they are visible; the lab's wait has no
timeout), and culling closes the longest-idle connection while another one
waits, as other servers do at their limit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, get_args

from keepalive_lab.lab.launch import ServerConfig

__all__ = ["Fix", "FIXES", "fix_named", "Setting"]

# The server settings a fix may change (fields of ServerConfig).
Setting = Literal["keep_alives", "conn_close", "idle_timeout", "limit", "work_limit", "cull_idle"]


@dataclass(frozen=True)
class Fix:
    """A named change to the server settings (fields of :class:`~keepalive_lab.lab.launch.ServerConfig`)."""

    name: str
    label: str
    changes: tuple[tuple[Setting, object], ...]
    from_article: bool

    def __post_init__(self) -> None:
        known = {f.name for f in fields(ServerConfig)}
        for setting, _ in self.changes:
            if setting not in get_args(Setting) or setting not in known:
                raise ValueError(f"fix {self.name!r} changes {setting!r}, which is not a server setting")

    def apply(self, config: ServerConfig) -> ServerConfig:
        """``config`` with this fix's changes."""
        return config.with_(**dict(self.changes))


FIXES = (
    Fix("baseline", "as in the incident", (), False),
    Fix("no_keep_alives", "SetKeepAlivesEnabled(false)", (("keep_alives", False),), True),
    Fix("conn_close", "handler sets Connection: close", (("conn_close", True),), True),
    Fix("short_idle", "IdleTimeout 1 s", (("idle_timeout", 1.0),), False),
    Fix("larger_limit", "LimitListener(l, 8)", (("limit", 8),), False),
    Fix("work_limit", "no LimitListener; 1 handler at a time", (("limit", 0), ("work_limit", 1)), False),
    Fix("cull_idle", "close an idle connection when one waits", (("cull_idle", True),), False),
)


def fix_named(name: str) -> Fix:
    for fix in FIXES:
        if fix.name == name:
            return fix
    raise ValueError(f"no fix {name!r}; the fixes are {', '.join(f.name for f in FIXES)}")
