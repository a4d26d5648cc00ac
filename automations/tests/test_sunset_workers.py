"""The sunset policy on PostgreSQL, Redis and real worker processes, on a moved clock.

600 readers of a list with the policy on (after 3 sends, 14 days) received its last
three sends; 200 opened one. The policy's pass sends the other 400 the re-engagement
email through the workers to the fake provider, once each; 100 press "keep me
subscribed"; 14 days later (the clock moved) the other 300 are inactive and the next
issue's audience is the 300 who opened or answered."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from automations import pipeline, sunset
from automations.models import NoticeOutcome, StepDelivery, SunsetNotice
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from subscribers import services as subscriber_services
from subscribers.models import Subscriber, SubscriberStatus
from subscribers.selectors import sendable_subscribers
from testing.audience import readers_create
from testing.factories import IssueFactory, MailingListFactory
from testing.fakeprovider import FakeProviderClient
from testing.workers import wait_until

pytestmark = pytest.mark.integration


def test_the_policy_asks_once_and_moves_the_silent_readers_after_the_grace_days(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    daily = MailingListFactory.create(name="Daily", sunset_enabled=True, sunset_after_sends=3, sunset_grace_days=14)
    readers_create(count=600, mailing_list=daily)
    ids = list(Subscriber.objects.filter(lists=daily).order_by("pk").values_list("pk", flat=True))
    now = timezone.now().replace(microsecond=0)
    for n in range(3):
        at = now - datetime.timedelta(days=3 - n)
        send = Send.objects.create(
            issue=IssueFactory.create(title=f"Issue {n}"), scheduled_at=at, started_at=at, status=SendStatus.DONE
        )
        send.lists.add(daily)
        Delivery.objects.bulk_create(
            Delivery(send=send, subscriber_id=pk, email=f"r{pk}", status=DeliveryStatus.SENT, sent_at=at) for pk in ids
        )
    opened, keepers, silent = ids[:200], ids[200:300], ids[300:]
    Subscriber.objects.filter(pk__in=opened).update(last_engaged_at=now - datetime.timedelta(hours=12))
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="100")

    with time_machine.travel(now, tick=False):
        assert sunset.sunset_apply().noticed == 400
        pipeline.steps_send_due()
        assert sunset.sunset_apply().noticed == 0  # a second pass asks no one again
    try:
        wait_until(
            lambda: StepDelivery.objects.filter(status=DeliveryStatus.SENT).count() == 400,
            timeout=120,
            what="every re-engagement email sent",
        )
    except TimeoutError:
        raise AssertionError(workers.logs()) from None
    stats = fake_provider.stats()
    assert (stats["recipients"], stats["duplicates"]) == (400, 0), stats["duplicate_addresses"]

    for reader in Subscriber.objects.filter(pk__in=keepers):
        subscriber_services.subscriber_keep(subscriber=reader)
    with time_machine.travel(now + datetime.timedelta(days=13), tick=False):
        assert sunset.sunset_apply().moved == 0
    with time_machine.travel(now + datetime.timedelta(days=14, minutes=5), tick=False):
        assert sunset.sunset_apply().moved == 300
    statuses = dict(Subscriber.objects.filter(lists=daily).values_list("pk", "status"))
    assert {statuses[pk] for pk in silent} == {SubscriberStatus.INACTIVE}
    assert {statuses[pk] for pk in opened + keepers} == {SubscriberStatus.ACTIVE}
    outcomes = dict(SunsetNotice.objects.values_list("subscriber_id", "outcome"))
    assert {outcomes[pk] for pk in keepers} == {NoticeOutcome.KEPT} and not set(opened) & set(outcomes)
    assert set(sendable_subscribers(lists=[daily]).values_list("pk", flat=True)) == set(opened + keepers)
