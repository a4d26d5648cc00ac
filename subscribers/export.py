"""CSV export of readers, streamed; core.csvwrite guards every cell.

Every column is guarded, the address too (``=cmd|'/C calc'!A0@example.org`` is a
valid address), in a way the CSV import reverses, so an export imports back exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.csvwrite import csv_response
from subscribers.fields import display
from subscribers.models import CustomField, MailingList, Subscriber, SubscriberTag

HEADER = [
    *("email", "name", "status", "source", "lists", "tags"),
    *("created_at", "confirmed_at", "unsubscribed_at", "time_zone"),
]


def _when(value: Any) -> str:
    return value.isoformat() if value else ""


# The reader's own columns, read as tuples: no model instance per reader.
_COLUMNS = (
    *("pk", "email", "name", "status", "source"),
    *("created_at", "confirmed_at", "unsubscribed_at", "time_zone", "attributes"),
)
CHUNK = 2000


def export_rows(queryset: QuerySet[Subscriber]) -> Iterator[list[str]]:
    """The header, then one row per reader in id order, read CHUNK readers at a time.

    Each chunk is one query for the readers' columns and one per membership table for their
    lists' and tags' ids, named from two small dictionaries in the lists' and tags' own order:
    at 100,000 readers about ten times the rate of model instances with prefetched lists."""
    keys = list(CustomField.objects.values_list("key", flat=True))
    yield HEADER + keys
    lists = list(MailingList.objects.values_list("pk", "name"))  # in the lists' order (position, name)
    tags = list(SubscriberTag.objects.values_list("pk", "name"))  # by name
    readers = queryset.order_by("pk").values_list(*_COLUMNS).iterator(chunk_size=CHUNK)
    while chunk := list(itertools.islice(readers, CHUNK)):
        ids = [row[0] for row in chunk]
        in_lists = _names(Subscriber.lists.through, "mailinglist_id", ids, lists)
        tagged = _names(Subscriber.tags.through, "subscribertag_id", ids, tags)
        for pk, email, name, status, source, created, confirmed, left, zone, attributes in chunk:
            values = attributes or {}
            yield [
                email,
                name,
                status,
                source,
                in_lists.get(pk, ""),
                tagged.get(pk, ""),
                _when(created),
                _when(confirmed),
                _when(left),
                zone,
                *(display(values.get(key)) for key in keys),
            ]


def _names(through: Any, column: str, ids: list[int], named: list[tuple[int, str]]) -> dict[int, str]:
    """Each reader's names in a membership table, ";"-joined in the order of ``named``."""
    rank = {pk: n for n, (pk, _) in enumerate(named)}
    names = dict(named)
    found: dict[int, list[int]] = {}
    for reader, item in _memberships(through, column, ids):
        found.setdefault(reader, []).append(item)
    return {reader: ";".join(names[i] for i in sorted(items, key=rank.__getitem__)) for reader, items in found.items()}


def export_response(queryset: QuerySet[Subscriber]) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return csv_response(export_rows(queryset), f"subscribers-{stamp}.csv")


def _memberships(through: Any, column: str, ids: list[int]) -> Any:
    """(reader, list or tag) pairs of these readers: on PostgreSQL the ids go as one array parameter
    (2,000 placeholders cost more to build and parse than the rows they fetch)."""
    if connection.vendor != "postgresql":
        return through.objects.filter(subscriber_id__in=ids).values_list("subscriber_id", column)
    with connection.cursor() as cursor:
        table = through._meta.db_table
        cursor.execute(f'SELECT subscriber_id, "{column}" FROM "{table}" WHERE subscriber_id = ANY(%s)', [ids])  # noqa: S608
        return cursor.fetchall()
