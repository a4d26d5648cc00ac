"""The domain-event listener: one WebhookDelivery row per event and interested endpoint.

It runs inside the emitter's transaction (core/events.py), so a row exists
exactly when the change it tells of committed; the send itself happens in a
task after the commit."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.events import EventName, Payload
from outbound import tasks
from outbound.models import EndpointStatus, WebhookDelivery, WebhookEndpoint
from subscribers.models import Subscriber

_SUBSCRIBER_FIELDS = ("id", "email", "name", "status", "source", "created_at", "confirmed_at", "unsubscribed_at")


def _subscriber_views(ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a receiver needs to know of each reader, read with two queries for the whole event."""
    rows = Subscriber.objects.filter(pk__in=ids).prefetch_related("lists", "tags").only(*_SUBSCRIBER_FIELDS)
    views = {}
    for row in rows:
        views[row.pk] = {
            "id": row.pk,
            "email": row.email,
            "name": row.name,
            "status": row.status,
            "source": row.source,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
            "unsubscribed_at": row.unsubscribed_at.isoformat() if row.unsubscribed_at else None,
            "lists": [item.slug for item in row.lists.all()],
            "tags": [item.name for item in row.tags.all()],
        }
    return views


def _data_and_key(name: str, payloads: list[Payload]) -> list[tuple[dict[str, Any], str]]:
    if name == EventName.SUBSCRIBER_ERASED:
        # The reader asked to be forgotten: the receiver learns which id to forget, and nothing else.
        return [({"subscriber": {"id": p["subscriber_id"]}}, f"subscriber:{p['subscriber_id']}") for p in payloads]
    if name.startswith("subscriber."):
        views = _subscriber_views([p["subscriber_id"] for p in payloads])
        out = []
        for p in payloads:
            extra = {k: v for k, v in p.items() if k != "subscriber_id"}
            reader = views.get(p["subscriber_id"], {"id": p["subscriber_id"]})
            out.append(({"subscriber": reader, **extra}, f"subscriber:{p['subscriber_id']}"))
        return out
    if name.startswith("send."):
        return [(dict(p), f"send:{p['send_id']}") for p in payloads]
    if name.startswith("issue."):
        return [(dict(p), f"issue:{p['issue_id']}") for p in payloads]
    return [(dict(p), "") for p in payloads]


def events_record(name: str, payloads: list[Payload]) -> None:
    """Store one delivery row per payload for each active endpoint that asked for ``name``."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(status=EndpointStatus.ACTIVE) if name in e.events]
    if not endpoints:
        return
    now = timezone.now()
    prepared = _data_and_key(name, payloads)
    rows = [
        WebhookDelivery(
            endpoint=endpoint,
            event_id=f"msg_{uuid.uuid4().hex}",
            event_type=name,
            payload=data,
            ordering_key=key,
            created_at=now,
            next_attempt_at=now,
        )
        for endpoint in endpoints
        for data, key in prepared
    ]
    WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    transaction.on_commit(tasks.kick)
