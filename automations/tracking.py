"""Provider events for step emails: delivery.tracking stores every event; for one that no
issue Delivery owns it asks ``step_event_find``, which ties it to its StepDelivery, moves
the row's delivered/opened/clicked times (earliest wins, as for issues) and names the
reader, whom delivery.tracking then bounces, suppresses or unsubscribes as for an issue."""

from __future__ import annotations

import re

from anymail.signals import AnymailTrackingEvent
from django.db.models import Value
from django.db.models.functions import Coalesce, Least

from automations.models import StepDelivery, StepEvent
from core.ids import parse_id
from delivery.models import DeliveryStatus, Event
from delivery.tracking import MessageOwner

_OWN_MESSAGE_ID = re.compile(r"^<?q(\d{1,18})\.b(\d{1,18})@")


def _find(event: AnymailTrackingEvent) -> StepDelivery | None:
    rows = StepDelivery.objects.select_related("subscriber")
    recipient = str(event.recipient or "").strip()
    message_id = str(event.message_id or "").strip()
    metadata = event.metadata if isinstance(event.metadata, dict) else {}

    def same(found: StepDelivery | None) -> StepDelivery | None:
        ok = found is not None and (not recipient or found.email.casefold() == recipient.casefold())
        return found if ok else None

    pk = parse_id(str(metadata.get("step_delivery_id") or "")[:40].strip())
    if pk is not None and (found := same(rows.filter(pk=pk).first())):
        return found
    own = _OWN_MESSAGE_ID.match(message_id)
    if own and (found := same(rows.filter(pk=int(own[1]), batch_id=int(own[2])).first())):
        return found
    if not message_id:
        return None
    bare = message_id.strip("<>")
    matches = rows.filter(provider_message_id__in={message_id, bare, f"<{bare}>"})
    if recipient:
        matches = matches.filter(email__iexact=recipient)
    return matches.order_by("-id").first()


def step_event_find(event: AnymailTrackingEvent, stored: Event) -> MessageOwner | None:
    """Tie a stored event to its step email, if it is about one; None otherwise."""
    row = _find(event)
    if row is None:
        return None
    StepEvent.objects.create(event=stored, step_delivery=row)
    rows = StepDelivery.objects.filter(pk=row.pk)
    rows.filter(status=DeliveryStatus.UNCERTAIN).update(
        status=DeliveryStatus.SENT, sent_at=Coalesce("sent_at", Value(stored.at))
    )
    if stored.message_id and not row.provider_message_id:
        rows.filter(provider_message_id="").update(provider_message_id=stored.message_id)
    stages = {
        Event.Type.DELIVERED: ["delivered_at"],
        Event.Type.OPENED: ["delivered_at", "opened_at"],
        Event.Type.CLICKED: ["delivered_at", "opened_at", "clicked_at"],
    }.get(Event.Type(stored.event_type), [])
    if stages:
        rows.update(**{f: Least(Coalesce(f, Value(stored.at)), Value(stored.at)) for f in stages})
    return MessageOwner(subscriber=row.subscriber, email=row.email)
