"""What every command shares: one-line usage errors, exit codes, and the value types of flags.

A bad command line prints one line on stderr and exits 2 (``UsageError``):
argparse's own usage dump is replaced by that line.
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import NoReturn

from keepalive_lab.goserver.durations import DurationError, parse_duration

__all__ = ["UsageError", "Parser", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "duration", "non_negative_int",
           "loopback_addr"]  # fmt: skip

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad command line; reported as one line on stderr with exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + error; we want one line
        raise UsageError(message)


def duration(text: str) -> float:
    """A Go duration (``30s``, ``100ms``) in seconds."""
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative_int(text: str) -> int:
    """A whole number >= 0 written in ASCII digits, as Go's flag package reads one."""
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    value = int(text)
    if value >= 1 << 63:
        raise argparse.ArgumentTypeError(f"value out of range: {text}")
    return value


def loopback_addr(text: str) -> tuple[str, int]:
    """``HOST:PORT`` where HOST is an IPv4 loopback address."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise argparse.ArgumentTypeError(f"want HOST:PORT, got {text!r}")
    try:
        address = ipaddress.ip_address(host)
        loopback = address.is_loopback and address.version == 4
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not an IPv4 loopback address; the lab listens on 127.0.0.1 only")
    return host, int(port_text)
