"""Sending outgoing webhooks: claim the due rows, post each one signed, record the answer.

At least once: a row is claimed by pushing its next attempt a lease ahead
(the claim commits before the post), so a worker that dies mid-post leaves a
row that is due again when the lease ends. In order: a row is due only when
no earlier row with the same ordering key to the same endpoint is still
pending, so a reader's "unsubscribed" never overtakes their "created".
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from outbound import transport
from outbound.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_secret,
)

#: Seconds to wait after each failed attempt (the Standard Webhooks / Svix schedule):
#: 8 attempts over about 27 hours, then the row is marked failed.
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
#: A claimed row is due again after this long if its worker never recorded an answer.
CLAIM_LEASE = datetime.timedelta(minutes=5)
CLAIM_BATCH = 50


def _due(now: datetime.datetime) -> QuerySet[WebhookDelivery]:
    earlier_pending = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        ordering_key=OuterRef("ordering_key"),
        status=DeliveryStatus.PENDING,
        pk__lt=OuterRef("pk"),
    ).exclude(ordering_key="")
    return (
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            endpoint__status=EndpointStatus.ACTIVE,
        )
        .filter(~Exists(earlier_pending))
        .order_by("next_attempt_at", "pk")
    )


def deliveries_claim(*, now: datetime.datetime | None = None, limit: int = CLAIM_BATCH) -> list[int]:
    """Claim up to ``limit`` due rows (set-based, skipping rows another worker holds)."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(_due(now).select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:limit])
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now + CLAIM_LEASE)
    return ids


def delivery_body(delivery: WebhookDelivery) -> str:
    """The JSON body: the Standard Webhooks envelope of type, timestamp and data."""
    envelope = {"type": delivery.event_type, "timestamp": delivery.created_at.isoformat(), "data": delivery.payload}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True)


def delivery_headers(*, delivery: WebhookDelivery, body: str, at: datetime.datetime) -> dict[str, str]:
    signature = Webhook(delivery.endpoint.secret).sign(msg_id=delivery.event_id, timestamp=at, data=body)
    return {
        "Content-Type": "application/json",
        "User-Agent": "Newsroom-Webhooks/1",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def delivery_attempt(*, delivery_id: int) -> WebhookAttempt:
    """Post one claimed row and record what happened."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    at = timezone.now()
    body = delivery_body(delivery)
    result = transport.post(
        delivery.endpoint.url, body=body.encode(), headers=delivery_headers(delivery=delivery, body=body, at=at)
    )
    return _record(delivery=delivery, at=at, result=result)


@transaction.atomic
def _record(*, delivery: WebhookDelivery, at: datetime.datetime, result: transport.PostResult) -> WebhookAttempt:
    error = result.error or ("" if result.ok else f"HTTP {result.status_code}")
    attempt = WebhookAttempt.objects.create(
        delivery=delivery,
        at=at,
        status_code=result.status_code,
        ok=result.ok,
        duration_ms=result.duration_ms,
        response_excerpt=result.excerpt,
        error=error,
    )
    attempts = delivery.attempts + 1
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    if result.ok:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED, attempts=attempts, delivered_at=at, next_attempt_at=None, last_error=""
        )
        endpoints.update(consecutive_failures=0, failing_since=None, last_success_at=at)
        return attempt
    if attempts > len(RETRY_SCHEDULE):
        changes: dict[str, Any] = {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    else:
        changes = {"next_attempt_at": at + datetime.timedelta(seconds=RETRY_SCHEDULE[attempts - 1])}
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=attempts, last_error=error, **changes)
    endpoints.update(consecutive_failures=F("consecutive_failures") + 1, failing_since=Coalesce("failing_since", at))
    _disable_if_failing(endpoint_id=delivery.endpoint_id, now=at)
    return attempt


def _disable_if_failing(*, endpoint_id: int, now: datetime.datetime) -> None:
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    if endpoint.status != EndpointStatus.ACTIVE or endpoint.failing_since is None:
        return
    days = settings.OUTBOUND_WEBHOOKS_DISABLE_AFTER_DAYS
    failures = settings.OUTBOUND_WEBHOOKS_DISABLE_AFTER_FAILURES
    if endpoint.consecutive_failures >= failures:
        reason = f"{endpoint.consecutive_failures} attempts in a row failed"
    elif now - endpoint.failing_since >= datetime.timedelta(days=days):
        reason = f"every attempt failed for {days} days"
    else:
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id, status=EndpointStatus.ACTIVE).update(
        status=EndpointStatus.FAILING,
        disabled_reason=f"Disabled {now:%Y-%m-%d %H:%M} UTC: {reason} (last: {endpoint.url}).",
    )


def deliveries_send_due(*, budget_seconds: float = 50.0) -> int:
    """Send due rows until none is due or the time budget is spent; returns how many attempts were made."""
    started = time.monotonic()
    made = 0
    while time.monotonic() - started < budget_seconds:
        ids = deliveries_claim()
        if not ids:
            break
        for delivery_id in ids:
            delivery_attempt(delivery_id=delivery_id)
            made += 1
    return made


def _kick() -> None:
    # tasks imports this module; imported when needed.
    from outbound import tasks

    tasks.kick()


@transaction.atomic
def deliveries_send_again(*, ids: list[int]) -> int:
    """Put rows back in the queue for a fresh schedule of attempts (the admin's "send again")."""
    changed = WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), delivered_at=None
    )
    transaction.on_commit(_kick)
    return changed


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    """Turn a disabled endpoint back on; what waited for it is due at once."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        status=EndpointStatus.ACTIVE, disabled_reason="", consecutive_failures=0, failing_since=None
    )
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(next_attempt_at=now)
    transaction.on_commit(_kick)


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret; requests signed from now on use it."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret
