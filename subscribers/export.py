"""CSV export of readers, streamed, with spreadsheet formula injection neutralised.

Every column is guarded, the address too (``=cmd|'/C calc'!A0@example.org`` is a
valid address), in a way the CSV import reverses, so an export imports back exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from subscribers.models import Subscriber

HEADER = ["email", "name", "status", "source", "lists", "tags", "created_at", "confirmed_at", "unsubscribed_at"]
# A spreadsheet treats a cell starting with these as a formula (OWASP "CSV injection"): "|" starts
# a DDE call, and some spreadsheets read the full-width forms as their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "|", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\uff5c")
# The leading apostrophe a spreadsheet reads as "text, not a formula" (and hides).
QUOTE = "'"
_QUOTED_STARTS = (*FORMULA_STARTS, QUOTE)


def safe_cell(value: Any) -> str:
    """The cell as a spreadsheet will not run it: a formula-like start gets a leading apostrophe.

    A cell that already starts with an apostrophe gets one more, so that
    unquote_cell gives back every value exactly (``=1+2@example.org`` and
    ``'=1+2@example.org`` are two valid addresses).
    """
    text = "" if value is None else str(value)
    return QUOTE + text if text.startswith(_QUOTED_STARTS) else text


def unquote_cell(text: str) -> str:
    """Undo safe_cell (the import reads exports with it); any other cell is returned as it is."""
    if text.startswith(QUOTE) and text[1:].startswith(_QUOTED_STARTS):
        return text[1:]
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _when(value: Any) -> str:
    return value.isoformat() if value else ""


def export_rows(queryset: QuerySet[Subscriber]) -> Iterator[list[str]]:
    yield HEADER
    readers = queryset.order_by("pk").prefetch_related("lists", "tags").iterator(chunk_size=2000)
    for s in readers:
        row = [
            s.email,
            s.name,
            s.status,
            s.source,
            ";".join(item.name for item in s.lists.all()),
            ";".join(item.name for item in s.tags.all()),
            _when(s.created_at),
            _when(s.confirmed_at),
            _when(s.unsubscribed_at),
        ]
        yield [safe_cell(value) for value in row]


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def export_response(queryset: QuerySet[Subscriber]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(export_rows(queryset)), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
    return response
