"""Go-style durations: ``30s``, ``100ms``, ``1m30s``, ``0``.

The command line takes durations as Go's ``time.ParseDuration`` does, so the
flags read like the Go program's ``ReadTimeout: 30 * time.Second``, and a
string one program takes the other takes too. :func:`parse_duration_ns` is
``ParseDuration`` (time/format.go) step by step: it reads the string's UTF-8
bytes, gives the same int64 nanoseconds (fractions truncated, as Go's float
arithmetic truncates them), refuses the same strings (a leading space, ``00``,
``1e3s``, non-ASCII digits, more than an int64 of nanoseconds: about 292
years) and says so in Go's words. :func:`parse_duration` gives seconds
(float), the unit every other module uses.
"""

from __future__ import annotations

__all__ = [
    "DurationError",
    "parse_duration",
    "parse_duration_ns",
    "format_duration",
    "MAX_DURATION_NS",
    "MIN_DURATION_NS",
    "MAX_DURATION_SECONDS",
    "LONGEST_WAIT",
]

MAX_DURATION_NS = (1 << 63) - 1  # time.Duration is an int64 of nanoseconds
MIN_DURATION_NS = -(1 << 63)
MAX_DURATION_SECONDS = MAX_DURATION_NS / 1_000_000_000  # 2562047h47m16.854775807s, rounded up by the float
# Python's own waits (socket timeouts, time.sleep) also count int64 nanoseconds, and the longest Go
# duration as a float is a hair longer than that: a wait is cut to this (146 years) before it starts.
LONGEST_WAIT = (1 << 62) / 1_000_000_000

_UINT64 = (1 << 64) - 1
_TOP = 1 << 63
# Go's unitMap (time/format.go): "µs" (U+00B5 micro sign) and "μs" (U+03BC Greek mu) are both micro.
_UNITS = {
    b"ns": 1,
    b"us": 1_000,
    "µs".encode(): 1_000,
    "μs".encode(): 1_000,
    b"ms": 1_000_000,
    b"s": 1_000_000_000,
    b"m": 60_000_000_000,
    b"h": 3_600_000_000_000,
}
_DIGITS = b"0123456789"


class DurationError(ValueError):
    """A string that Go's ``time.ParseDuration`` rejects; the message is Go's.

    ``out_of_range`` tells a well-formed duration longer than an int64 of
    nanoseconds from a malformed one.
    """

    def __init__(self, message: str, out_of_range: bool = False) -> None:
        super().__init__(message)
        self.out_of_range = out_of_range


def _quote(s: bytes) -> str:
    """time.quote: double quotes, with bytes below ' ' and non-ASCII ones written as \\xNN."""
    out = ['"']
    for byte in s:
        if byte >= 0x80 or byte < 0x20:
            out.append(f"\\x{byte:02x}")
        else:
            if byte in b'"\\':
                out.append("\\")
            out.append(chr(byte))
    out.append('"')
    return "".join(out)


def _leading_int(s: bytes) -> tuple[int, bytes] | None:
    """leadingInt: the leading [0-9]*; None when it passes 1<<63."""
    x, i = 0, 0
    while i < len(s) and s[i] in _DIGITS:
        if x > _TOP // 10:
            return None
        x = x * 10 + s[i] - 0x30
        if x > _TOP:
            return None
        i += 1
    return x, s[i:]


def _leading_fraction(s: bytes) -> tuple[int, float, bytes]:
    """leadingFraction: the leading [0-9]* after a '.'; digits past 1<<63 only stop adding precision."""
    x, scale, i, overflow = 0, 1.0, 0, False
    while i < len(s) and s[i] in _DIGITS:
        if not overflow:
            if x > (_TOP - 1) // 10:
                overflow = True
            else:
                y = x * 10 + s[i] - 0x30
                if y > _TOP:
                    overflow = True
                else:
                    x = y
                    scale *= 10
        i += 1
    return x, scale, s[i:]


def parse_duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration(text)``: int64 nanoseconds, or :class:`DurationError`.

    ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``, units ns us µs μs ms s m h; a bare
    ``0`` (signed or not) needs no unit. Command-line strings that are not
    UTF-8 reach Python with surrogate escapes; they are read back as the
    bytes Go would see.
    """
    try:
        s = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate made in Python: Go sees invalid UTF-8 bytes
        s = text.encode("utf-8", "surrogatepass")
    orig = _quote(s)

    def invalid(out_of_range: bool = False) -> DurationError:
        return DurationError(f"time: invalid duration {orig}", out_of_range)

    d, neg = 0, False
    if s[:1] in (b"-", b"+"):
        neg = s[:1] == b"-"
        s = s[1:]
    if s == b"0":  # special case: "0", "+0" and "-0" need no unit
        return 0
    if not s:
        raise invalid()
    while s:
        # The next character must be [0-9.]
        if not (s[0] == 0x2E or s[0] in _DIGITS):
            raise invalid()
        before = len(s)
        leading = _leading_int(s)
        if leading is None:
            raise invalid(out_of_range=True)
        v, s = leading
        pre = before != len(s)  # whether anything came before a period
        f, scale, post = 0, 1.0, False
        if s[:1] == b".":
            s = s[1:]
            before = len(s)
            f, scale, s = _leading_fraction(s)
            post = before != len(s)
        if not pre and not post:  # no digits, as in ".s" or "-.s"
            raise invalid()
        i = 0
        while i < len(s) and not (s[i] == 0x2E or s[i] in _DIGITS):
            i += 1
        if i == 0:
            raise DurationError(f"time: missing unit in duration {orig}")
        u, s = s[:i], s[i:]
        unit = _UNITS.get(u)
        if unit is None:
            raise DurationError(f"time: unknown unit {_quote(u)} in duration {orig}")
        if v > _TOP // unit:
            raise invalid(out_of_range=True)
        v *= unit
        if f > 0:
            # Go: v += uint64(float64(f) * (float64(unit) / scale)), float64 arithmetic truncated.
            v += int(float(f) * (float(unit) / scale))
            if v > _TOP:
                raise invalid(out_of_range=True)
        d = (d + v) & _UINT64  # uint64 arithmetic: 1<<63 + 1<<63 wraps to 0, in Go as here
        if d > _TOP:
            raise invalid(out_of_range=True)
    if neg:
        return -d
    if d > MAX_DURATION_NS:
        raise invalid(out_of_range=True)
    return d


def parse_duration(text: str) -> float:
    """Parse a Go duration string into seconds, exactly as :func:`parse_duration_ns` reads it."""
    return parse_duration_ns(text) / 1_000_000_000


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
