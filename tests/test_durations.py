"""Durations are read as Go's ``time.ParseDuration`` reads them: same values, same refusals, same words.

The tables were written from Go 1.23.4's own answers (``time.ParseDuration`` on each string); the
last test asks the Go reference program again, through its flags, when it has been built.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess

import pytest
from keepalive_lab.fidelity.process import find_go_reference
from keepalive_lab.goserver.durations import (
    MAX_DURATION_NS,
    MIN_DURATION_NS,
    DurationError,
    format_duration,
    parse_duration,
    parse_duration_ns,
)

from .conftest import WAIT

# (string, Go's int64 nanoseconds)
ACCEPTED = [
    ("0", 0),
    ("+0", 0),
    ("-0", 0),
    ("0s", 0),
    ("-0s", 0),
    ("-0.0s", 0),
    ("0ms", 0),
    ("30s", 30_000_000_000),
    ("100ms", 100_000_000),
    ("1m30s", 90_000_000_000),
    ("1h30m", 5_400_000_000_000),
    ("30s100ms", 30_100_000_000),
    ("5m0.5s", 300_500_000_000),
    ("1h1h", 7_200_000_000_000),  # a unit may come back
    ("1.5h30m", 7_200_000_000_000),
    ("-1s", -1_000_000_000),
    ("+1s", 1_000_000_000),
    ("1.s", 1_000_000_000),
    (".5s", 500_000_000),
    ("+.5s", 500_000_000),
    ("-.5ms", -500_000),
    ("1us", 1_000),
    ("1\u00b5s", 1_000),  # micro sign
    ("1\u03bcs", 1_000),  # Greek mu
    ("0.5us", 500),
    ("0.0000001s", 100),
    ("0.9ns", 0),  # fractions of a nanosecond are cut, not rounded
    ("1.9ns", 1),
    ("0.1234567891234ns", 0),
    ("1.0000000009s", 1_000_000_000),
    ("1.00000000000000000000000000001s", 1_000_000_000),
    (".123456789123456789123456789s", 123_456_789),
    ("0.3333333333333333333333333h", 1_200_000_000_000),  # float64 arithmetic, as Go
    ("0.9999999999999999999999h", 3_600_000_000_000),
    ("1.1111111111111111111111111111111111111111111h", 4_000_000_000_000),
    ("1.123456789123456789123456789h", 4_044_444_440_844),
    ("0.0000000009223372036854775808h", 3_320),
    ("0.000000000000000000000000000000000000000000000000001ns", 0),
    ("1h0.0000000000000000000000000000000000000001ns", 3_600_000_000_000),
    ("00000000000000000000001s", 1_000_000_000),
    ("2562047h", 9_223_369_200_000_000_000),
    ("2562047.7880152155h", 9_223_372_036_854_775_800),
    ("9223372036854775807ns", MAX_DURATION_NS),
    ("9223372036.854775807s", MAX_DURATION_NS),
    ("9223372036.8547758079s", MAX_DURATION_NS),
    ("9223372036s854775807ns", MAX_DURATION_NS),
    ("9223372036854775807ns0.5ns", MAX_DURATION_NS),
    ("2562047h47m16.854775807s", MAX_DURATION_NS),
    ("-9223372036854775808ns", MIN_DURATION_NS),
    ("-2562047h47m16.854775808s", MIN_DURATION_NS),
    ("-9223372036854775807ns1ns", MIN_DURATION_NS),
    # Go adds terms in uint64: 1<<63 + 1<<63 wraps around to 0 and passes.
    ("9223372036854775808ns9223372036854775808ns", 0),
    ("-9223372036854775808ns9223372036854775808ns", 0),
]

# (string, Go's error message)
REFUSED = [
    ("", 'time: invalid duration ""'),
    ("+", 'time: invalid duration "+"'),
    ("-", 'time: invalid duration "-"'),
    ("+-0", 'time: invalid duration "+-0"'),
    ("--1s", 'time: invalid duration "--1s"'),
    ("-+1s", 'time: invalid duration "-+1s"'),
    (".", 'time: invalid duration "."'),
    (".s", 'time: invalid duration ".s"'),
    ("1", 'time: missing unit in duration "1"'),
    ("00", 'time: missing unit in duration "00"'),
    ("0.0", 'time: missing unit in duration "0.0"'),
    ("0.", 'time: missing unit in duration "0."'),
    (".0", 'time: missing unit in duration ".0"'),
    ("1ms1", 'time: missing unit in duration "1ms1"'),
    ("1.2.3s", 'time: missing unit in duration "1.2.3s"'),
    ("1S", 'time: unknown unit "S" in duration "1S"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("1sm", 'time: unknown unit "sm" in duration "1sm"'),
    ("1e3s", 'time: unknown unit "e" in duration "1e3s"'),
    ("1_000s", 'time: unknown unit "_" in duration "1_000s"'),
    ("0x10s", 'time: unknown unit "x" in duration "0x10s"'),
    ("1h-1s", 'time: unknown unit "h-" in duration "1h-1s"'),
    ("1h+1s", 'time: unknown unit "h+" in duration "1h+1s"'),
    # Spaces: none before, none after.
    (" 1s", 'time: invalid duration " 1s"'),
    ("\t1s", 'time: invalid duration "\\x091s"'),
    ("1s ", 'time: unknown unit "s " in duration "1s "'),
    ("1s\n", 'time: unknown unit "s\\x0a" in duration "1s\\x0a"'),
    ("1ns\u00a0", 'time: unknown unit "ns\\xc2\\xa0" in duration "1ns\\xc2\\xa0"'),
    # Digits are ASCII only; the error quotes the string's UTF-8 bytes.
    ("\uff11s", 'time: invalid duration "\\xef\\xbc\\x91s"'),  # full-width 1
    ("\u0663s", 'time: invalid duration "\\xd9\\xa3s"'),  # Arabic-Indic 3
    ("1\uff53", 'time: unknown unit "\\xef\\xbd\\x93" in duration "1\\xef\\xbd\\x93"'),  # full-width s
    ("1\u00b5", 'time: unknown unit "\\xc2\\xb5" in duration "1\\xc2\\xb5"'),
    ("1\ufffd", 'time: unknown unit "\\xef\\xbf\\xbd" in duration "1\\xef\\xbf\\xbd"'),
    ("1\udcffs", 'time: unknown unit "\\xffs" in duration "1\\xffs"'),  # the byte 0xff, as argv brings it
    ('1.5"s', 'time: unknown unit "\\"s" in duration "1.5\\"s"'),
    ("1\\s", 'time: unknown unit "\\\\s" in duration "1\\\\s"'),
    ("1\x7fs", 'time: unknown unit "\x7fs" in duration "1\x7fs"'),
    # More than an int64 of nanoseconds (about 292 years), either way.
    ("3000000h", 'time: invalid duration "3000000h"'),
    ("2562048h", 'time: invalid duration "2562048h"'),
    ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
    ("-2562047h47m16.854775809s", 'time: invalid duration "-2562047h47m16.854775809s"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'),
    ("9223372036.854775808s", 'time: invalid duration "9223372036.854775808s"'),
    ("9223372036854775807ns1ns", 'time: invalid duration "9223372036854775807ns1ns"'),
    ("-9223372036854775807ns2ns", 'time: invalid duration "-9223372036854775807ns2ns"'),
    ("9223372036s854775808ns", 'time: invalid duration "9223372036s854775808ns"'),
    ("100000000000000000000ns", 'time: invalid duration "100000000000000000000ns"'),
    ("99999999999999999999.5ns", 'time: invalid duration "99999999999999999999.5ns"'),
    ("4611686018427387904ns4611686018427387904ns", 'time: invalid duration "4611686018427387904ns4611686018427387904ns"'),
    ("9223372036854775808ns0.5ns", 'time: invalid duration "9223372036854775808ns0.5ns"'),
]
OUT_OF_RANGE = {"3000000h", "2562048h", "2562047h47m16.854775808s", "-2562047h47m16.854775809s", "9223372036854775808ns",
                "-9223372036854775809ns", "9223372036.854775808s", "9223372036854775807ns1ns", "-9223372036854775807ns2ns",
                "9223372036s854775808ns", "100000000000000000000ns", "99999999999999999999.5ns",
                "4611686018427387904ns4611686018427387904ns", "9223372036854775808ns0.5ns"}  # fmt: skip


@pytest.mark.parametrize("text, ns", ACCEPTED)
def test_accepts_what_go_accepts_with_the_same_nanoseconds(text, ns):
    assert parse_duration_ns(text) == ns
    assert parse_duration(text) == ns / 1_000_000_000  # seconds, the nearest float


@pytest.mark.parametrize("text, message", REFUSED)
def test_refuses_what_go_refuses_in_gos_words(text, message):
    with pytest.raises(DurationError) as refused:
        parse_duration_ns(text)
    assert str(refused.value) == message
    assert refused.value.out_of_range == (text in OUT_OF_RANGE)
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (30, "30s"), (0.1, "100ms"), (90, "1m30s"), (0.0005, "500µs")])
def test_format(seconds, text):
    assert format_duration(seconds) == text


def _go_accepts(binary, text: str) -> bool:
    """Whether the Go reference program starts with ``--read-timeout=text`` (else it must exit 2 at once)."""
    proc = subprocess.Popen([str(binary), os.fsencode(f"--read-timeout={text}"), "--addr", "127.0.0.1:0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        assert ready, f"the Go program neither started nor exited with {text!r}"
        line = proc.stdout.readline()  # the address line is one write; EOF when it exits
        if line.startswith(b"listening on 127.0.0.1:"):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(WAIT) == 0
            return True
        assert proc.wait(WAIT) == 2
        errors = proc.stderr.read().decode("utf-8", "replace").splitlines()
        assert len(errors) == 1 and "invalid duration" in errors[0], errors
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)
        proc.stdout.close()
        proc.stderr.close()


def test_the_go_reference_program_takes_and_refuses_the_same_strings():
    ref = find_go_reference()
    if ref is None:
        pytest.skip("the Go reference program is not built (tools/go_reference.sh)")
    table = [(text, True) for text, _ in ACCEPTED] + [(text, False) for text, _ in REFUSED if "\x00" not in text]
    disagree = [text for text, accepted in table if _go_accepts(ref.binary, text) != accepted]
    assert not disagree, f"Go {ref.go_version} disagrees on {disagree}"
