"""Tracking webhooks of the providers added for batch sending (SendGrid, SparkPost, Mailjet,
Mandrill, Unisender Go, MailerSend, Mailtrap, Postal), through anymail's own views behind our
guard (delivery/webhook_urls.py).

Each payload has the provider's documented shape, carrying the metadata our send path gives
each reader (``delivery_id``), so the event finds its Delivery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from django.test import Client

from delivery.models import Delivery, Event
from delivery.tests import test_tracking_support as support
from delivery.tests.test_tracking_support import SECRET, auth, post

delivery = support.delivery

pytestmark = pytest.mark.django_db

MANDRILL_KEY = "mandrill-webhook-key-for-tests"
UNISENDER_KEY = "unisender-go-api-key-for-tests"


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> Any:
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MANDRILL_WEBHOOK_KEY": MANDRILL_KEY,
        "UNISENDER_GO_API_KEY": UNISENDER_KEY,
        "SEND_DEFAULTS": {},
    }
    return settings


def stored(delivery: Delivery) -> Event:
    event = Event.objects.get()
    assert event.delivery == delivery and event.send_id == delivery.send_id
    return event


def test_sendgrid_delivered_event_is_stored_for_its_reader(client: Client, delivery: Delivery) -> None:
    payload = [
        {
            "email": delivery.email,
            "timestamp": 1764655200,
            "event": "delivered",
            "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "response": "250 OK",
            # custom_args (anymail's metadata) come back as fields of the event
            "send_id": str(delivery.send_id),
            "delivery_id": str(delivery.pk),
        }
    ]

    response = client.post(
        "/anymail/sendgrid/tracking/", data=json.dumps(payload), content_type="application/json", **auth()
    )

    assert response.status_code == 200
    event = stored(delivery)
    assert (event.event_type, event.esp_name) == ("delivered", "SendGrid")


def test_sparkpost_open_event_is_stored_for_its_reader(client: Client, delivery: Delivery) -> None:
    payload = [
        {
            "msys": {
                "track_event": {
                    "type": "open",
                    "event_id": "92356927693813856",
                    "message_id": "000443ee14578172be22",
                    "rcpt_to": delivery.email,
                    "timestamp": "1764655200",
                    "rcpt_meta": {"send_id": str(delivery.send_id), "delivery_id": str(delivery.pk)},
                    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0",
                }
            }
        }
    ]

    response = client.post(
        "/anymail/sparkpost/tracking/", data=json.dumps(payload), content_type="application/json", **auth()
    )

    assert response.status_code == 200
    event = stored(delivery)
    assert (event.event_type, event.esp_name) == ("opened", "SparkPost")


def test_mailjet_bounce_event_is_stored_for_its_reader(client: Client, delivery: Delivery) -> None:
    payload = [
        {
            "event": "bounce",
            "time": 1764655200,
            "MessageID": 19421777835146490,
            "Message_GUID": str(uuid.uuid4()),
            "email": delivery.email,
            "mj_campaign_id": 7173,
            "mj_contact_id": 320,
            "customcampaign": "",
            "CustomID": "",
            "Payload": json.dumps({"send_id": str(delivery.send_id), "delivery_id": str(delivery.pk)}),
            "blocked": False,
            "hard_bounce": True,
            "error_related_to": "recipient",
            "error": "user unknown",
        }
    ]

    response = post(client, "/anymail/mailjet/tracking/", payload)  # type: ignore[arg-type]

    assert response.status_code == 200
    event = stored(delivery)
    assert (event.event_type, event.esp_name) == ("bounced", "Mailjet")


def _mandrill_signature(url: str, params: dict[str, str]) -> str:
    signed = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(MANDRILL_KEY.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def test_mandrill_click_event_signed_with_the_webhook_key_is_stored(client: Client, delivery: Delivery) -> None:
    events = [
        {
            "event": "click",
            "ts": 1764655200,
            "url": "https://news.example.com/issues/1/",
            "_id": uuid.uuid4().hex,
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
            "msg": {
                "_id": uuid.uuid4().hex,
                "email": delivery.email,
                "state": "sent",
                "metadata": {"send_id": str(delivery.send_id), "delivery_id": str(delivery.pk)},
            },
        }
    ]
    params = {"mandrill_events": json.dumps(events)}
    url = "http://testserver/anymail/mandrill/tracking/"
    signed_url = f"http://{SECRET}@testserver/anymail/mandrill/tracking/"  # Mandrill signs the URL with its basic auth

    forged = client.post(url, data=params, HTTP_X_MANDRILL_SIGNATURE="bm90IGl0", **auth())
    assert forged.status_code == 400 and not Event.objects.exists()

    response = client.post(
        url, data=params, HTTP_X_MANDRILL_SIGNATURE=_mandrill_signature(signed_url, params), **auth()
    )

    assert response.status_code == 200
    event = stored(delivery)
    assert (event.event_type, event.esp_name) == ("clicked", "Mandrill")


def _unisender_body(delivery: Delivery, *, key: str = UNISENDER_KEY) -> bytes:
    """Unisender Go's callback: signed with the MD5 of the body, its "auth" being the API key."""
    body: dict[str, Any] = {
        "auth": key,
        "events_by_user": [
            {
                "user_id": 456,
                "project_id": "6432890213745872",
                "project_name": "Newsroom",
                "events": [
                    {
                        "event_name": "transactional_email_status",
                        "event_data": {
                            "job_id": "1a3Q2V-0000OZ-S0",
                            "metadata": {"send_id": str(delivery.send_id), "delivery_id": str(delivery.pk)},
                            "email": delivery.email,
                            "status": "delivered",
                            "event_time": "2026-12-02 06:00:00",
                            "delivery_info": {"delivery_status": "", "destination_response": "250 OK"},
                        },
                    }
                ],
            }
        ],
    }
    unsigned = json.dumps(body).encode()
    return unsigned.replace(key.encode(), hashlib.md5(unsigned).hexdigest().encode())  # noqa: S324 - Unisender Go's scheme


