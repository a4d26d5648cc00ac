"""The periodic task that sends the welcome a reader missed because the task queue was down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from core.models import OutboxMessage
from newsroom.celery import app
from subscribers import services
from subscribers.links import confirm_url
from subscribers.models import Consent, Subscriber, SubscriberStatus
from subscribers.tasks import send_missed_welcomes_task
from testing.factories import make_confirmed_reader, make_pending_reader
from testing.fixtures import BrokerOutage

# Queuing happens after each claim commits, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def welcomes_to(address: str) -> int:
    return OutboxMessage.objects.filter(to=address, subject__startswith="Welcome").count()


def confirmed_by_link(email: str, *, ago: timedelta = timedelta(0), **fields: Any) -> Subscriber:
    """A reader who confirmed with the link ``ago`` and whose welcome never went."""
    reader = make_confirmed_reader(email=email, confirmed_at=timezone.now() - ago, **fields)
    Consent.objects.create(subscriber=reader, action=Consent.Action.CONFIRM, form="confirmation link")
    return reader


def test_a_welcome_missed_while_the_queue_was_down_is_sent_by_the_next_run_once(
    client: Client, broker_down: BrokerOutage
) -> None:
    reader = make_pending_reader(email="missed@example.org")
    page = client.post(urlsplit(confirm_url(subscriber_id=reader.pk, email=reader.email)).path).content.decode()
    assert "We could not send you the welcome email just now; it will follow" in page
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE and reader.welcome_sent_at is None

    broker_down.end(eager=True)
    assert send_missed_welcomes_task() == 1
    assert send_missed_welcomes_task() == 0
    assert welcomes_to("missed@example.org") == 1
    welcome = OutboxMessage.objects.get(to="missed@example.org")
    assert "/subscription/" in welcome.text_body and "/one-click/" in welcome.headers["List-Unsubscribe"]
    reader.refresh_from_db()
    assert reader.welcome_sent_at is not None


def test_while_the_queue_is_still_down_nothing_is_recorded_and_a_later_run_sends_it(
    broker_down: BrokerOutage,
) -> None:
    reader = confirmed_by_link("later@example.org")
    assert send_missed_welcomes_task() == 0
    reader.refresh_from_db()
    assert reader.welcome_sent_at is None, "a welcome that was not queued is not recorded as sent"

    broker_down.end(eager=True)
    assert send_missed_welcomes_task() == 1
    assert welcomes_to("later@example.org") == 1


def test_two_runs_that_both_found_the_reader_queue_its_welcome_once(
    celery_eager: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = confirmed_by_link("twice@example.org")
    # Both runs (two beats, or two workers) read the list before either claimed the reader.
    monkeypatch.setattr(
        services, "subscribers_awaiting_welcome", lambda **kwargs: Subscriber.objects.filter(pk=reader.pk)
    )
    assert services.welcomes_send_missed() == 1
    assert services.welcomes_send_missed() == 0
    assert welcomes_to("twice@example.org") == 1


def test_only_readers_who_confirmed_with_the_link_lately_and_had_no_welcome_get_one(celery_eager: None) -> None:
    confirmed_by_link("due@example.org", ago=timedelta(days=2))
    make_confirmed_reader(email="imported@example.org")  # imported or added by an editor: no confirmation
    confirmed_by_link("long-ago@example.org", ago=timedelta(days=4))
    confirmed_by_link("welcomed@example.org", welcome_sent_at=timezone.now())
    left = confirmed_by_link("left@example.org")
    Subscriber.objects.filter(pk=left.pk).update(status=SubscriberStatus.UNSUBSCRIBED)
    make_pending_reader(email="pending@example.org")
    assert send_missed_welcomes_task() == 1
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == ["due@example.org"]


def test_the_beat_runs_it_every_five_minutes() -> None:
    app.finalize()
    entry = app.conf.beat_schedule["send missed welcomes"]
    assert entry["task"] == "subscribers.send_missed_welcomes"
    assert entry["schedule"] == 300.0
