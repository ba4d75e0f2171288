"""Table cells in words: Python's own spellings of values do not reach the page."""

from __future__ import annotations

import numpy as np
import pytest
from keepalive_lab.bookkit.readable import MISSING, cell, text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "yes"), (False, "no"), (None, MISSING), (float("nan"), MISSING),
        (30.0, "30"), (1.23456, "1.23"), (np.float64(60.0), "60"), (np.int64(3), "3"), (np.bool_(True), "yes"),
        (["LB2"], "LB2"), ([1, 2, 3], "1, 2, 3"), ([], "none"), ({"502": 2}, "502: 2"), ({}, "none"),
        ([["A", "GET"], ["B", "GET"]], "A, GET; B, GET"), (["a", ""], 'a, ""'), ("", ""), ("text", "text"),
    ],
)  # fmt: skip
def test_a_value_is_written_as_a_reader_reads_it(value, shown):
    assert cell(value) == shown


@pytest.mark.parametrize(
    ("sentence", "shown"),
    [
        ("nodes of timeouts: ['LB2']", "nodes of timeouts: LB2"),
        ("other failures: {'502': 2}", "other failures: 502: 2"),
        ("answered within 90 s: False", "answered within 90 s: no"),
        ("final=True, log []", "final=yes, log none"),
        ("queue max per timeout: [1, 2, 3]", "queue max per timeout: 1, 2, 3"),
    ],
)
def test_python_literals_in_a_sentence_become_words(sentence, shown):
    assert text(sentence) == shown


@pytest.mark.parametrize(
    "sentence",
    ["GET /a[1] HTTP/1.1", "X-Flag: Trueish", "it's [not closed", "{not a literal}", "median 0.2 s vs 0.2 s", "'True'"],
)
def test_what_is_not_a_python_value_stays_as_it_is(sentence):
    assert text(sentence) == sentence
