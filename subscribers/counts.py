"""Stored counts of each list's and each segment's readers, for the admin's pages that list them.

Counting every list's readers (and every segment's, with its rules) on each view
of those pages reads the memberships of every reader: about a second at a
million readers. Below ``AUDIENCE_COUNT_LIVE_LIMIT`` readers the pages count on
each view; above it they show the counts this module stores (ListCount,
SegmentCount) with the time they were taken. The periodic task
``subscribers.refresh_counts`` takes them again every ``AUDIENCE_COUNT_SECONDS``,
a saved segment is counted as soon as it is saved, and the admin's "Count again
now" action counts the rows an editor picks. What sends use is never stored: a
send's audience is counted exactly when it starts, and the segment form's live
count reads the conditions being edited.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from core.paging import table_estimate
from subscribers.models import ListCount, MailingList, Segment, SegmentCount, Subscriber, SubscriberStatus
from subscribers.selectors import SegmentRules, segment_counts


def counts_live() -> bool:
    """Whether the admin counts lists and segments on each view: the readers are few enough."""
    limit = settings.AUDIENCE_COUNT_LIVE_LIMIT
    # PostgreSQL's estimate (as old as the last ANALYZE) when it says "well under the limit"; otherwise
    # (near or over it, a table that shrank since, SQLite, no ANALYZE yet) look for the reader past the
    # limit: an index read of ``limit`` entries, about 8 ms at 100,000.
    estimate = table_estimate(Subscriber.objects.all())
    if estimate is not None and estimate * 2 < limit:
        return True
    return not Subscriber.objects.order_by().values("pk")[limit : limit + 1].exists()


def list_counts_refresh(lists: Iterable[MailingList] | None = None) -> int:
    """Count the lists' readers (every list when None) in one grouped query and store it; the lists counted."""
    ids = [item.pk for item in lists] if lists is not None else list(MailingList.objects.values_list("pk", flat=True))
    if not ids:
        return 0
    through = Subscriber.lists.through
    rows = {
        row["mailinglist_id"]: row
        for row in through.objects.filter(mailinglist_id__in=ids)
        .values("mailinglist_id")
        .annotate(
            readers=Count("pk"),
            active=Count("pk", filter=Q(subscriber__status=SubscriberStatus.ACTIVE)),
            inactive=Count("pk", filter=Q(subscriber__status=SubscriberStatus.INACTIVE)),
        )
        .order_by()
    }
    now = timezone.now()
    empty = {"readers": 0, "active": 0, "inactive": 0}
    with transaction.atomic():
        # A list deleted meanwhile is skipped (its id is no longer there to point at).
        for pk in MailingList.objects.filter(pk__in=ids).values_list("pk", flat=True):
            row = rows.get(pk, empty)
            ListCount.objects.update_or_create(
                mailing_list_id=pk,
                defaults={
                    "readers": row["readers"],
                    "active": row["active"],
                    "inactive": row["inactive"],
                    "counted_at": now,
                },
            )
    return len(ids)


def segment_counts_refresh(segments: Iterable[Segment] | None = None) -> int:
    """Count each segment's readers by its saved rules (every segment when None) and store it."""
    chosen = list(segments) if segments is not None else list(Segment.objects.all())
    for segment in chosen:
        counts = segment_counts(SegmentRules.of(segment))
        if not Segment.objects.filter(pk=segment.pk).exists():
            continue
        SegmentCount.objects.update_or_create(
            segment=segment,
            defaults={"matching": counts["matching"], "sendable": counts["sendable"], "counted_at": timezone.now()},
        )
    return len(chosen)


def audience_counts_refresh() -> int:
    """The periodic task's work: every list and segment, when the admin shows stored counts; else nothing."""
    if counts_live():
        return 0
    return list_counts_refresh() + segment_counts_refresh()


def oldest_count(model: type[ListCount] | type[SegmentCount]) -> datetime.datetime | None:
    """When the oldest of the stored counts was taken, for the page to say so."""
    return model.objects.aggregate(oldest=Min("counted_at"))["oldest"]
