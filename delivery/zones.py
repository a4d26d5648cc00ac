"""Sends "at 07:00 in each reader's time zone".

A send with a ``local_time`` (and ``local_date``) reaches each reader at that time on
that day on their own clock (Subscriber.time_zone); readers with no zone get it at
that time in the publication's zone (settings.TIME_ZONE). It rides on the ordinary
exactly-once machinery:

* **Start.** The send is scheduled for the earliest zone of its audience
  (:func:`first_due`). When it starts, :func:`snapshot_by_zone` stores the whole
  audience as Delivery rows in one transaction, each zone's readers in batches of
  their own (zone *k* numbers its batches from ``k * stride``), and one
  :class:`~delivery.models.SendZone` row per zone says which batches are its own and
  when they are due. Zones whose time has come (or already passed when the send
  starts) are released at once.
* **Release.** The beat task that starts due sends also releases due zones
  (:func:`zones_release_due`): a zone is marked released and its batches enqueued in
  the same transaction, through pipeline.enqueue_batches, so a lost task is found by
  the ordinary recovery. No ETA task waits in the broker for hours.
* **Guard.** A batch of a zone not yet due that reaches a worker anyway (a resumed
  send enqueues every queued batch) waits like a batch outside its window
  (:func:`zone_wait`): nothing is sent early, and the claim on each Delivery row still
  makes every reader's copy happen once.

Daylight-saving changes follow RFC 5545 (iCalendar, section 3.3.5): a local time the
clocks skip (02:30 on a spring-forward night) is read with the offset in force before
the gap, so it falls an hour later on the new clock (03:30); a local time that occurs
twice (01:30 on a fall-back night) means the first of the two. That is Python's
``fold=0``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from delivery import pacing
from delivery.forms import publication_tz
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus, SendZone, SendZoneStatus
from subscribers.models import MailingList, Segment
from subscribers.selectors import sendable_subscribers

# Batch numbers stay under 2**24: delivery.claims locks a batch by (send_id << 24) + batch.
BATCH_NUMBERS = (1 << 24) - 1
SENDABLE = (SendStatus.SNAPSHOTTING, SendStatus.SENDING)
Enqueue = Callable[[int, Iterable[int]], None]


def zone_info(name: str) -> ZoneInfo:
    """The reader's zone; the publication's for a blank one (or one the zone data no longer has)."""
    if not name:
        return publication_tz()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return publication_tz()


def zone_due(day: datetime.date, at: datetime.time, name: str) -> datetime.datetime:
    """``day`` at ``at`` on the clock of zone ``name`` (blank: the publication's), in UTC.

    Skipped local times move on by the gap, repeated ones mean the first (module docstring)."""
    local = datetime.datetime.combine(day, at).replace(tzinfo=zone_info(name), fold=0)
    return local.astimezone(datetime.UTC)


def audience_zones(*, lists: Iterable[MailingList], segment: Segment | None) -> dict[str, int]:
    """Readers of the audience by time zone ("" for none known), as the snapshot would see them now."""
    audience = sendable_subscribers(lists=list(lists), segment=segment).order_by()
    return dict(audience.values("time_zone").annotate(n=Count("id")).values_list("time_zone", "n"))


def first_due(
    *, day: datetime.date, at: datetime.time, lists: Iterable[MailingList], segment: Segment | None
) -> datetime.datetime:
    """When a send at each reader's local time starts: at the earliest zone of its audience."""
    names = audience_zones(lists=lists, segment=segment) or {"": 0}
    return min(zone_due(day, at, name) for name in names)


# --- the snapshot -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    zone: str
    due_at: datetime.datetime
    base: int


def _plans(send: Send, counts: dict[str, int], size: int) -> tuple[list[_Plan], int]:
    """Each zone's first batch number, the zones in the order they are due; and the stride."""
    assert send.local_date is not None and send.local_time is not None
    ordered = sorted(counts, key=lambda name: (zone_due(send.local_date, send.local_time, name), name))  # type: ignore[arg-type]
    stride = BATCH_NUMBERS // max(1, len(ordered))
    largest = max(counts.values(), default=0)
    if math.ceil(largest / size) > stride:
        raise ValidationError(
            f"{len(ordered)} time zones with up to {largest:,} readers each need more batches than a send may have; "
            "raise the batch size or send at one time for all."
        )
    plans = [
        _Plan(zone=name, due_at=zone_due(send.local_date, send.local_time, name), base=index * stride)  # type: ignore[arg-type]
        for index, name in enumerate(ordered)
    ]
    return plans, stride


def _insert(send: Send, plans: list[_Plan], size: int, engaged_first: bool) -> None:
    """One INSERT of the whole audience: each reader's batch is their zone's base plus their place in it."""
    audience = sendable_subscribers(lists=list(send.lists.all()), segment=send.segment).order_by()
    columns = audience.values("id", "email", "time_zone", "last_engaged_at", "confirmed_at")
    sql, params = columns.query.sql_with_params()
    order = "c.id"
    if engaged_first:  # a warm-up is in force: within each zone the likeliest readers first (see pipeline)
        order = "c.last_engaged_at DESC NULLS LAST, c.confirmed_at DESC NULLS LAST, c.id"
    case = " ".join("WHEN %s THEN %s" for _ in plans)
    case_params = [value for plan in plans for value in (plan.zone, plan.base)]
    names = ", ".join("%s" for _ in plans)
    table = Delivery._meta.db_table
    # The table name comes from the model, the SELECT from the compiled queryset; every value is a parameter.
    # A reader who joined a zone no reader had when the zones were counted (a moment ago) is left out, as
    # one who subscribes a moment after the snapshot would be. "WHERE true": see pipeline.snapshot_chunk.
    insert = (
        f"INSERT INTO {table} (send_id, subscriber_id, email, status, batch, attempts, "  # noqa: S608
        "provider_message_id, provider_status, error) "
        "SELECT %s, c.id, c.email, %s, "
        f"c.zone_base + (row_number() OVER (PARTITION BY c.time_zone ORDER BY {order}) - 1) / %s, 0, '', '', '' "
        f"FROM (SELECT a.*, CASE a.time_zone {case} END AS zone_base FROM ({sql}) a "
        f"WHERE a.time_zone IN ({names})) c WHERE true ON CONFLICT (send_id, subscriber_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            insert,
            [send.pk, DeliveryStatus.QUEUED, size, *case_params, *params, *(plan.zone for plan in plans)],
        )


def _store_zones(send: Send, plans: list[_Plan], stride: int, now: datetime.datetime) -> list[SendZone]:
    """SendZone rows from the rows the INSERT stored (a zone left empty gets none)."""
    stored = {
        row["k"]: row
        for row in Delivery.objects.filter(send_id=send.pk)
        .values(k=F("batch") / stride)
        .annotate(n=Count("pk"), first=Min("batch"), last=Max("batch"))
    }
    zones = []
    for index, plan in enumerate(plans):
        found = stored.get(index)
        if found is None:
            continue
        due = plan.due_at <= now
        zones.append(
            SendZone(
                send=send,
                zone=plan.zone,
                tz_used=zone_info(plan.zone).key,
                due_at=plan.due_at,
                first_batch=found["first"],
                last_batch=found["last"],
                readers=found["n"],
                status=SendZoneStatus.RELEASED if due else SendZoneStatus.WAITING,
                released_at=now if due else None,
            )
        )
    return SendZone.objects.bulk_create(zones)


def snapshot_by_zone(*, send_id: int, enqueue: Enqueue) -> None:
    """Store the audience of a send at each reader's local time, zone by zone, and enqueue
    the batches of every zone already due; in one transaction (safe to run again: a send
    whose zones are stored only has its released zones enqueued again)."""
    limits = pacing.limits_in_force()
    size = pacing.batch_size(limits)
    engaged_first = limits.warmup is not None and limits.warmup.cap_on(timezone.localdate()) is not None
    now = timezone.now()
    with transaction.atomic():
        send = Send.objects.select_for_update().get(pk=send_id)
        if send.status != SendStatus.SNAPSHOTTING:
            return
        zones = list(send.zones.all())
        if not zones:
            counts = audience_zones(lists=send.lists.all(), segment=send.segment)
            if not counts:
                return
            plans, stride = _plans(send, counts, size)
            _insert(send, plans, size, engaged_first)
            zones = _store_zones(send, plans, stride, now)
            Send.objects.filter(pk=send_id).update(total=Delivery.objects.filter(send_id=send_id).count())
        for zone in zones:
            if zone.status == SendZoneStatus.RELEASED:
                enqueue(send_id, range(zone.first_batch, zone.last_batch + 1))


# --- release and guard --------------------------------------------------------------


def zones_release_due(*, enqueue: Enqueue, now: datetime.datetime | None = None) -> int:
    """Release every zone whose time has come: marked released and its batches enqueued in one
    transaction (a paused send's are enqueued when it resumes). Returns how many were released."""
    now = now or timezone.now()
    with transaction.atomic():
        due = SendZone.objects.filter(status=SendZoneStatus.WAITING, due_at__lte=now).order_by("due_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        zones = list(due.select_related("send")[:200])
        for zone in zones:
            SendZone.objects.filter(pk=zone.pk).update(status=SendZoneStatus.RELEASED, released_at=now)
            if zone.send.status in SENDABLE:
                enqueue(zone.send_id, range(zone.first_batch, zone.last_batch + 1))
    return len(zones)


def zone_wait(send: Send, batch: int, now: datetime.datetime | None = None) -> float:
    """Seconds until the batch's zone is due (0 for a send to everyone at once, or a zone due)."""
    if send.local_time is None:
        return 0.0
    due = (
        SendZone.objects.filter(send_id=send.pk, first_batch__lte=batch, last_batch__gte=batch)
        .values_list("due_at", flat=True)
        .first()
    )
    if due is None:
        return 0.0
    return max(0.0, (due - (now or timezone.now())).total_seconds())


# --- what the progress page shows ----------------------------------------------------------


def zones_progress(send: Send, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """Each zone of the send, in the order they are due: its local and UTC time, its readers, how many
    are sent and still to go, and whether it is waiting, sending or done; one query for the counts."""
    now = now or timezone.now()
    zones = list(send.zones.all())
    if not zones:
        return []
    open_statuses = [DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED]
    counts: dict[str, Count] = {}
    for zone in zones:
        in_zone = Q(batch__gte=zone.first_batch, batch__lte=zone.last_batch)
        counts[f"sent_{zone.pk}"] = Count("pk", filter=in_zone & Q(status=DeliveryStatus.SENT))
        counts[f"open_{zone.pk}"] = Count("pk", filter=in_zone & Q(status__in=open_statuses))
    figures = Delivery.objects.filter(send_id=send.pk).aggregate(**counts)
    rows = []
    for zone in zones:
        to_go = figures[f"open_{zone.pk}"]
        waiting = zone.status == SendZoneStatus.WAITING and zone.due_at > now
        state = "waiting" if waiting else ("sending" if to_go else "done")
        local = zone.due_at.astimezone(ZoneInfo(zone.tz_used))
        rows.append(
            {
                "zone": zone.zone,
                "label": zone.zone or f"No zone known ({zone.tz_used})",
                "local": f"{local:%d %b %H:%M} {local.tzname()}",
                "due_at": zone.due_at.isoformat(),
                "readers": zone.readers,
                "sent": figures[f"sent_{zone.pk}"],
                "to_go": to_go,
                "state": state,
                # Released as the send started, its local time already past: it went at once.
                "late": zone.released_at is not None
                and send.started_at is not None
                and zone.due_at < send.started_at - datetime.timedelta(minutes=1),
            }
        )
    return rows


def seconds_to_last_zone(rows: list[dict[str, Any]], now: datetime.datetime) -> int:
    """Seconds until the last waiting zone of zones_progress() is due (0 when none waits)."""
    waiting = [datetime.datetime.fromisoformat(row["due_at"]) for row in rows if row["state"] == "waiting"]
    return max((round((due - now).total_seconds()) for due in waiting), default=0)
