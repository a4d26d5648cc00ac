"""Sequences on PostgreSQL, Redis and real worker processes: a simulated week of readers
confirming, and a worker killed while it sends a step.

The poll (automations.send_due_steps) runs here under a shifted clock, minute by
simulated minute; the batches it enqueues go through Redis to real workers that send
to the fake provider. Readers "confirm" through the event subscriber_confirm emits
(subscriber.confirmed, in bulk per simulated hour), so 5,000 of them take seconds."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from automations import pipeline
from automations.models import DelayUnit, Run, RunStatus, Sequence, StepDelivery
from automations.tests.conftest import make_sequence
from core.events import EventName, emit_many
from delivery.models import DeliveryStatus
from subscribers.models import Subscriber
from testing.audience import readers_create
from testing.fakeprovider import FakeProviderClient
from testing.workers import wait_until

pytestmark = pytest.mark.integration

# The poll's period in simulated time (at most pipeline.LATE_TOLERANCE, so no step drifts).
TICK = datetime.timedelta(minutes=15)


def row_counts() -> dict[str, int]:
    rows = StepDelivery.objects.values("status").annotate(n=Count("pk"))
    return {r["status"]: r["n"] for r in rows}


def test_readers_confirming_over_a_week_get_every_step_once_at_its_time(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    readers, slots = 5000, 84  # a slot every two hours for a week
    Sequence.objects.filter(replaces_welcome=True).delete()  # one series, not the welcome too
    sequence = make_sequence(steps=[(0, DelayUnit.MINUTES), (2, DelayUnit.DAYS), (5, DelayUnit.DAYS)])
    assert sequence.trigger_list is not None
    readers_create(count=readers, mailing_list=sequence.trigger_list)
    ids = list(Subscriber.objects.filter(lists=sequence.trigger_list).order_by("pk").values_list("pk", flat=True))
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="500")
    start = timezone.now().replace(second=0, microsecond=0)
    entries = {start + slot * datetime.timedelta(hours=2): ids[slot::slots] for slot in range(slots)}
    clock, end = start, start + datetime.timedelta(days=14)
    while clock <= end:
        with time_machine.travel(clock, tick=False):
            if clock in entries:
                with transaction.atomic():
                    payloads = [{"subscriber_id": pk, "list_ids": [sequence.trigger_list.pk]} for pk in entries[clock]]
                    emit_many(EventName.SUBSCRIBER_CONFIRMED, payloads)
            pipeline.steps_send_due()
        clock += TICK

    try:
        wait_until(lambda: row_counts() == {DeliveryStatus.SENT: 3 * readers}, timeout=120, what="every step sent")
    except TimeoutError:
        raise AssertionError(f"{row_counts()}\n{workers.logs()}") from None
    stats = fake_provider.stats()
    assert (stats["recipients"], stats["duplicates"]) == (3 * readers, 0), stats["duplicate_addresses"]
    assert Run.objects.filter(sequence=sequence, status=RunStatus.DONE).count() == readers
    # Each step was taken by the poll within one tick of when it was due.
    offsets = {0: datetime.timedelta(0), 1: datetime.timedelta(days=2), 2: datetime.timedelta(days=7)}
    lateness: Counter[int] = Counter()
    rows = StepDelivery.objects.values_list("run__entered_at", "step__position", "created_at")
    for entered, position, created in rows:
        late = created - (entered + offsets[position])
        assert datetime.timedelta(0) <= late < TICK, (entered, position, created)
        lateness[position] += 1
    assert lateness == {0: readers, 1: readers, 2: readers}


def test_a_worker_killed_mid_step_loses_and_doubles_no_one(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    readers, batch_size = 6000, 200
    Sequence.objects.filter(replaces_welcome=True).delete()
    sequence = make_sequence(steps=[(0, DelayUnit.MINUTES)])
    assert sequence.trigger_list is not None
    readers_create(count=readers, mailing_list=sequence.trigger_list)
    ids = list(Subscriber.objects.filter(lists=sequence.trigger_list).values_list("pk", flat=True))
    # Each answer comes a little after the provider accepted the batch: a kill likely lands in between.
    fake_provider.set_mode(slow_seconds=0.3, requests=10**6)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE=str(batch_size))
    with transaction.atomic():
        emit_many(
            EventName.SUBSCRIBER_CONFIRMED,
            [{"subscriber_id": pk, "list_ids": [sequence.trigger_list.pk]} for pk in ids],
        )
    pipeline.steps_send_due()

    wait_until(lambda: fake_provider.stats()["messages"] > 4, timeout=60, interval=0.02, what="a few batches")
    killed = [workers.kill_pool_child("w1"), workers.kill_pool_child("w2")]
    assert len(set(killed)) == 2
    workers.restart("w1")

    def settled() -> bool:
        counts = row_counts()
        return counts.get(DeliveryStatus.SENT, 0) + counts.get(DeliveryStatus.UNCERTAIN, 0) == readers

    try:
        wait_until(settled, timeout=150, what="every reader sent or uncertain")
    except TimeoutError:
        raise AssertionError(f"{row_counts()}\n{workers.logs()}") from None
    stats = fake_provider.stats()
    counts = row_counts()
    assert stats["duplicates"] == 0, stats["duplicate_addresses"]
    # Only batches in flight when a process died may be in doubt; they are shown, never re-sent.
    # Two pool processes are killed, and the restart's SIGTERM to w1's process group can stop
    # its new pool process mid-batch too (on this loaded machine one run left 700 rows, 3.5 batches).
    assert counts.get(DeliveryStatus.UNCERTAIN, 0) <= 4 * batch_size
    sent = set(StepDelivery.objects.filter(status=DeliveryStatus.SENT).values_list("email", flat=True))
    assert sent <= set(fake_provider.accepted())