def test_unisender_go_status_event_signed_with_the_api_key_is_stored(client: Client, delivery: Delivery) -> None:
    url = "/anymail/unisender_go/tracking/"
    forged = client.post(
        url, data=_unisender_body(delivery, key="not-our-key"), content_type="application/json", **auth()
    )
    assert forged.status_code == 400 and not Event.objects.exists()

    response = client.post(url, data=_unisender_body(delivery), content_type="application/json", **auth())

    assert response.status_code == 200
    event = stored(delivery)
    assert (event.event_type, event.esp_name) == ("delivered", "Unisender Go")


@pytest.mark.parametrize(
    "provider", ["sendgrid", "sparkpost", "mailjet", "unisender_go", "mailersend", "mailtrap", "postal"]
)
def test_a_webhook_without_our_secret_gets_401_and_stores_nothing(
    client: Client, delivery: Delivery, provider: str
) -> None:
    response = client.post(f"/anymail/{provider}/tracking/", data="[]", content_type="application/json")

    assert response.status_code == 401
    assert not Event.objects.exists()


# --- MailerSend, Mailtrap and Postal: each signs its body its own way ---------------------------

MAILERSEND_SECRET = "mailersend-signing-secret-for-tests"
MAILTRAP_SECRET = "mailtrap-tracking-secret-for-tests"


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_mailersend_delivered_event_finds_its_reader_by_the_message_id(
    client: Client, delivery: Delivery, settings: Any
) -> None:
    """MailerSend keeps no metadata: the id of the send answer (X-Message-Id) finds the reader."""
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILERSEND_SIGNING_SECRET": MAILERSEND_SECRET}
    Delivery.objects.filter(pk=delivery.pk).update(provider_message_id="61e01f471053b9fca23ad4e1")
    body = json.dumps(
        {
            "type": "activity.delivered",
            "created_at": "2026-12-02T05:00:00.000000Z",
            "data": {
                "id": uuid.uuid4().hex[:24],
                "type": "delivered",
                "created_at": "2026-12-02T05:00:00.000000Z",
                "email": {
                    "message": {"id": "61e01f471053b9fca23ad4e1"},
                    "recipient": {"email": delivery.email},
                    "tags": [],
                },
                "morph": None,
            },
        }
    ).encode()
    url = "/anymail/mailersend/tracking/"
    forged = client.post(url, data=body, content_type="application/json", HTTP_SIGNATURE="0" * 64, **auth())
    assert forged.status_code == 400 and not Event.objects.exists()

    signature = _hmac_hex(MAILERSEND_SECRET, body)
    response = client.post(url, data=body, content_type="application/json", HTTP_SIGNATURE=signature, **auth())

    assert response.status_code == 200
    assert stored(delivery).event_type == "delivered"


