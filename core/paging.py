"""A paginator for admin changelists of tables with millions of rows.

Django's changelist counts its rows exactly (``SELECT COUNT(*)``) on every page
view; on PostgreSQL that reads the whole table or index, hundreds of
milliseconds at a million readers. ``LargeTablePaginator`` answers instead:

- unfiltered, with PostgreSQL's own estimate of the table's rows
  (``pg_class.reltuples``, kept by ANALYZE and autovacuum), when that is above
  ``estimate_above`` (below it an exact count is cheap and shown);
- filtered or searched, with a count that stops at ``cap`` rows (a subquery
  with ``LIMIT cap + 1``), so a filter matching half the table costs what one
  matching ``cap`` rows does.

``estimated`` and ``capped`` say which it did, for the template to write
"about 1,000,000" or "more than 2,000" rather than a false exact number.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property


def table_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows in the queryset's table; None elsewhere or before any ANALYZE."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        table = queryset.model._meta.db_table
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    # -1: the table was never analysed.
    return int(row[0]) if row and row[0] >= 0 else None


def unfiltered(queryset: QuerySet[Any]) -> bool:
    query = queryset.query
    return not query.where and not query.distinct and query.low_mark == 0 and query.high_mark is None


class LargeTablePaginator(Paginator):
    # 20 pages of 100; at a million readers a filter matching one in eight reads 16,000 rows to say so.
    cap = 2_000
    estimate_above = 100_000

    def __init__(self, object_list: Any, per_page: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self.estimated = False
        self.capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        if unfiltered(queryset):
            estimate = table_estimate(queryset)
            if estimate is not None and estimate > self.estimate_above and self._really_large(queryset):
                self.estimated = True
                return estimate
            return queryset.count()
        counted = queryset.order_by()[: self.cap + 1].count()
        if counted > self.cap:
            self.capped = True
            return self.cap
        return counted

    def _really_large(self, queryset: QuerySet[Any]) -> bool:
        # The estimate is as old as the last ANALYZE; after a mass delete (or a rolled-back load) it can
        # still say "large". Skipping estimate_above rows says for sure, for what reading them costs.
        return queryset.order_by().values("pk")[self.estimate_above : self.estimate_above + 1].exists()
