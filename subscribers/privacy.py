"""A reader's personal data: the "download my data" file and erasure.

The audience's own data (address, lists, tags, consents) is handled here.
Apps that keep more about a reader (delivery keeps deliveries and tracking
events) register a part with :func:`privacy_part_register` from their
``AppConfig.ready()``, so this module never imports them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from core.events import EventName, emit
from core.models import OutboxMessage
from subscribers.models import CustomField, ImportJob, Subscriber, Suppression
from subscribers.services import suppression_add


@dataclass(frozen=True)
class PrivacyPart:
    """What another app keeps about a reader.

    ``export`` returns JSON-ready data added under ``key`` to the reader's file;
    ``erase`` removes or scrubs the app's rows; it runs in the erasure's
    transaction, before the reader's row is deleted.
    """

    key: str
    export: Callable[[Subscriber], dict[str, Any]]
    erase: Callable[[Subscriber], None]


_PARTS: dict[str, PrivacyPart] = {}


def privacy_part_register(
    *, key: str, export: Callable[[Subscriber], Any], erase: Callable[[Subscriber], None]
) -> None:
    """Register (or replace, on a second ready()) an app's part of a reader's data."""
    _PARTS[key] = PrivacyPart(key=key, export=export, erase=erase)


def when(value: datetime.datetime | datetime.date | None) -> str | None:
    """A date as the export file writes it."""
    return value.isoformat() if value else None


def subscriber_export_data(*, subscriber: Subscriber) -> dict[str, Any]:
    """Everything stored about a reader, as JSON-ready data (the 'download my data' file)."""
    data: dict[str, Any] = {
        "subscriber": {
            "email": subscriber.email,
            "name": subscriber.name,
            "status": subscriber.status,
            "source": subscriber.source,
            "created_at": when(subscriber.created_at),
            "confirmed_at": when(subscriber.confirmed_at),
            "unsubscribed_at": when(subscriber.unsubscribed_at),
            "paused_until": when(subscriber.paused_until),
            "time_zone": subscriber.time_zone,
            "last_engaged_at": when(subscriber.last_engaged_at),
        },
        "lists": [item.name for item in subscriber.lists.all()],
        "tags": [item.name for item in subscriber.tags.all()],
        # The custom fields editors keep about the reader, under their labels (a field since removed by its key).
        "custom_fields": _custom_fields(subscriber),
        "consents": [
            {
                "action": c.action,
                "at": when(c.at),
                "form": c.form,
                "ip": c.ip,
                "user_agent": c.user_agent,
                "text": c.text,
            }
            for c in subscriber.consents.order_by("at")
        ],
    }
    for part in _PARTS.values():
        data.update(part.export(subscriber))
    return data


def _custom_fields(subscriber: Subscriber) -> dict[str, Any]:
    stored = subscriber.attributes or {}
    labels = dict(CustomField.objects.filter(key__in=list(stored)).values_list("key", "label"))
    return {labels.get(key, key): value for key, value in sorted(stored.items())}


@transaction.atomic
def subscriber_erase(*, subscriber: Subscriber) -> Suppression:
    """Forget a reader: delete them and their consents, have every registered part
    scrub its rows, and keep only the address hash so nothing reaches them again."""
    address = subscriber.email
    emit(EventName.SUBSCRIBER_ERASED, {"subscriber_id": subscriber.pk})
    # The admin's history names the reader by address; keep the entry, drop the address.
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Subscriber), object_id=str(subscriber.pk)
    ).update(object_repr="(erased reader)", change_message="")
    for part in _PARTS.values():
        part.erase(subscriber)
    OutboxMessage.objects.filter(to__iexact=address).delete()
    for job in ImportJob.objects.filter(report__icontains=address):
        job.report = [
            {**row, "email": "(erased)"} if str(row.get("email", "")).lower() == address.lower() else row
            for row in job.report
        ]
        job.save(update_fields=["report"])
    subscriber.delete()
    suppression = suppression_add(email=address, reason=Suppression.Reason.ERASED)
    # An earlier suppression of the same address kept the address itself; erasure removes it.
    Suppression.objects.filter(pk=suppression.pk).update(email="", reason=Suppression.Reason.ERASED, detail="")
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Suppression), object_id=str(suppression.pk)
    ).update(object_repr="(erased address)", change_message="")
    suppression.refresh_from_db()
    return suppression