def test_mailtrap_delivery_event_with_our_custom_variables_is_stored(
    client: Client, delivery: Delivery, settings: Any
) -> None:
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILTRAP_TRACKING_SECRET": MAILTRAP_SECRET}
    body = json.dumps(
        {
            "events": [
                {
                    "event": "delivery",
                    "message_id": str(uuid.uuid4()),
                    "sending_stream": "bulk",
                    "email": delivery.email,
                    "timestamp": 1764651600,
                    "event_id": str(uuid.uuid4()),
                    "custom_variables": {"send_id": str(delivery.send_id), "delivery_id": str(delivery.pk)},
                }
            ]
        }
    ).encode()
    url = "/anymail/mailtrap/tracking/"
    forged = client.post(
        url, data=body, content_type="application/json", HTTP_MAILTRAP_SIGNATURE=_hmac_hex("wrong", body), **auth()
    )
    assert forged.status_code == 400 and not Event.objects.exists()

    signature = _hmac_hex(MAILTRAP_SECRET, body)
    response = client.post(url, data=body, content_type="application/json", HTTP_MAILTRAP_SIGNATURE=signature, **auth())

    assert response.status_code == 200
    assert stored(delivery).event_type == "delivered"


def test_postal_message_sent_event_signed_with_its_private_key_is_stored(
    client: Client, delivery: Delivery, settings: Any
) -> None:
    """Postal signs with its server's RSA key (SHA-1, PKCS#1 v1.5); the public key is the setting."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_key = "".join(public_pem.decode().splitlines()[1:-1])
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTAL_WEBHOOK_KEY": public_key}
    Delivery.objects.filter(pk=delivery.pk).update(provider_message_id="4242")
    body = json.dumps(
        {
            "event": "MessageSent",
            "timestamp": 1764651600.0,
            "uuid": str(uuid.uuid4()),
            "payload": {
                "status": "Sent",
                "details": "Message for " + delivery.email + " accepted",
                "output": "250 OK",
                "sent_with_ssl": True,
                "timestamp": 1764651600.0,
                "time": 0.2,
                "message": {
                    "id": 4242,
                    "token": "abcdef123456",
                    "direction": "outgoing",
                    "message_id": "<d1.s1@newsroom.test>",
                    "to": delivery.email,
                    "from": "news@newsroom.test",
                    "subject": "The Newsroom Daily",
                    "timestamp": 1764651590.0,
                    "spam_status": "NotChecked",
                    "tag": None,
                },
            },
        }
    ).encode()
    url = "/anymail/postal/tracking/"
    forged = client.post(url, data=body, content_type="application/json", HTTP_X_POSTAL_SIGNATURE="bm90IGl0", **auth())
    assert forged.status_code == 400 and not Event.objects.exists()

    signature = base64.b64encode(private.sign(body, padding.PKCS1v15(), hashes.SHA1())).decode()  # noqa: S303
    response = client.post(url, data=body, content_type="application/json", HTTP_X_POSTAL_SIGNATURE=signature, **auth())

    assert response.status_code == 200
    assert stored(delivery).event_type == "delivered"
