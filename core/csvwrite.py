"""CSV files the site hands out, with spreadsheet formula injection neutralised.

A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection").
Every text cell that starts so gets a leading apostrophe, which spreadsheets
read as "text" and hide, and which :func:`unquote_cell` takes off again, so a
file we wrote imports back exactly (``=1+2@example.org`` is a valid address).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

# "|" starts a DDE call; some spreadsheets read the full-width forms as their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "|", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\uff5c")
QUOTE = "'"
_QUOTED_STARTS = (*FORMULA_STARTS, QUOTE)


def safe_cell(value: Any) -> Any:
    """The cell as a spreadsheet will not run it; numbers are left as they are, None is empty.

    A text that already starts with an apostrophe gets one more, so that
    unquote_cell gives back every value exactly.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    return QUOTE + value if value.startswith(_QUOTED_STARTS) else value


def unquote_cell(text: str) -> str:
    """Undo safe_cell (the import reads our exports with it); any other cell is returned as it is."""
    if text.startswith(QUOTE) and text[1:].startswith(_QUOTED_STARTS):
        return text[1:]
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one CSV line, every cell guarded."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def csv_response(rows: Iterable[Iterable[Any]], filename: str) -> StreamingHttpResponse:
    """A streamed CSV download (rows are produced as the client reads)."""
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
