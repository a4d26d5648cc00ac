"""What every resource's routes share: keyset pagination, lookups that 404, and API-side validation."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from api.cursors import BadCursor, cursor_make, cursor_read

M = TypeVar("M", bound=models.Model)
MAX_LIMIT = 200


def keyset_page(
    queryset: QuerySet[M], *, listing: str, filters: dict[str, Any], cursor: str | None, limit: int, field: str
) -> tuple[list[M], str | None]:
    """One page, newest first by ``field`` then id, and the cursor of the next page (None on the last)."""
    queryset = queryset.order_by(f"-{field}", "-pk")
    if cursor:
        after = cursor_read(cursor, listing=listing, filters=filters)
        try:
            value, pk = datetime.datetime.fromisoformat(after[0]), int(after[1])
        except (IndexError, TypeError, ValueError):
            raise BadCursor("The cursor is not valid: pass back next_cursor exactly as it was given.") from None
        queryset = queryset.filter(Q(**{f"{field}__lt": value}) | Q(**{field: value, "pk__lt": pk}))
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, cursor_make(listing=listing, filters=filters, after=[getattr(last, field).isoformat(), last.pk])


def one(queryset: QuerySet[M] | type[M], pk: int) -> M:
    return get_object_or_404(queryset, pk=pk)


def existing(model: type[M], ids: Iterable[int], *, field: str) -> list[M]:
    """The rows with these ids, or a 422 naming ``field`` and the ids that do not exist."""
    wanted = list(dict.fromkeys(ids))
    found = {obj.pk: obj for obj in model._default_manager.filter(pk__in=wanted)}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise ValidationError({field: f"No {model._meta.verbose_name} with id {', '.join(map(str, missing))}."})
    return [found[pk] for pk in wanted]
