"""Tests for bot.exports: CSV cells never start a spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pytest

from bot.exports import csv_lines, csv_safe


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+46701234567", "'+46701234567"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("Lotsby Bygg AB", "Lotsby Bygg AB"),
        ("a=b", "a=b"),
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_safe_neutralises_formula_starts(value: object, cell: str) -> None:
    assert csv_safe(value) == cell


def test_csv_lines_write_a_header_and_quoted_safe_rows() -> None:
    text = "".join(csv_lines(("a", "b"), [["=1+1", "x;y"], [None, 'sa "hej"']]))
    assert list(csv.reader(io.StringIO(text), delimiter=";")) == [
        ["a", "b"],
        ["'=1+1", "x;y"],
        ["", 'sa "hej"'],
    ]
