from __future__ import annotations

import pytest
from keepalive_lab.goserver.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [("0", 0.0), ("30s", 30.0), ("100ms", 0.1), ("1m30s", 90.0), ("1.5h", 5400.0), ("250us", 0.00025), ("-2s", -2.0)],
)
def test_parse_like_go(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "3x", "s", "1m30", "--1s", "1s2"])
def test_rejects_what_go_rejects(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (30, "30s"), (0.1, "100ms"), (90, "1m30s"), (0.0005, "500µs")])
def test_format(seconds, text):
    assert format_duration(seconds) == text
