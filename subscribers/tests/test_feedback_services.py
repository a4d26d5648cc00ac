from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from subscribers import services
from subscribers.models import Consent, SubscriberStatus, Suppression, email_hash
from subscribers.selectors import is_suppressed, sendable_subscribers
from testing.factories import make_confirmed_reader

pytestmark = pytest.mark.django_db


def test_a_hard_bounce_bounces_and_suppresses_the_reader() -> None:
    reader = make_confirmed_reader(email="Hard@Example.org")
    services.subscriber_record_bounce(subscriber=reader, hard=True, detail="550 no such user")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.BOUNCED
    suppression = Suppression.objects.get()
    assert suppression.reason == Suppression.Reason.HARD_BOUNCE and suppression.detail == "550 no such user"
    assert is_suppressed("hard@example.org")


def test_soft_bounces_suppress_only_after_the_limit_in_a_row(settings: object) -> None:
    settings.SOFT_BOUNCE_LIMIT = 3  # type: ignore[attr-defined]
    reader = make_confirmed_reader()
    services.subscriber_record_bounce(subscriber=reader, hard=False)
    services.subscriber_record_bounce(subscriber=reader, hard=False)
    services.subscriber_record_engagement(subscriber=reader, at=timezone.now())
    services.subscriber_record_bounce(subscriber=reader, hard=False)
    services.subscriber_record_bounce(subscriber=reader, hard=False)
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE and reader.soft_bounces == 2
    services.subscriber_record_bounce(subscriber=reader, hard=False)
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.BOUNCED
    assert Suppression.objects.get().reason == Suppression.Reason.SOFT_BOUNCES


def test_a_complaint_marks_and_suppresses() -> None:
    reader = make_confirmed_reader()
    services.subscriber_mark_complained(subscriber=reader, detail="abuse report")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.COMPLAINED
    assert Suppression.objects.get(email_hash=email_hash(reader.email)).reason == Suppression.Reason.COMPLAINT


def test_suppression_add_is_idempotent_and_keeps_the_first_reason() -> None:
    services.suppression_add(email="x@example.org", reason=Suppression.Reason.MANUAL)
    services.suppression_add(email="X@EXAMPLE.org", reason=Suppression.Reason.COMPLAINT)
    assert Suppression.objects.count() == 1


def test_engagement_keeps_the_latest_time() -> None:
    reader = make_confirmed_reader()
    later = timezone.now()
    services.subscriber_record_engagement(subscriber=reader, at=later)
    services.subscriber_record_engagement(subscriber=reader, at=later - datetime.timedelta(days=1))
    reader.refresh_from_db()
    assert reader.last_engaged_at == later


def test_unsubscribe_by_provider_is_idempotent_and_recorded_once() -> None:
    reader = make_confirmed_reader()
    services.subscriber_unsubscribe(subscriber=reader, via="provider:mailgun", user_agent="x")
    services.subscriber_unsubscribe(subscriber=reader, via="provider:mailgun")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
    assert reader.consents.filter(action=Consent.Action.UNSUBSCRIBE).get().form == "provider:mailgun"
    assert not sendable_subscribers().exists()


def test_a_bounced_reader_stays_bounced_when_unsubscribing() -> None:
    reader = make_confirmed_reader()
    services.subscriber_record_bounce(subscriber=reader, hard=True)
    services.subscriber_unsubscribe(subscriber=reader, via="link")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.BOUNCED
