"""CSV export of readers, streamed; core.csvwrite guards every cell.

Every column is guarded, the address too (``=cmd|'/C calc'!A0@example.org`` is a
valid address), in a way the CSV import reverses, so an export imports back exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.csvwrite import csv_response
from subscribers.fields import display
from subscribers.models import CustomField, Subscriber

HEADER = [
    *("email", "name", "status", "source", "lists", "tags"),
    *("created_at", "confirmed_at", "unsubscribed_at", "time_zone"),
]


def _when(value: Any) -> str:
    return value.isoformat() if value else ""


def export_rows(queryset: QuerySet[Subscriber]) -> Iterator[list[str]]:
    keys = list(CustomField.objects.values_list("key", flat=True))
    yield HEADER + keys
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
            s.time_zone,
            *(display(s.attributes.get(key)) for key in keys),
        ]
        yield row


def export_response(queryset: QuerySet[Subscriber]) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_response(export_rows(queryset), f"subscribers-{stamp}.csv")
