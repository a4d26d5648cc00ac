from __future__ import annotations

from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from automations.models import Run, RunStatus
from automations.services import welcome_sequence_ensure
from core.models import OutboxMessage
from subscribers.links import CONFIRM_SALT, confirm_url, make_token
from subscribers.models import Consent, Subscriber, SubscriberStatus
from testing.factories import make_pending_reader
from testing.fixtures import BrokerOutage

pytestmark = pytest.mark.django_db


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_opening_the_link_asks_and_the_button_confirms_and_sends_the_welcome_once(
    celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    # A browser that refuses cookies can still confirm: the signed token is the proof.
    client = Client(enforce_csrf_checks=True)
    reader = make_pending_reader(email="new@example.org")
    url = path_of(confirm_url(subscriber_id=reader.pk, email=reader.email))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        opened = client.get(url)
        first = client.post(url)
        second = client.post(url)
    assert opened.status_code == 200 and "Confirm my subscription" in opened.content.decode()
    assert first.status_code == 200 and "You are subscribed" in first.content.decode()
    assert second.status_code == 200 and "You are subscribed" in second.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE and reader.confirmed_at is not None
    assert reader.consents.filter(action=Consent.Action.CONFIRM).count() == 1
    welcome = OutboxMessage.objects.filter(to="new@example.org", subject__startswith="Welcome")
    assert welcome.count() == 1
    assert "/subscription/" in welcome.get().text_body and "/unsubscribe/" in welcome.get().text_body
    assert welcome.get().headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/one-click/" in welcome.get().headers["List-Unsubscribe"]


def test_a_link_scanner_opening_the_confirmation_link_confirms_nothing(client: Client) -> None:
    reader = make_pending_reader()
    url = path_of(confirm_url(subscriber_id=reader.pk, email=reader.email))
    for _ in range(3):
        assert client.get(url).status_code == 200
        assert client.head(url).status_code == 200
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.PENDING and not reader.consents.exists()


def test_the_link_of_a_reader_who_unsubscribed_since_does_not_reactivate_them(client: Client) -> None:
    reader = make_pending_reader()
    url = path_of(confirm_url(subscriber_id=reader.pk, email=reader.email))
    Subscriber.objects.filter(pk=reader.pk).update(status=SubscriberStatus.UNSUBSCRIBED)
    response = client.post(url)
    assert "This subscription is not active" in response.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED


def test_a_tampered_link_offers_a_fresh_one(client: Client) -> None:
    reader = make_pending_reader()
    url = path_of(confirm_url(subscriber_id=reader.pk, email=reader.email))
    for tampered in (url.replace("/confirm/", "/confirm/x"), url[:-3] + "A/"):
        response = client.post(tampered)
        assert response.status_code == 400
        assert "This link is not valid." in response.content.decode()
        assert "Send me a new link" in response.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.PENDING


def test_a_link_for_another_purpose_does_not_confirm(client: Client) -> None:
    reader = make_pending_reader()
    token = make_token(subscriber_id=reader.pk, email=reader.email, salt="subscribers.unsubscribe")
    response = client.get(f"/subscribe/confirm/{token}/")
    assert response.status_code == 400
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.PENDING


def test_an_expired_link_offers_a_fresh_one_and_resending_works(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    reader = make_pending_reader(email="late@example.org")
    token = make_token(subscriber_id=reader.pk, email=reader.email, salt=CONFIRM_SALT)
    later = signing.time.time() + timedelta(days=8).total_seconds()
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.post(f"/subscribe/confirm/{token}/")
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        answer = client.post("/subscribe/resend/", {"email": "late@example.org"})
    assert answer["Location"] == "/subscribe/thanks/"
    assert OutboxMessage.objects.filter(to="late@example.org").count() == 1
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_with_the_queue_down_the_reader_is_confirmed_and_told_the_welcome_did_not_go(
    client: Client, broker_down: BrokerOutage
) -> None:
    welcome_sequence_ensure()  # made by its migration; again if a test emptied the database
    reader = make_pending_reader(email="calm@example.org")
    url = path_of(confirm_url(subscriber_id=reader.pk, email=reader.email))
    response = client.post(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "You are subscribed" in page
    assert "We could not send you the welcome email just now; it will follow once our mail queue is back." in page
    assert "Choose your newsletters and manage your subscription" in page
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE
    # The welcome is the welcome sequence's first step: the reader's run is stored, due now,
    # and the beat's poll sends it once the queue is back.
    run = Run.objects.get(subscriber=reader, sequence__replaces_welcome=True)
    assert run.status == RunStatus.ACTIVE and run.next_due_at is not None
    assert not OutboxMessage.objects.exists()
