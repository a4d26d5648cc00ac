"""The webhook URLs: only the secret (and Mailgun's signature) gets an event stored; bad bodies get a 4xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from delivery.models import Delivery, Event
from delivery.tests import test_tracking_support as support
from delivery.tests.test_tracking_support import (
    MAILGUN_URL,
    POSTMARK_URL,
    auth,
    mailgun_payload,
    make_delivery,
    post,
    postmark_payload,
)
from subscribers.models import Subscriber, Suppression

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


@pytest.mark.parametrize("url", [MAILGUN_URL, POSTMARK_URL])
def test_while_no_secret_is_configured_every_post_gets_401(
    client: Client, delivery: Delivery, url: str, webhook_settings: Any
) -> None:
    webhook_settings.ANYMAIL = {**webhook_settings.ANYMAIL, "WEBHOOK_SECRET": None}
    payload = mailgun_payload("failed", delivery) if url == MAILGUN_URL else postmark_payload("Bounce", delivery)

    bare = client.post(url, data=json.dumps(payload), content_type="application/json")
    guessed = post(client, url, payload, **auth("anything:at-all"))

    assert (bare.status_code, guessed.status_code) == (401, 401)
    assert "no WEBHOOK_SECRET configured" in bare.content.decode()
    assert not Event.objects.exists()


def test_a_mailgun_post_with_a_bad_signature_is_refused(client: Client, delivery: Delivery) -> None:
    payload = mailgun_payload("delivered", delivery, signing_key="someone-elses-key")

    response = post(client, MAILGUN_URL, payload)

    assert response.status_code == 400
    assert "incorrect signature" in response.content.decode()
    assert not Event.objects.exists()


def test_a_mailgun_post_with_no_signature_is_refused(client: Client, delivery: Delivery) -> None:
    payload = mailgun_payload("delivered", delivery)
    del payload["signature"]

    response = post(client, MAILGUN_URL, payload)

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_the_signing_key_comes_from_anymail_webhook_signing_key(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ANYMAIL_PROVIDER": "mailgun",
        "ANYMAIL_API_KEY": "key-not-the-signing-key",
        "ANYMAIL_SENDER_DOMAIN": "mg.example.com",
        "ANYMAIL_WEBHOOK_SIGNING_KEY": "the-signing-key",
        "WEBHOOK_SECRET": "hooks:pw",
    }
    code = "from django.conf import settings; print(settings.ANYMAIL['MAILGUN_WEBHOOK_SIGNING_KEY'])"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "the-signing-key"


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


def _mailgun_with(delivery: Delivery, change: Any) -> bytes:
    payload = mailgun_payload("failed", delivery, severity="permanent", reason="bounce")
    change(payload["event-data"])
    return json.dumps(payload).encode()


def _postmark_with(delivery: Delivery, change: Any) -> bytes:
    payload = postmark_payload("Bounce", delivery)
    change(payload)
    return json.dumps(payload).encode()


# Bodies that are JSON, signed and carry the secret, but are not what the provider documents.
MALFORMED: dict[str, tuple[str, Any]] = {
    "mailgun: a list": (MAILGUN_URL, lambda d: b"[]"),
    "mailgun: no event name": (MAILGUN_URL, lambda d: _mailgun_with(d, lambda e: e.pop("event"))),
    "mailgun: event-data is a list": (MAILGUN_URL, lambda d: _mailgun_with(d, lambda e: e.clear() or e.update(x=[]))),
    "mailgun: event name is a list": (MAILGUN_URL, lambda d: _mailgun_with(d, lambda e: e.update(event=["x"]))),
    "mailgun: timestamp is words": (MAILGUN_URL, lambda d: _mailgun_with(d, lambda e: e.update(timestamp="today"))),
    "mailgun: timestamp out of range": (MAILGUN_URL, lambda d: _mailgun_with(d, lambda e: e.update(timestamp=1e20))),
    "mailgun: message is text": (MAILGUN_URL, lambda d: _mailgun_with(d, lambda e: e.update(message="hello"))),
    "mailgun: reason is a list": (MAILGUN_URL, lambda d: _mailgun_with(d, lambda e: e.update(reason=["bounce"]))),
    "postmark: a list": (POSTMARK_URL, lambda d: b"[]"),
    "postmark: a list of records": (POSTMARK_URL, lambda d: b'[{"RecordType": "Open"}]'),
    "postmark: date is a number": (POSTMARK_URL, lambda d: _postmark_with(d, lambda p: p.update(BouncedAt=5))),
    "postmark: impossible date": (
        POSTMARK_URL,
        lambda d: _postmark_with(d, lambda p: p.update(BouncedAt="2026-13-45T00:00:00Z")),
    ),
    "postmark: metadata is text": (POSTMARK_URL, lambda d: _postmark_with(d, lambda p: p.update(Metadata="x"))),
    "postmark: record type is a list": (
        POSTMARK_URL,
        lambda d: _postmark_with(d, lambda p: p.update(RecordType=["Bounce"])),
    ),
    "postmark: an inbound message": (
        POSTMARK_URL,
        lambda d: json.dumps({"FromFull": {"Email": "a@example.org"}, "Subject": "hi"}).encode(),
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_body_that_is_not_a_provider_event_gets_400_in_words(client: Client, delivery: Delivery, case: str) -> None:
    url, make_body = MALFORMED[case]

    response = client.post(url, data=make_body(delivery), content_type="application/json", **auth())

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().strip()  # says what is wrong
    assert not Event.objects.exists()
    delivery.refresh_from_db()
    assert delivery.delivered_at is None
    assert Suppression.objects.count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_postmark_body_that_is_not_json_gets_400(client: Client, content_type: str) -> None:
    response = client.post(POSTMARK_URL, data=b"a=b", content_type=content_type, **auth())

    assert response.status_code == 400
    assert not Event.objects.exists()


def test_odd_values_in_a_well_formed_body_are_stored_as_clean_text(client: Client, delivery: Delivery) -> None:
    payload = postmark_payload("Bounce", delivery, Type="HardBounce", MessageID=12345)
    payload["Details"] = "smtp;550 5.1.1 no such\x00 user"
    payload["Tag"] = "news\x00letter"

    response = post(client, POSTMARK_URL, payload)

    assert response.status_code == 200
    event = Event.objects.get()
    assert event.message_id == "12345"
    assert "no such user" in event.description
    assert event.raw["Tag"] == "newsletter"
    assert event.delivery == delivery  # found by the metadata


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


@pytest.mark.integration  # concurrent writers need PostgreSQL: SQLite takes one writer at a time
@pytest.mark.django_db(transaction=True)
def test_duplicates_posted_at_the_same_moment_are_one_row(webhook_settings: Any) -> None:
    target = make_delivery("flood@example.org")
    payload = mailgun_payload("failed", target, severity="temporary", reason="generic")
    start = threading.Barrier(8)
    answers: list[int] = []

    def send_one() -> None:
        try:
            start.wait(timeout=10)
            answers.append(post(Client(), MAILGUN_URL, payload).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert answers == [200] * 8
    assert Event.objects.count() == 1
    assert target.subscriber is not None and Subscriber.objects.get(pk=target.subscriber.pk).soft_bounces == 1


def test_a_head_request_for_setting_up_the_webhook_is_answered(client: Client) -> None:
    assert client.head(POSTMARK_URL).status_code == 200
