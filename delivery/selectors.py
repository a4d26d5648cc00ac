"""Reads for the send admin: audience counts, live progress, readers who need attention."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from delivery import pacing, zones
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import Issue
from subscribers.models import MailingList, Segment
from subscribers.selectors import sendable_subscribers

# The rate is measured over the last RATE_WINDOW of sending, so a pause or a slow
# provider shows at once instead of being averaged away.
RATE_WINDOW = datetime.timedelta(seconds=30)
RUNNING = (SendStatus.SNAPSHOTTING, SendStatus.SENDING)
ENDED = (SendStatus.DONE, SendStatus.FAILED, SendStatus.CANCELLED)
PROBLEM_STATUSES = (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN)


def send_open_for_issue(issue: Issue) -> Send | None:
    """The issue's newest send that is planned or running (the one to cancel before editing)."""
    return issue.sends.exclude(status__in=ENDED).order_by("-scheduled_at", "-pk").first()


def audience_count(*, lists: Iterable[MailingList], segment: Segment | None) -> int:
    """Readers a send to this audience would reach if it started now (0 for no audience)."""
    list_items = list(lists)
    if not list_items and segment is None:
        return 0
    return sendable_subscribers(lists=list_items, segment=segment).count()


def _status_counts(send: Send, now: datetime.datetime) -> dict[str, Any]:
    """One aggregate query over the send's Delivery rows, whatever their number."""

    def count(status: str) -> Count:
        return Count("pk", filter=Q(status=status))

    # Rows being sent stay queued until their answer (delivery.claims): queued is what is left.
    return Delivery.objects.filter(send_id=send.pk).aggregate(
        rows=Count("pk"),
        sent=count(DeliveryStatus.SENT),
        failed=count(DeliveryStatus.FAILED),
        uncertain=count(DeliveryStatus.UNCERTAIN),
        skipped=count(DeliveryStatus.SKIPPED),
        queued=count(DeliveryStatus.QUEUED),
        recent=Count("pk", filter=Q(status=DeliveryStatus.SENT, sent_at__gte=now - RATE_WINDOW)),
        last_sent_at=Max("sent_at"),
    )


def _rate(send: Send, counts: dict[str, Any], now: datetime.datetime) -> float:
    """Readers sent per second: over the last window while running, over the whole send once ended."""
    if send.started_at is None:
        return 0.0
    if send.status in RUNNING:
        window = min(RATE_WINDOW, now - send.started_at).total_seconds()
        return counts["recent"] / window if window > 0 else 0.0
    last = counts["last_sent_at"]
    if last is None:
        return 0.0
    elapsed = (last - send.started_at).total_seconds()
    return counts["sent"] / max(elapsed, 1.0)


def send_progress(*, send: Send) -> dict[str, Any]:
    """What the progress bar shows, JSON-ready; one query for any audience size."""
    now = timezone.now()
    counts = _status_counts(send, now)
    total = counts["rows"]
    handled = counts["sent"] + counts["failed"] + counts["uncertain"] + counts["skipped"]
    remaining = counts["queued"]
    rate = _rate(send, counts, now)
    limits = pacing.limits_in_force()
    eta = None
    if send.status in RUNNING and remaining:
        eta = pacing.time_left(remaining=remaining, achieved=rate, limits=limits, now=now)
    wait = pacing.window_wait(send, now) if send.status in RUNNING else 0.0
    zone_rows = zones.zones_progress(send, now) if send.local_time is not None else []
    if send.status in RUNNING and remaining and zone_rows:
        eta = max(eta or 0, zones.seconds_to_last_zone(zone_rows, now))  # not before the last zone's hour
    return {
        "id": send.pk,
        "status": send.status,
        "status_label": send.get_status_display(),
        "ended": send.status in ENDED,
        "total": total,
        "sent": counts["sent"],
        "failed": counts["failed"],
        "uncertain": counts["uncertain"],
        "skipped": counts["skipped"],
        "remaining": remaining,
        "percent": round(100 * handled / total, 1) if total else 0.0,
        "rate": round(rate, 1),
        "eta_seconds": eta,
        "eta": _duration(eta),
        "limit": limits.describe(),
        "tracking": tracking_sources(send),
        "window": _window_text(send),
        "window_wait": _duration(round(wait)) if wait else "",
        "local_time": _local_text(send),
        "zones": zone_rows,
        "error": send.error,
    }


def _local_text(send: Send) -> str:
    if send.local_time is None or send.local_date is None:
        return ""
    return f"{send.local_time:%H:%M} on {send.local_date:%d %b %Y} in each reader's time zone"


def _duration(seconds: int | None) -> str:
    """'42 s', '3 min 5 s', '2 h 10 min', '1 d 4 h'; '—' when unknown."""
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _window_text(send: Send) -> str:
    if send.window_start is None or send.window_end is None:
        return ""
    return f"{send.window_start:%H:%M} to {send.window_end:%H:%M}"


def tracking_sources(send: Send) -> str:
    """Where the send's opens and clicks are counted from: each from one source only."""
    clicks = "first-party redirects" if send.track_clicks else "the provider's tracking"
    opens = "first-party pixel" if send.track_opens else "the provider's tracking"
    return f"Clicks: {clicks}; opens: {opens}."


def send_problem_rows(*, send: Send) -> QuerySet[Delivery]:
    """Failed and uncertain readers of a send, uncertain first (they need a decision)."""
    return (
        Delivery.objects.filter(send=send, status__in=PROBLEM_STATUSES)
        .only("pk", "email", "status", "error", "attempts", "claimed_at", "subscriber_id")
        .order_by("-status", "pk")
    )


def _count_subquery(status: str) -> Coalesce:
    rows = (
        Delivery.objects.filter(send_id=OuterRef("pk"), status=status)
        .order_by()
        .values("send_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def sends_with_counts(queryset: QuerySet[Send]) -> QuerySet[Send]:
    """Sent, failed and uncertain counts per send, computed only for the rows a page shows.

    A finished send has no queued row left, so its sent readers are its audience less the
    failed, uncertain and skipped ones: three short ranges of the (send, status) index rather than a
    count of every row (a page of 100 sends to 60,000 readers each would count six million)."""
    failed, uncertain = _count_subquery(DeliveryStatus.FAILED), _count_subquery(DeliveryStatus.UNCERTAIN)
    rest = F("total") - failed - uncertain - _count_subquery(DeliveryStatus.SKIPPED)
    sent = Case(When(status=SendStatus.DONE, then=rest), default=_count_subquery(DeliveryStatus.SENT))
    return (
        queryset.select_related("issue", "segment")
        .prefetch_related("lists")
        .annotate(sent_count=sent, failed_count=failed, uncertain_count=uncertain)
    )


def send_audience_label(send: Send) -> str:
    """'Lists: News, Tech' or 'Segment: Engaged readers', for the admin."""
    parts = []
    names = [m.name for m in send.lists.all()]
    if names:
        parts.append("Lists: " + ", ".join(names))
    if send.segment_id is not None:
        parts.append(f"Segment: {send.segment}")
    return "; ".join(parts) or "—"
