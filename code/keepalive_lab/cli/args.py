"""What every command shares: one-line usage errors, exit codes, and the value types of flags.

A bad command line prints one line on stderr and exits 2 (``UsageError``):
argparse's own usage dump is replaced by that line.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
import sys
from typing import NoReturn

from keepalive_lab.goserver.durations import DurationError, parse_duration

__all__ = ["UsageError", "Parser", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "duration", "non_negative_int",
           "go_int", "finite_float", "loopback_addr"]  # fmt: skip

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad command line; reported as one line on stderr with exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + error; we want one line
        raise UsageError(message)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self._values_joined(args), namespace)

    def _values_joined(self, args: list[str]) -> list[str]:
        """``--flag VALUE`` as ``--flag=VALUE`` for each flag of this parser that takes a value.

        Go's flag package takes the word after such a flag as its value whatever it looks like, so
        ``--read-timeout -1s`` is a negative timeout; argparse would take ``-1s`` for a flag of its
        own and refuse the line.
        """
        takes_value = {name for action in self._actions if action.option_strings and action.nargs is None
                       for name in action.option_strings}  # fmt: skip
        joined, i = [], 0
        while i < len(args):
            if args[i] == "--":
                joined.extend(args[i:])
                break
            if args[i] in takes_value and i + 1 < len(args):
                joined.append(f"{args[i]}={args[i + 1]}")
                i += 2
            else:
                joined.append(args[i])
                i += 1
        return joined


def duration(text: str) -> float:
    """A Go duration (``30s``, ``100ms``, ``-1s``) in seconds, refused where ``time.ParseDuration`` refuses it."""
    try:
        return parse_duration(text)
    except DurationError as exc:
        if exc.out_of_range:
            raise argparse.ArgumentTypeError(
                f"invalid duration {text!r}: out of range (Go's longest is 2562047h47m16.854775807s, either way)"
            ) from None
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (want e.g. 30s, 100ms, 1m30s)") from None


# strconv.Atoi's syntax: an optional sign, then ASCII digits only (no spaces, underscores or other scripts' digits).
_GO_INT = re.compile(r"[+-]?[0-9]+")


def go_int(text: str) -> int | None:
    """``text`` (an optional sign and ASCII digits) as an int64; None when it does not fit.

    Leading zeros are allowed however many there are, as in Go; Python's int() alone would refuse a
    string of more than 4300 digits with a ValueError of its own.
    """
    sign = text[0] if text[:1] in ("+", "-") else ""
    digits = text[len(sign):].lstrip("0") or "0"
    if len(digits) > 19:
        return None
    value = int(sign + digits)
    return value if -(1 << 63) <= value < 1 << 63 else None


def non_negative_int(text: str) -> int:
    """A whole number >= 0 as the Go program reads one: ``strconv.Atoi`` (so ``+1`` and ``-0`` too), an int64."""
    if not _GO_INT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    value = go_int(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"value out of range: {text}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return value


# A decimal number in ASCII: float() alone also takes "nan", "inf", "1_0", " 1 " and other scripts' digits.
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def finite_float(text: str) -> float:
    """A finite decimal number (``20``, ``0.5``, ``1e3``), in ASCII."""
    value = float(text) if _DECIMAL.fullmatch(text) else None
    if value is None or not math.isfinite(value):  # "nan", "inf", or too large for a float: "1e400"
        infinite = value is not None or text.strip().lstrip("+-").lower() in ("nan", "inf", "infinity")
        raise argparse.ArgumentTypeError(f"not a {'finite ' if infinite else ''}number: {text!r}")
    return value


def loopback_addr(text: str) -> tuple[str, int]:
    """``HOST:PORT`` where HOST is an IPv4 loopback address."""
    host, sep, port_text = text.rpartition(":")
    # ASCII digits only: int() would also take "８０" or "٨٠", which Go's strconv.Atoi refuses.
    port = go_int(port_text) if sep and re.fullmatch(r"[0-9]+", port_text) else None
    if port is None or port > 65535:
        raise argparse.ArgumentTypeError(f"want HOST:PORT, got {text!r}")
    try:
        address = ipaddress.ip_address(host)
        loopback = address.is_loopback and address.version == 4
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not an IPv4 loopback address; the lab listens on 127.0.0.1 only")
    return host, port
