"""Pause, resume, cancel and schedule a Send while real worker processes run it;
who is left out of the audience."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from delivery import claims
from delivery.models import Batch, Delivery, DeliveryStatus, Send, SendStatus
from issues.models import IssueStatus
from subscribers.models import Subscriber, SubscriberStatus, Suppression, email_hash
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue
from testing.fakeprovider import FakeProviderClient
from testing.workers import (
    delivery_counts,
    kick_due_sends,
    provider_settles,
    run_task_here,
    send_status,
    send_to_new_list,
    wait_for_send_end,
    wait_until,
)

pytestmark = pytest.mark.integration


def new_send(readers: int, *, at: Any = None) -> tuple[Any, Any]:
    editor = make_editor()
    return send_to_new_list(readers, at=at, editor=editor), editor


def test_pause_stops_every_worker_and_resume_finishes_without_doubles(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    from delivery.services import send_pause, send_resume

    send, editor = new_send(4000)
    fake_provider.set_mode(slow_seconds=0.2, requests=10**6)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="100")
    kick_due_sends()
    wait_until(lambda: fake_provider.stats()["recipients"] >= 500, timeout=60, what="the send to get going")

    send_pause(send=Send.objects.get(pk=send.pk), acting_user=editor)
    paused_at = provider_settles(fake_provider)
    time.sleep(2)

    assert send_status(send.pk) == SendStatus.PAUSED
    assert fake_provider.stats()["recipients"] == paused_at < 4000
    assert delivery_counts(send.pk).get(DeliveryStatus.QUEUED, 0) > 0

    send_resume(send=Send.objects.get(pk=send.pk), acting_user=editor)
    kick_due_sends()
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert status == SendStatus.DONE
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 4000}
    assert (stats["unique_recipients"], stats["duplicates"]) == (4000, 0)


def test_cancel_stops_the_send_and_nobody_else_gets_it(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    from delivery.services import send_cancel

    send, editor = new_send(4000)
    fake_provider.set_mode(slow_seconds=0.2, requests=10**6)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="100")
    kick_due_sends()
    wait_until(lambda: fake_provider.stats()["recipients"] >= 500, timeout=60, what="the send to get going")

    send_cancel(send=Send.objects.get(pk=send.pk), acting_user=editor)
    accepted = provider_settles(fake_provider)
    kick_due_sends()
    time.sleep(2)

    stats = fake_provider.stats()
    assert send_status(send.pk) == SendStatus.CANCELLED
    assert stats["recipients"] == accepted < 4000
    assert stats["duplicates"] == 0
    sent = Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count()
    assert sent == accepted  # whatever the provider took is recorded, the rest never goes
    assert not Batch.objects.filter(claims.IN_FLIGHT, send=send).exists()  # every claim was answered
    assert "Traceback" not in workers.logs()


def test_a_scheduled_send_starts_within_ten_seconds_of_its_time_with_beat(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    # Workers and beat first: on a loaded machine their start alone can take longer than the margin.
    workers = worker_processes(count=1, beat=True, SEND_POLL_SECONDS="2")
    at = timezone.now() + timedelta(seconds=6)
    send, _ = new_send(50, at=at)

    wait_for_send_end(send.pk, timeout=60, workers=workers)

    first = fake_provider.stats()["first_accept_at"]
    assert at.timestamp() <= first <= at.timestamp() + 10
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 50}


def test_suppressed_unsubscribed_and_unconfirmed_readers_are_skipped(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    daily = MailingListFactory.create(name="Daily")
    active = [SubscriberFactory.create(lists=[daily]) for _ in range(6)]
    SubscriberFactory.create(lists=[daily], status=SubscriberStatus.UNSUBSCRIBED)
    SubscriberFactory.create(lists=[daily], status=SubscriberStatus.PENDING, confirmed_at=None)
    SubscriberFactory.create(lists=[daily], status=SubscriberStatus.BOUNCED)
    suppressed = SubscriberFactory.create(lists=[daily])
    Suppression.objects.create(email_hash=email_hash(suppressed.email), email=suppressed.email, reason="manual")
    late_leaver = active.pop()
    from delivery.services import send_create

    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = send_create(issue=issue, lists=[daily], segment=None, at=timezone.now(), acting_user=make_editor())

    # Snapshot here, before any worker runs: the batch tasks wait in the queue.
    run_task_here("delivery.start_due_sends")
    assert Delivery.objects.filter(send=send).count() == 6
    Subscriber.objects.filter(pk=late_leaver.pk).update(status=SubscriberStatus.UNSUBSCRIBED)
    workers = worker_processes(count=1, flush_redis=False)
    wait_for_send_end(send.pk, timeout=60, workers=workers)

    assert fake_provider.accepted() == sorted(s.email for s in active)
    assert Delivery.objects.get(send=send, subscriber=late_leaver).status == DeliveryStatus.SKIPPED
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 5, DeliveryStatus.SKIPPED: 1}
