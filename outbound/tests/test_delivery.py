"""Outgoing webhooks end to end: domain events become signed posts to a local receiver,
which fails, recovers, and sees each event at least once, in order per reader."""

from __future__ import annotations

import datetime
import json
import socket
from typing import Any

import pytest
import time_machine
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from outbound import services
from outbound.models import DeliveryStatus, EndpointStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from outbound.tests.receiver import local_receiver
from subscribers import privacy
from subscribers import services as subscriber_services
from testing.factories import make_pending_reader

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
READER_EVENTS = ["subscriber.created", "subscriber.confirmed", "subscriber.unsubscribed", "subscriber.erased"]


@pytest.fixture(autouse=True)
def _private_allowed(settings: Any) -> None:
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1


def _run_until_idle(traveller: Any) -> None:
    """Send what is due, jumping the clock to each next attempt, until nothing is left to send."""
    for _ in range(40):
        services.deliveries_send_due()
        upcoming = (
            WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, endpoint__status=EndpointStatus.ACTIVE)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if upcoming is None:
            return
        traveller.move_to(max(upcoming, datetime.datetime.now(tz=datetime.UTC)) + datetime.timedelta(seconds=1))
    raise AssertionError("deliveries still pending after 40 rounds")


def test_a_receiver_that_fails_then_recovers_sees_every_event_once_signed_and_in_order() -> None:
    with time_machine.travel(START, tick=False) as traveller, local_receiver(500, 503) as receiver:
        endpoint = WebhookEndpoint.objects.create(url=receiver.url, events=READER_EVENTS)
        ann = subscriber_services.subscriber_subscribe(email="ann@example.org", name="Ann")
        assert ann is not None
        subscriber_services.subscriber_confirm(subscriber=ann)
        subscriber_services.subscriber_unsubscribe(subscriber=ann, via="test")
        bob = make_pending_reader(email="bob@example.org")
        bob_id = bob.pk
        privacy.subscriber_erase(subscriber=bob)
        _run_until_idle(traveller)

    verifier = Webhook(endpoint.secret)
    with time_machine.travel(START, tick=False):
        seen = []
        for headers, body, status in receiver.received:
            envelope = verifier.verify(body, headers)  # raises unless the signature and timestamp are right
            seen.append((headers["webhook-id"], envelope, status))
    delivered = [(event_id, env) for event_id, env, status in seen if status == 200]
    # Two failures first, then each event once.
    assert [status for _id, _env, status in seen][:2] == [500, 503]
    assert len(delivered) == WebhookDelivery.objects.count() == 4
    assert len({event_id for event_id, _env in delivered}) == 4
    ann_events = [env["type"] for _id, env in delivered if env["data"]["subscriber"]["id"] == ann.pk]
    assert ann_events == ["subscriber.created", "subscriber.confirmed", "subscriber.unsubscribed"]
    # A retry carries the same webhook-id: the receiver can drop a duplicate.
    assert seen[0][0] == seen[2][0]
    erased = next(env for _id, env in delivered if env["type"] == "subscriber.erased")
    assert erased["data"] == {"subscriber": {"id": bob_id}}
    assert "bob@example.org" not in json.dumps([env for _id, env in delivered])
    created = next(env for _id, env in delivered if env["type"] == "subscriber.created")
    assert created["data"]["subscriber"]["email"] == "ann@example.org"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert WebhookAttempt.objects.filter(ok=False).count() == 2
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.last_success_at is not None


def test_a_later_event_waits_while_an_earlier_one_of_the_same_reader_is_pending() -> None:
    with time_machine.travel(START, tick=False), local_receiver(500) as receiver:
        WebhookEndpoint.objects.create(url=receiver.url, events=READER_EVENTS)
        ann = subscriber_services.subscriber_subscribe(email="ann@example.org")
        assert ann is not None
        subscriber_services.subscriber_unsubscribe(subscriber=ann, via="test")
        services.deliveries_send_due()
        assert len(receiver.received) == 1  # the created event failed; unsubscribed waits behind it
        assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2


