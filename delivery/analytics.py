"""Reads for the analytics pages: every figure is one aggregate query in the database.

Nothing here loads events into Python: counts come from ``aggregate`` with
``COUNT(DISTINCT ...) FILTER (WHERE ...)``, time series from ``TruncHour`` /
``TruncDate`` groups, and the only rows that reach Python are the buckets
(at most 48 hours, or one per day) and short top-N lists.

Definitions:

* **sent**: Deliveries the provider accepted (status ``sent``).
* **delivered / unique opens / unique clicks**: Deliveries with ``delivered_at`` /
  ``opened_at`` / ``clicked_at`` set (each reader counts once; a click counts as
  an open, and an open as a delivery, see delivery.tracking). Opens and clicks
  are people's: those of privacy proxies and scanners (delivery.machine) are
  **machine opens**, readers whose only opens were a machine's, shown apart,
  with **all opens** (people's and machines') beside them for comparison with
  figures that do not tell them apart.
* **bounces**: readers with a ``bounced`` or ``rejected`` event (hard and soft
  as the provider reported them; ``deferred`` is counted apart as deferrals).
* **complaints / unsubscribes**: readers with such an event.
* Rates: delivered and bounces are shares of *sent*; opens, clicks, complaints
  and unsubscribes are shares of *delivered*.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from delivery.models import Delivery, DeliveryStatus, Event, Send
from subscribers.models import MailingList, Subscriber

CHART_HOURS = 48
BOUNCE_TYPES = [Event.Type.BOUNCED, Event.Type.REJECTED]
PROBLEM_TYPES = [Event.Type.BOUNCED, Event.Type.REJECTED, Event.Type.COMPLAINED]
READERS_SHOWN = 100
UNMATCHED_SHOWN = 20


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    count: int
    base: str  # "sent", "delivered" or "" (no rate)
    rate: float | None  # a fraction 0..1, None when the base is zero

    @property
    def percent(self) -> str:
        return "-" if self.rate is None else f"{self.rate * 100:.1f}%"


@dataclass(frozen=True)
class HourlyRow:
    hour: datetime
    offset: int  # hours since the start hour
    opens: int
    clicks: int
    machine_opens: int = 0


@dataclass(frozen=True)
class DailyRow:
    day: date
    joined: int
    confirmed: int
    left: int


def send_figures(*, sends: QuerySet[Send]) -> list[Figure]:
    """The headline figures for one or more sends (two queries)."""
    counts = Delivery.objects.filter(send__in=sends).aggregate(
        sent=Count("id", filter=Q(status=DeliveryStatus.SENT)),
        uncertain=Count("id", filter=Q(status=DeliveryStatus.UNCERTAIN)),
        failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
        delivered=Count("id", filter=Q(delivered_at__isnull=False)),
        opened=Count("id", filter=Q(opened_at__isnull=False)),
        clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        machine=Count("id", filter=Q(opened_at__isnull=True, machine_opened_at__isnull=False)),
    )
    problems = Event.objects.filter(
        send__in=sends,
        event_type__in=[*BOUNCE_TYPES, Event.Type.DEFERRED, Event.Type.COMPLAINED, Event.Type.UNSUBSCRIBED],
    ).aggregate(
        bounced=Count("delivery", distinct=True, filter=Q(event_type__in=BOUNCE_TYPES)),
        deferred=Count("delivery", distinct=True, filter=Q(event_type=Event.Type.DEFERRED)),
        complained=Count("delivery", distinct=True, filter=Q(event_type=Event.Type.COMPLAINED)),
        unsubscribed=Count("delivery", distinct=True, filter=Q(event_type=Event.Type.UNSUBSCRIBED)),
    )
    sent, delivered = counts["sent"], counts["delivered"]

    def figure(key: str, label: str, count: int, base: str) -> Figure:
        whole = {"sent": sent, "delivered": delivered}.get(base, 0)
        return Figure(key, label, count, base, (count / whole) if whole else None)

    return [
        figure("sent", "Sent", sent, ""),
        figure("delivered", "Delivered", delivered, "sent"),
        figure("opened", "Unique opens (people)", counts["opened"], "delivered"),
        figure("machine_opened", "Machine opens only (privacy proxies, scanners)", counts["machine"], "delivered"),
        figure("all_opened", "All opens (people and machines)", counts["opened"] + counts["machine"], "delivered"),
        figure("clicked", "Unique clicks", counts["clicked"], "delivered"),
        figure("bounced", "Bounces", problems["bounced"], "sent"),
        figure("deferred", "Deferred (soft, may still arrive)", problems["deferred"], "sent"),
        figure("complained", "Complaints", problems["complained"], "delivered"),
        figure("unsubscribed", "Unsubscribes", problems["unsubscribed"], "delivered"),
        figure("uncertain", "Uncertain (awaiting provider events)", counts["uncertain"], ""),
        figure("failed", "Failed to send", counts["failed"], ""),
    ]


def sends_start(*, sends: QuerySet[Send]) -> datetime | None:
    """When the first of the sends started (or was due, if none has started)."""
    found = sends.aggregate(started=Min("started_at"), scheduled=Min("scheduled_at"))
    return found["started"] or found["scheduled"]


def hourly_engagement(*, sends: QuerySet[Send], start: datetime | None) -> list[HourlyRow]:
    """Open and click events per clock hour for the first 48 hours (people's, and machines' opens apart).

    Hour 0 is the clock hour (in TIME_ZONE) in which the first send started;
    every hour appears, empty ones with zeros.
    """
    if start is None:
        return []
    first = timezone.localtime(start).replace(minute=0, second=0, microsecond=0)
    buckets = (
        Event.objects.filter(
            send__in=sends,
            event_type__in=[Event.Type.OPENED, Event.Type.CLICKED],
            uncounted="",
            at__gte=first,
            at__lt=first + timedelta(hours=CHART_HOURS),
        )
        .annotate(hour=TruncHour("at"))
        .values("hour")
        # The (send, event_type, at) index finds the rows; ``uncounted`` (scanners, the other
        # tracking source) is read from each row, as opens and clicks that do not count stay out.
        .annotate(
            opens=Count("at", filter=Q(event_type=Event.Type.OPENED, machine="")),
            clicks=Count("at", filter=Q(event_type=Event.Type.CLICKED, machine="")),
            machine_opens=Count("at", filter=Q(event_type=Event.Type.OPENED) & ~Q(machine="")),
        )
        .order_by("hour")
    )
    found: dict[datetime, Any] = {timezone.localtime(row["hour"]): row for row in buckets}
    rows = []
    for offset in range(CHART_HOURS):
        hour = first + timedelta(hours=offset)
        row = found.get(timezone.localtime(hour), {})
        rows.append(HourlyRow(hour, offset, row.get("opens", 0), row.get("clicks", 0), row.get("machine_opens", 0)))
    return rows


def top_links(*, sends: QuerySet[Send], limit: int | None = 10) -> list[Any]:
    """Clicked links by unique readers (then total clicks)."""
    links = (
        Event.objects.filter(send__in=sends, event_type=Event.Type.CLICKED, machine="", uncounted="")
        .exclude(url="")
        .values("url")
        .annotate(readers=Count("delivery", distinct=True), clicks=Count("id"))
        .order_by("-readers", "-clicks", "url")
    )
    return list(links[:limit] if limit else links)


def _problem_groups(sends: QuerySet[Send]) -> QuerySet[Any, Any]:
    return (
        Event.objects.filter(send__in=sends, event_type__in=PROBLEM_TYPES)
        .values("event_type", "recipient", "delivery__email", "delivery__subscriber__status")
        .annotate(last_at=Max("at"), times=Count("id"), reason=Max("reject_reason"), detail=Max("description"))
    )


def problem_readers(*, sends: QuerySet[Send], limit: int | None = READERS_SHOWN) -> Iterable[Any]:
    """One row per reader and kind (bounced, rejected, complained) with the reader's status now, newest first."""
    groups = _problem_groups(sends).order_by("-last_at", "recipient")
    return list(groups[:limit]) if limit else groups.iterator(chunk_size=2000)


