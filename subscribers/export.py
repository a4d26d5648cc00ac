"""CSV export of readers, streamed, with spreadsheet formula injection neutralised."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from subscribers.models import Subscriber

HEADER = ["email", "name", "status", "source", "lists", "tags", "created_at", "confirmed_at", "unsubscribed_at"]
# A spreadsheet treats a cell starting with these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


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
