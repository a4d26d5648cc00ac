"""A send at 07:00 in each reader's time zone on the day New York and Chicago turn their clocks
back, through real worker processes on PostgreSQL and Redis whose clock is moved to each
zone's hour (testing.moved_clock), restarted between the zones."""

from __future__ import annotations

import datetime
from functools import partial
from typing import Any

import pytest
import time_machine

from delivery.models import Delivery, DeliveryStatus, SendStatus, SendZone
from delivery.services import send_create
from issues.models import IssueStatus
from subscribers.models import Subscriber
from testing.audience import readers_create
from testing.factories import MailingListFactory, make_editor, make_full_issue
from testing.fakeprovider import FakeProviderClient
from testing.workers import delivery_counts, kick_due_sends, wait_for_send_end, wait_until

pytestmark = pytest.mark.integration

DAY = datetime.date(2026, 11, 1)  # the United States fall back at 02:00 local time
PER_ZONE, BATCH = 12, 5
# Readers 1-12 have no zone (the publication's, Europe/London: GMT since 25 October), 13-24 are in
# New York (07:00 EST = 12:00 UTC, an hour later than the day before) and 25-36 in Chicago (13:00 UTC).
ZONES = ["", "America/New_York", "America/Chicago"]
HOURS = {"": 7, "America/New_York": 12, "America/Chicago": 13}


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(DAY, datetime.time(hour, minute, second), tzinfo=datetime.UTC)


def _all_accepted(provider: FakeProviderClient, expected: frozenset[str]) -> bool:
    return set(provider.accepted()) == expected


def _none_left(rows: Any) -> bool:
    return not rows.exists()


def addresses(zone: str) -> set[str]:
    first = ZONES.index(zone) * PER_ZONE + 1
    return {f"reader{n}@example.org" for n in range(first, first + PER_ZONE)}


def test_a_three_zone_send_across_the_fall_change_reaches_each_zone_at_its_hour_once(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    daily = MailingListFactory.create(name="Daily")
    readers_create(count=3 * PER_ZONE, mailing_list=daily)
    for zone in ZONES[1:]:
        Subscriber.objects.filter(email__in=addresses(zone)).update(time_zone=zone)
    with time_machine.travel(utc(5), tick=False):
        send = send_create(
            issue=make_full_issue(status=IssueStatus.APPROVED),
            lists=[daily],
            segment=None,
            at=None,
            acting_user=make_editor(),
            local=(DAY, datetime.time(7, 0)),
        )
    assert send.scheduled_at == utc(7)

    done: set[str] = set()
    for index, zone in enumerate(ZONES):
        # Each zone's hour on the workers' clock; a fresh pair of workers each time (a restart).
        workers = worker_processes(
            count=2, clock=utc(HOURS[zone], 0, 20).isoformat(), flush_redis=index == 0, NEWSROOM_BATCH_SIZE=str(BATCH)
        )
        kick_due_sends()
        done |= addresses(zone)
        wait_until(partial(_all_accepted, fake_provider, frozenset(done)), timeout=90, what=f"zone {zone!r} sent")
        # Rows being sent stay queued until their answer is recorded, a moment after the provider took them.
        mine = Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED, email__in=addresses(zone))
        wait_until(partial(_none_left, mine), timeout=30, what=f"zone {zone!r} recorded")
        queued = set(Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED).values_list("email", flat=True))
        assert queued == set().union(*(addresses(z) for z in ZONES[index + 1 :]))
        if index < len(ZONES) - 1:
            workers.stop()

    assert wait_for_send_end(send.pk, timeout=60, workers=workers) == SendStatus.DONE
    stats = fake_provider.stats()
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 3 * PER_ZONE}
    assert (stats["unique_recipients"], stats["duplicates"]) == (3 * PER_ZONE, 0)
    assert dict(SendZone.objects.filter(send=send).values_list("zone", "due_at")) == {
        zone: utc(HOURS[zone]) for zone in ZONES
    }
    # Each reader's row was sent on the workers' clock, in their zone's hour.
    for zone in ZONES:
        sent = Delivery.objects.filter(send=send, email__in=addresses(zone)).values_list("sent_at", flat=True)
        assert all(at is not None and utc(HOURS[zone]) <= at < utc(HOURS[zone], 30) for at in sent)
