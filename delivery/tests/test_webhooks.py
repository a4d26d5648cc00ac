"""The webhook URLs: only the secret (and Mailgun's signature) gets an event stored; bad bodies get a 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from delivery.models import Delivery, Event
from delivery.tests import test_tracking_support as support
from delivery.tests.test_tracking_support import (
    MAILGUN_URL,
    POSTMARK_URL,
    auth,
    mailgun_payload,
    post,
    postmark_payload,
)

delivery = support.delivery
webhook_settings = support.webhook_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


@pytest.mark.parametrize("url", [MAILGUN_URL, POSTMARK_URL])
def test_a_post_without_the_secret_gets_401_and_stores_nothing(client: Client, delivery: Delivery, url: str) -> None:
    payload = mailgun_payload("delivered", delivery) if url == MAILGUN_URL else postmark_payload("Delivery", delivery)

    response = client.post(url, data=json.dumps(payload), content_type="application/json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert not Event.objects.exists()
    delivery.refresh_from_db()
    assert delivery.delivered_at is None


@pytest.mark.parametrize("url", [MAILGUN_URL, POSTMARK_URL])
def test_a_post_with_the_wrong_secret_gets_401_and_stores_nothing(client: Client, delivery: Delivery, url: str) -> None:
    payload = mailgun_payload("delivered", delivery) if url == MAILGUN_URL else postmark_payload("Delivery", delivery)

    response = post(client, url, payload, **auth("hooks:wrong-password"))

    assert response.status_code == 401
    assert not Event.objects.exists()


def test_a_mailgun_post_with_a_bad_signature_is_refused(client: Client, delivery: Delivery) -> None:
    payload = mailgun_payload("delivered", delivery, signing_key="someone-elses-key")

    response = post(client, MAILGUN_URL, payload)

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_a_signed_mailgun_post_with_the_secret_is_stored(client: Client, delivery: Delivery) -> None:
    payload = mailgun_payload("delivered", delivery)

    response = post(client, MAILGUN_URL, payload)

    assert response.status_code == 200
    event = Event.objects.get()
    assert (event.event_type, event.esp_name, event.delivery, event.send_id) == (
        "delivered",
        "Mailgun",
        delivery,
        delivery.send_id,
    )
    assert event.dedupe_key == f"mailgun:{payload['event-data']['id']}"
    assert event.raw["event-data"]["recipient"] == "ada@example.org"


@pytest.mark.parametrize("url", [MAILGUN_URL, POSTMARK_URL])
@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2"])
def test_a_malformed_body_gets_400_and_stores_nothing(client: Client, url: str, body: bytes) -> None:
    response = client.post(url, data=body, content_type="application/json", **auth())

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_a_mailgun_body_without_event_data_gets_400(client: Client) -> None:
    response = client.post(MAILGUN_URL, data=json.dumps({"hello": "world"}), content_type="application/json", **auth())

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_an_unknown_mailgun_event_type_is_kept_as_unknown(client: Client, delivery: Delivery) -> None:
    response = post(client, MAILGUN_URL, mailgun_payload("stored", delivery))

    assert response.status_code == 200
    event = Event.objects.get()
    assert event.event_type == Event.Type.UNKNOWN
    assert event.raw["event-data"]["event"] == "stored"
    assert event.delivery == delivery


def test_an_unknown_postmark_record_type_is_kept_as_unknown(client: Client, delivery: Delivery) -> None:
    response = post(client, POSTMARK_URL, postmark_payload("Inventory", delivery, ReceivedAt="2026-11-02T07:00:00Z"))

    assert response.status_code == 200
    assert Event.objects.get().event_type == Event.Type.UNKNOWN


@pytest.mark.parametrize("url", [MAILGUN_URL, POSTMARK_URL])
def test_the_same_event_posted_twice_is_stored_once(client: Client, delivery: Delivery, url: str) -> None:
    payload: dict[str, Any]
    payload = mailgun_payload("opened", delivery) if url == MAILGUN_URL else postmark_payload("Open", delivery)

    first = post(client, url, payload)
    second = post(client, url, payload)

    assert (first.status_code, second.status_code) == (200, 200)
    assert Event.objects.count() == 1


def test_a_flood_of_duplicates_is_one_row(client: Client, delivery: Delivery) -> None:
    payload = postmark_payload("Bounce", delivery, ID=777, Type="HardBounce")

    answers = {post(client, POSTMARK_URL, payload).status_code for _ in range(5)}

    assert answers == {200}
    assert Event.objects.filter(event_type="bounced").count() == 1


def test_a_head_request_for_setting_up_the_webhook_is_answered(client: Client) -> None:
    assert client.head(POSTMARK_URL).status_code == 200
