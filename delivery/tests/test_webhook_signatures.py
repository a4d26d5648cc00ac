"""Webhook signatures must be recent and used once (delivery/webhook_signatures.py).

Mailgun signs a timestamp and a token, not the event, so an old or copied
signature block must not carry a made-up event in with it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from svix.webhooks import Webhook

from delivery.models import Delivery, Event
from delivery.tests import test_tracking_support as support
from delivery.tests.test_tracking_support import (
    MAILGUN_URL,
    POSTMARK_URL,
    auth,
    epoch,
    mailgun_payload,
    mailgun_signature,
    make_delivery,
    post,
    postmark_payload,
)
from subscribers.models import Subscriber, SubscriberStatus, Suppression, email_hash

delivery = support.delivery
webhook_settings = support.webhook_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]

RESEND_URL = "/anymail/resend/tracking/"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-signing-secret-for-tests").decode()


def complaint(delivery: Delivery, **kwargs: Any) -> dict[str, Any]:
    return mailgun_payload("complained", delivery, **kwargs)


def is_suppressed(email: str) -> bool:
    return Suppression.objects.filter(email_hash=email_hash(email)).exists()


def test_a_signature_from_2001_is_refused_and_stores_nothing(client: Client, delivery: Delivery) -> None:
    payload = complaint(delivery, signed_at=epoch("2001-09-09T01:46:40"))

    response = post(client, MAILGUN_URL, payload)

    assert response.status_code == 400
    assert "seconds old; at most 300 are accepted" in response.content.decode()
    assert not Event.objects.exists()
    assert not is_suppressed(delivery.email)


@pytest.mark.parametrize(("age", "status"), [(0, 200), (200, 200), (400, 400)])
def test_a_signature_is_taken_only_within_the_max_age(
    client: Client, delivery: Delivery, settings: Any, age: int, status: int
) -> None:
    settings.WEBHOOK_MAX_AGE_SECONDS = 300

    response = post(client, MAILGUN_URL, mailgun_payload("delivered", delivery, signed_at=time.time() - age))

    assert response.status_code == status
    assert Event.objects.exists() == (status == 200)


def test_the_max_age_is_the_operators_setting(client: Client, delivery: Delivery, settings: Any) -> None:
    settings.WEBHOOK_MAX_AGE_SECONDS = 30

    response = post(client, MAILGUN_URL, mailgun_payload("delivered", delivery, signed_at=time.time() - 90))

    assert response.status_code == 400
    assert "at most 30 are accepted" in response.content.decode()


def test_a_signature_dated_in_the_future_is_refused(client: Client, delivery: Delivery) -> None:
    response = post(client, MAILGUN_URL, mailgun_payload("delivered", delivery, signed_at=time.time() + 600))

    assert response.status_code == 400
    assert "in the future" in response.content.decode()
    assert not Event.objects.exists()


def test_a_signature_block_reused_with_another_event_is_refused_and_suppresses_nobody(client: Client) -> None:
    genuine = make_delivery("genuine@example.org")
    victim = make_delivery("victim@example.org")
    first = mailgun_payload("delivered", genuine)
    forged = complaint(victim)
    forged["signature"] = first["signature"]

    answers = (post(client, MAILGUN_URL, first).status_code, post(client, MAILGUN_URL, forged).status_code)

    assert answers == (200, 400)
    assert Event.objects.get().delivery == genuine
    assert "already used for another event" in post(client, MAILGUN_URL, forged).content.decode()
    assert not is_suppressed(victim.email)
    assert Subscriber.objects.get(email=victim.email).status == SubscriberStatus.ACTIVE


def test_a_reused_token_is_refused_in_a_legacy_form_post_too(client: Client, delivery: Delivery) -> None:
    signature = mailgun_signature()
    fields = {"event": "delivered", "recipient": delivery.email, "Message-Id": delivery.provider_message_id}

    first = client.post(MAILGUN_URL, {**fields, **signature}, **auth())
    again = client.post(MAILGUN_URL, {**fields, "event": "complained", **signature}, **auth())

    assert (first.status_code, again.status_code) == (200, 400)
    assert "already used" in again.content.decode()


def test_the_provider_retrying_the_same_post_is_answered_200_and_changes_nothing(
    client: Client, delivery: Delivery
) -> None:
    payload = complaint(delivery)

    answers = [post(client, MAILGUN_URL, payload).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert Event.objects.count() == 1


def test_while_the_cache_does_not_answer_a_signed_post_gets_503_and_an_unsigned_one_is_taken(
    client: Client, delivery: Delivery, settings: Any
) -> None:
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}

    signed = post(client, MAILGUN_URL, complaint(delivery))
    unsigned = post(client, POSTMARK_URL, postmark_payload("Delivery", delivery))

    assert signed.status_code == 503 and signed["Retry-After"] == "60"
    assert "Try again later" in signed.content.decode()
    assert unsigned.status_code == 200
    assert list(Event.objects.values_list("esp_name", flat=True)) == ["Postmark"]
    assert not is_suppressed(delivery.email)


def resend_post(client: Client, body: dict[str, Any], *, msg_id: str, signed_at: float) -> Any:
    data = json.dumps(body)
    signature = Webhook(RESEND_SECRET).sign(msg_id, datetime.fromtimestamp(signed_at, tz=UTC), data)
    headers = {"svix-id": msg_id, "svix-timestamp": str(int(signed_at)), "svix-signature": signature}
    return client.post(RESEND_URL, data=data, content_type="application/json", headers=headers, **auth())


def resend_event(kind: str, recipient: str) -> dict[str, Any]:
    data = {"email_id": str(uuid.uuid4()), "to": [recipient], "created_at": "2026-11-02T06:00:00.000Z"}
    return {"type": kind, "created_at": "2026-11-02T06:01:00.000Z", "data": data}


def test_a_resend_signature_id_reused_for_another_body_is_refused(client: Client, webhook_settings: Any) -> None:
    webhook_settings.ANYMAIL = {**webhook_settings.ANYMAIL, "RESEND_SIGNING_SECRET": RESEND_SECRET}
    msg_id = f"msg_{uuid.uuid4().hex}"

    first = resend_post(client, resend_event("email.delivered", "a@example.org"), msg_id=msg_id, signed_at=time.time())
    other = resend_event("email.complained", "b@example.org")
    again = resend_post(client, other, msg_id=msg_id, signed_at=time.time())

    assert (first.status_code, again.status_code) == (200, 400)
    assert list(Event.objects.values_list("event_type", flat=True)) == ["delivered"]


def test_a_stale_resend_signature_is_refused_by_the_max_age(
    client: Client, webhook_settings: Any, settings: Any
) -> None:
    webhook_settings.ANYMAIL = {**webhook_settings.ANYMAIL, "RESEND_SIGNING_SECRET": RESEND_SECRET}
    settings.WEBHOOK_MAX_AGE_SECONDS = 60
    event = resend_event("email.delivered", "a@example.org")

    # Svix itself allows five minutes; the operator's setting is stricter here.
    response = resend_post(client, event, msg_id=f"msg_{uuid.uuid4().hex}", signed_at=time.time() - 120)

    assert response.status_code == 400
    assert "at most 60 are accepted" in response.content.decode()
