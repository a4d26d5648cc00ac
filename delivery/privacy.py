"""Delivery's part of a reader's personal data, registered with subscribers.privacy."""

from __future__ import annotations

from typing import Any

from delivery.models import Delivery, Event
from subscribers.models import Subscriber
from subscribers.privacy import privacy_part_register, when


def _export(subscriber: Subscriber) -> dict[str, Any]:
    deliveries = Delivery.objects.filter(subscriber=subscriber).select_related("send__issue").order_by("pk")
    events = Event.objects.filter(delivery__subscriber=subscriber).order_by("at")
    return {
        "deliveries": [
            {
                "issue": d.send.issue.title,
                "status": d.status,
                "sent_at": when(d.sent_at),
                "delivered_at": when(d.delivered_at),
                "opened_at": when(d.opened_at),
                "clicked_at": when(d.clicked_at),
            }
            for d in deliveries
        ],
        "events": [{"type": e.event_type, "at": when(e.at), "url": e.url} for e in events],
    }


def _erase(subscriber: Subscriber) -> None:
    # Rows stay for the send's figures; what names the reader goes.
    Event.objects.filter(delivery__subscriber=subscriber).update(recipient="", user_agent="", raw={})
    Delivery.objects.filter(subscriber=subscriber).update(email="", subscriber=None)


def register() -> None:
    privacy_part_register(key="delivery", export=_export, erase=_erase)
