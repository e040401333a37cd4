"""CSV export of cases and figures, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """Turn a value into a CSV cell that a spreadsheet will not run as a formula.

    Cells starting with ``= + - @``, a tab or a carriage return get a leading ``'``
    (OWASP "CSV injection"). NUL characters are dropped (the csv module cannot write them).

    Args:
        value: Any value; None becomes an empty cell.

    Returns:
        The cell text.
    """
    text = "" if value is None else str(value).replace("\x00", "")
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Write CSV (semicolon-separated, as Swedish Excel expects) line by line.

    Args:
        header: Column names.
        rows: Rows of values.

    Yields:
        One encoded line at a time, starting with the header.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for values in itertools.chain([header], rows):
        writer.writerow([csv_safe(value) for value in values])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
