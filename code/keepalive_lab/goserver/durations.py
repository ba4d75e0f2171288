"""Go-style durations: ``30s``, ``100ms``, ``1m30s``, ``0``.

The command line takes durations as Go's ``time.ParseDuration`` does, so the
flags read like the Go program's ``ReadTimeout: 30 * time.Second``. Values are
returned in seconds (float), the unit every other module uses.
"""

from __future__ import annotations

import re

__all__ = ["DurationError", "parse_duration", "format_duration"]

# Go's unit table (time/format.go, unitMap); "µs" and "μs" are both micro.
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_TERM = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    """A string that Go's time.ParseDuration would reject."""


def parse_duration(text: str) -> float:
    """Parse a Go duration string into seconds.

    Like Go, a bare ``0`` needs no unit, every other number does, and terms
    may be chained (``1m30s``) with an optional leading sign.
    """
    s = text.strip()
    sign = 1.0
    if s and s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise DurationError(f"invalid duration {text!r}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _TERM.match(s, pos)
        if m is None:
            raise DurationError(f"invalid duration {text!r} (want e.g. 30s, 100ms, 1m30s)")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """Format seconds compactly in Go's style: ``30s``, ``100ms``, ``1m30s``."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1e-3:
        return f"{sign}{_trim(s * 1e6)}µs"
    if s < 1:
        return f"{sign}{_trim(s * 1e3)}ms"
    if s < 60:
        return f"{sign}{_trim(s)}s"
    minutes, rest = divmod(s, 60)
    if minutes < 60:
        return f"{sign}{int(minutes)}m{_trim(rest)}s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{int(hours)}h{int(minutes)}m{_trim(rest)}s"


def _trim(x: float) -> str:
    # Three significant decimals are plenty for lab timings; drop trailing zeros.
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return text or "0"