def problem_reader_count(*, sends: QuerySet[Send], shown: int | None = None) -> int:
    """How many rows problem_readers would give without a limit (no query when fewer than the limit were shown)."""
    if shown is not None and shown < READERS_SHOWN:
        return shown
    return _problem_groups(sends).count()


def unmatched_events(*, limit: int | None = UNMATCHED_SHOWN) -> Iterable[Any]:
    """Events that found no Delivery (kept for inspection), newest first."""
    rows = (
        Event.objects.filter(delivery__isnull=True)
        .order_by("-received_at", "-id")
        .values("received_at", "at", "esp_name", "event_type", "recipient", "message_id", "description")
    )
    return list(rows[:limit]) if limit else rows.iterator(chunk_size=2000)


def unmatched_event_count() -> int:
    return Event.objects.filter(delivery__isnull=True).count()


def audience_daily(*, days: int, mailing_list: MailingList | None = None, today: date | None = None) -> list[DailyRow]:
    """Readers who joined, confirmed and left on each of the last ``days`` days (three grouped queries)."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    readers = Subscriber.objects.all()
    if mailing_list is not None:
        readers = readers.filter(lists=mailing_list)

    def per_day(field: str) -> dict[date, int]:
        rows = (
            readers.filter(**{f"{field}__gte": start})
            .annotate(day=TruncDate(field))
            .values("day")
            .annotate(n=Count("id"))
            .order_by()
        )
        return {row["day"]: row["n"] for row in rows}

    joined, confirmed, left = per_day("created_at"), per_day("confirmed_at"), per_day("unsubscribed_at")
    return [
        DailyRow(day, joined.get(day, 0), confirmed.get(day, 0), left.get(day, 0))
        for day in (first + timedelta(days=n) for n in range(days))
    ]


def recent_sends(*, limit: int = 50) -> QuerySet[Send]:
    return Send.objects.select_related("issue").order_by("-scheduled_at", "-id")[:limit]


def csv_rows_hourly(rows: list[HourlyRow]) -> Iterator[list[Any]]:
    yield ["hour_offset", "hour_start", "opens", "clicks", "machine_opens"]
    for row in rows:
        yield [row.offset, row.hour.isoformat(), row.opens, row.clicks, row.machine_opens]


def csv_rows_figures(figures: list[Figure]) -> Iterator[list[Any]]:
    yield ["figure", "count", "rate_of", "rate"]
    for fig in figures:
        yield [fig.label, fig.count, fig.base, "" if fig.rate is None else f"{fig.rate:.4f}"]


def csv_rows_links(links: list[dict[str, Any]]) -> Iterator[list[Any]]:
    yield ["url", "unique_readers", "clicks"]
    for link in links:
        yield [link["url"], link["readers"], link["clicks"]]


def csv_rows_readers(groups: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    yield ["last_at", "event", "email", "times", "reason", "description", "reader_status"]
    for group in groups:
        email = group["delivery__email"] or group["recipient"]
        status = group["delivery__subscriber__status"] or ""
        yield [
            group["last_at"].isoformat(),
            group["event_type"],
            email,
            group["times"],
            group["reason"],
            group["detail"],
            status,
        ]


def csv_rows_daily(rows: list[DailyRow]) -> Iterator[list[Any]]:
    yield ["day", "joined", "confirmed", "left"]
    for row in rows:
        yield [row.day.isoformat(), row.joined, row.confirmed, row.left]


def csv_rows_unmatched(events: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    yield ["received_at", "at", "provider", "event", "recipient", "message_id", "description"]
    for event in events:
        yield [
            event["received_at"].isoformat(),
            event["at"].isoformat(),
            event["esp_name"],
            event["event_type"],
            event["recipient"],
            event["message_id"],
            event["description"],
        ]
