"""Provider-shaped webhook payloads and a sent Delivery to aim them at (no tests here).

The payloads follow what anymail 15's Mailgun and Postmark tracking views parse:
Mailgun's JSON webhooks ({"signature": {...}, "event-data": {...}}, signed with
HMAC-SHA256 of timestamp+token under the webhook signing key) and Postmark's
JSON records (RecordType Delivery, Open, Click, Bounce, SpamComplaint,
SubscriptionChange).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from delivery.models import Delivery, DeliveryStatus
from subscribers.models import Subscriber
from testing import factories

SECRET = "hooks:correct-horse"
SIGNING_KEY = "mailgun-signing-key-for-tests"
MAILGUN_URL = "/anymail/mailgun/tracking/"
POSTMARK_URL = "/anymail/postmark/tracking/"


@pytest.fixture
def webhook_settings(settings: Any) -> Any:
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "MAILGUN_API_KEY": "key-test",
        "POSTMARK_SERVER_TOKEN": "pm-test",
        "SEND_DEFAULTS": {},
    }
    settings.SOFT_BOUNCE_LIMIT = 3
    return settings


@pytest.fixture
def delivery(db: None) -> Delivery:
    return make_delivery()


def make_delivery(email: str = "ada@example.org", *, subscriber: Subscriber | None = None, **kwargs: Any) -> Delivery:
    """A sent Delivery of a new send (or ``send=``) to a new confirmed reader (or ``subscriber=``)."""
    reader = subscriber or factories.make_confirmed_reader(email=email)
    send = kwargs.pop("send", None) or factories.SendFactory.create()
    values: dict[str, Any] = {
        "status": DeliveryStatus.SENT,
        "provider_message_id": f"<{uuid.uuid4().hex}@mg.newsroom.test>",
        "sent_at": datetime(2026, 11, 2, 6, 0, tzinfo=UTC),
    }
    values.update(kwargs)
    return Delivery.objects.create(send=send, subscriber=reader, email=email, **values)


def auth(secret: str = SECRET) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def mailgun_payload(
    event: str,
    delivery: Delivery | None = None,
    *,
    at: str = "2026-11-02T06:01:00",
    recipient: str | None = None,
    message_id: str | None = None,
    metadata: bool = True,
    signing_key: str = SIGNING_KEY,
    signed_at: float | None = None,
    **event_fields: Any,
) -> dict[str, Any]:
    """A signed Mailgun event that happened ``at``; Mailgun signs when it posts (``signed_at``, default now)."""
    signature = mailgun_signature(signing_key=signing_key, signed_at=signed_at)
    recipient = recipient or (delivery.email if delivery else "nobody@example.org")
    if message_id is None:
        message_id = delivery.provider_message_id.strip("<>") if delivery else "unknown@mg.newsroom.test"
    user_variables = {}
    if delivery is not None and metadata:
        user_variables = {"delivery_id": str(delivery.pk), "send_id": str(delivery.send_id)}
    event_data: dict[str, Any] = {
        "id": uuid.uuid4().hex[:22],
        "event": event,
        "timestamp": epoch(at),
        "recipient": recipient,
        "recipient-domain": recipient.split("@")[1],
        "message": {"headers": {"message-id": message_id, "to": recipient, "subject": "Today in AI"}, "size": 2048},
        "user-variables": user_variables,
        "tags": ["newsletter"],
        "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
        "log-level": "info",
    }
    event_data.update(event_fields)
    return {"signature": signature, "event-data": event_data}


def mailgun_signature(*, signing_key: str = SIGNING_KEY, signed_at: float | None = None) -> dict[str, str]:
    """Mailgun's signature block: HMAC-SHA256 of timestamp + a fresh token."""
    token = uuid.uuid4().hex
    timestamp = str(int(time.time() if signed_at is None else signed_at))
    signature = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"token": token, "timestamp": timestamp, "signature": signature}


def mailgun_failed(delivery: Delivery, *, severity: str, code: int, message: str, **kwargs: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "severity": severity,
        "reason": "bounce" if severity == "permanent" else "generic",
        "delivery-status": {"code": code, "message": message, "description": "", "attempt-no": 1},
    }
    return mailgun_payload("failed", delivery, **fields, **kwargs)


def postmark_payload(record_type: str, delivery: Delivery | None = None, **fields: Any) -> dict[str, Any]:
    recipient = fields.pop("recipient", delivery.email if delivery else "nobody@example.org")
    payload: dict[str, Any] = {
        "RecordType": record_type,
        "MessageStream": "outbound",
        "ServerID": 23,
        "MessageID": fields.pop("message_id", delivery.provider_message_id if delivery else str(uuid.uuid4())),
        "Tag": "newsletter",
        "Metadata": {"delivery_id": str(delivery.pk), "send_id": str(delivery.send_id)} if delivery else {},
    }
    at = fields.pop("at", "2026-11-02T06:05:00.1234567Z")
    if record_type == "Delivery":
        payload.update(Recipient=recipient, DeliveredAt=at, Details="Test delivery webhook details")
    elif record_type in ("Open", "Click"):
        payload.update(
            Recipient=recipient,
            ReceivedAt=at,
            FirstOpen=True,
            Platform="Desktop",
            UserAgent="Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15",
            Client={"Name": "Apple Mail", "Company": "Apple", "Family": "Apple Mail"},
            OS={"Name": "macOS", "Company": "Apple", "Family": "macOS"},
            Geo={},
        )
    elif record_type in ("Bounce", "SpamComplaint"):
        kind = fields.pop("Type", "HardBounce" if record_type == "Bounce" else "SpamComplaint")
        payload.update(
            ID=fields.pop("ID", int(uuid.uuid4().int % 10**15)),
            Type=kind,
            Email=recipient,
            BouncedAt=at,
            Description="The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            Details="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            # Postmark deactivates the address (Inactive) for hard bounces and complaints only.
            Inactive=kind in ("HardBounce", "BadEmailAddress", "ManuallyDeactivated", "SpamComplaint"),
            CanActivate=True,
            Subject="Today in AI",
        )
    elif record_type == "SubscriptionChange":
        payload.update(
            Recipient=recipient, ChangedAt=at, Origin="Recipient", SuppressSending=True, SuppressionReason="Unsubscribe"
        )
    payload.update(fields)
    return payload


def post(client: Client, url: str, payload: dict[str, Any], **extra: Any) -> Any:
    headers: dict[str, Any] = auth() if "HTTP_AUTHORIZATION" not in extra else {}
    return client.post(url, data=json.dumps(payload), content_type="application/json", **headers, **extra)