def test_a_delivery_is_marked_failed_after_about_a_day_of_attempts(settings: Any) -> None:
    settings.OUTBOUND_WEBHOOKS_DISABLE_AFTER_FAILURES = 1000
    with time_machine.travel(START, tick=False) as traveller, local_receiver(*[500] * 20) as receiver:
        WebhookEndpoint.objects.create(url=receiver.url, events=READER_EVENTS)
        make_pending_reader(email="ann@example.org")
        subscriber_services.subscriber_subscribe(email="cat@example.org")
        _run_until_idle(traveller)
        elapsed = datetime.datetime.now(tz=datetime.UTC) - START
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == len(services.RETRY_SCHEDULE) + 1 == len(receiver.received)
    assert datetime.timedelta(hours=20) < elapsed < datetime.timedelta(hours=30)
    assert delivery.last_error == "HTTP 500"


def test_an_endpoint_that_keeps_failing_is_disabled_and_the_admin_says_so(settings: Any, admin_client: Any) -> None:
    settings.OUTBOUND_WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    with time_machine.travel(START, tick=False) as traveller, local_receiver(*[500] * 10) as receiver:
        endpoint = WebhookEndpoint.objects.create(url=receiver.url, events=READER_EVENTS)
        subscriber_services.subscriber_subscribe(email="ann@example.org")
        _run_until_idle(traveller)
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.FAILING
    assert len(receiver.received) == 3
    assert "3 attempts in a row failed" in endpoint.disabled_reason
    # No new rows for a disabled endpoint, and the admin's notice names it.
    subscriber_services.subscriber_subscribe(email="dan@example.org")
    assert WebhookDelivery.objects.count() == 1
    page = admin_client.get("/admin/outbound/webhookendpoint/").content.decode()
    assert "is disabled: Disabled" in page and "3 attempts in a row failed" in page


def test_send_again_from_the_admin_posts_the_same_event_id_once_more(admin_client: Any) -> None:
    with local_receiver() as receiver:
        WebhookEndpoint.objects.create(url=receiver.url, events=READER_EVENTS)
        subscriber_services.subscriber_subscribe(email="ann@example.org")
        services.deliveries_send_due()
        delivery = WebhookDelivery.objects.get()
        page = admin_client.get(f"/admin/outbound/webhookdelivery/{delivery.pk}/change/").content.decode()
        assert "Send again" in page and "HTTP" not in delivery.last_error
        admin_client.post(f"/admin/outbound/webhookdelivery/{delivery.pk}/send-again/")
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        services.deliveries_send_due()
    assert [headers["webhook-id"] for headers, _b, _s in receiver.received] == [delivery.event_id] * 2
    assert WebhookAttempt.objects.filter(delivery=delivery, ok=True).count() == 2


def test_only_endpoints_that_asked_for_an_event_get_it_and_a_rolled_back_change_tells_nobody() -> None:
    wants = WebhookEndpoint.objects.create(url="https://hooks.example.org/a", events=["subscriber.created"])
    WebhookEndpoint.objects.create(url="https://hooks.example.org/b", events=["issue.published"])
    WebhookEndpoint.objects.create(
        url="https://hooks.example.org/c", events=["subscriber.created"], status=EndpointStatus.DISABLED
    )
    subscriber_services.subscriber_subscribe(email="ann@example.org")
    with pytest.raises(RuntimeError), transaction.atomic():
        subscriber_services.subscriber_subscribe(email="bob@example.org")
        raise RuntimeError("the change fails after the event")
    assert list(WebhookDelivery.objects.values_list("endpoint_id", "event_type")) == [(wants.pk, "subscriber.created")]


def test_a_name_that_resolves_to_a_private_address_at_send_time_is_refused(settings: Any, monkeypatch: Any) -> None:
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    WebhookEndpoint.objects.create(url="https://hooks.example.org/in", events=["subscriber.created"])
    subscriber_services.subscriber_subscribe(email="ann@example.org")

    def rebound(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    services.deliveries_send_due()
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and not attempt.ok
    assert "resolves to 127.0.0.1" in attempt.error


@pytest.mark.usefixtures("celery_eager")
def test_the_task_sends_right_after_the_commit(django_capture_on_commit_callbacks: Any) -> None:
    with local_receiver() as receiver:
        WebhookEndpoint.objects.create(url=receiver.url, events=READER_EVENTS)
        with django_capture_on_commit_callbacks(execute=True):
            subscriber_services.subscriber_subscribe(email="ann@example.org")
    assert [json.loads(body)["type"] for _h, body, _s in receiver.received] == ["subscriber.created"]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
