"""Provider tracking events: one anymail ``tracking`` receiver and the services it calls.

Every event the provider reports is stored once as an :class:`Event` (duplicates
are recognised by ``dedupe_key`` and change nothing), tied to its Delivery when
we can find it, and then has its effect on the Delivery and on the reader.

Rules worth knowing:

* A Delivery is found by ``delivery_id`` in the message metadata (every send
  carries it as anymail ``merge_metadata``), else by provider message id and
  recipient. Events for messages we cannot find are stored with no Delivery and
  have no effect on any reader.
* ``Delivery.delivered_at``, ``opened_at`` and ``clicked_at`` only ever move to
  an earlier time, so events that arrive late or out of order never move a
  reader backwards. An open or a click is proof of delivery, and a click of an
  open, so they fill the earlier stages too (a later ``delivered`` event with an
  earlier time still wins).
* Hard bounces are anymail's ``rejected`` and ``bounced`` unless the bounce is
  soft by :func:`bounce_is_soft`; soft bounces are ``deferred`` and soft
  ``bounced``. Hard bounces and complaints suppress the address; soft bounces
  count and suppress after ``settings.SOFT_BOUNCE_LIMIT`` in a row (the
  subscribers services keep that count).
* An ``uncertain`` Delivery that receives any event at all was evidently accepted
  by the provider, so it becomes ``sent``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Least
from django.dispatch import receiver
from django.utils import timezone

from delivery.models import Delivery, DeliveryStatus, Event
from subscribers.models import Subscriber, Suppression

logger = logging.getLogger(__name__)

HARD_BOUNCE_TYPES = {EventType.BOUNCED, EventType.REJECTED}
SOFT_BOUNCE_TYPES = {EventType.DEFERRED}
#: Event types that change the reader (the rest only touch the Delivery).
READER_EFFECT_TYPES = {
    *HARD_BOUNCE_TYPES,
    *SOFT_BOUNCE_TYPES,
    EventType.OPENED,
    EventType.CLICKED,
    EventType.COMPLAINED,
    EventType.UNSUBSCRIBED,
}
#: Postmark bounce ``Type`` values that say "try again later", not "no such address".
POSTMARK_SOFT_TYPES = {"SoftBounce", "Transient", "DnsError"}
# An SMTP reply (e.g. "452 ...") or enhanced status (e.g. "4.2.2") in the 4xx class is temporary.
_TEMPORARY_SMTP = re.compile(r"(?:^|\D)(?:4\d\d[\s-]|4\.\d{1,3}\.\d{1,3})")
_PERMANENT_SMTP = re.compile(r"(?:^|\D)(?:5\d\d[\s-]|5\.\d{1,3}\.\d{1,3})")


@receiver(tracking, dispatch_uid="delivery.tracking.on_tracking")
def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail calls this once per event of an authenticated, well-formed webhook post."""
    event_record(event=event, esp_name=esp_name)


def event_record(*, event: AnymailTrackingEvent, esp_name: str) -> Event | None:
    """Store one provider event and apply its effects, once.

    Returns the new Event, or None when the same event was recorded before
    (then nothing changes).
    """
    event_type = _event_type(event)
    at = event.timestamp or timezone.now()
    with transaction.atomic():
        delivery = delivery_for_event(event=event)
        try:
            # A savepoint of its own: a duplicate insert must not spoil the outer transaction.
            with transaction.atomic():
                stored = Event.objects.create(
                    dedupe_key=dedupe_key(event=event, esp_name=esp_name, event_type=event_type, at=at),
                    delivery=delivery,
                    send_id=delivery.send_id if delivery else None,
                    event_type=event_type,
                    at=at,
                    recipient=(event.recipient or "")[:320],
                    message_id=(event.message_id or "")[:200],
                    esp_event_id=str(_provider_event_id(event) or "")[:200],
                    esp_name=esp_name[:40],
                    url=(event.click_url or "")[:2000],
                    reject_reason=(event.reject_reason or "")[:40],
                    description=_description(event),
                    user_agent=(event.user_agent or "")[:500],
                    raw=json_safe(event.esp_event),
                )
        except IntegrityError:
            return None
        if delivery is not None:
            _apply_effects(event=event, stored=stored, delivery=delivery)
    return stored


def delivery_for_event(*, event: AnymailTrackingEvent) -> Delivery | None:
    """The Delivery an event is about: by metadata ``delivery_id``, else message id + recipient."""
    deliveries = Delivery.objects.select_related("subscriber")
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    raw_id = str(metadata.get("delivery_id") or "").strip()
    if raw_id.isdigit():
        found = deliveries.filter(pk=int(raw_id)).first()
        if found is not None:
            return found
    message_id = (event.message_id or "").strip()
    if not message_id:
        return None
    bare = message_id.strip("<>")
    matches = deliveries.filter(provider_message_id__in={message_id, bare, f"<{bare}>"})
    if event.recipient:
        matches = matches.filter(email__iexact=event.recipient.strip())
    return matches.order_by("-id").first()


def dedupe_key(*, event: AnymailTrackingEvent, esp_name: str, event_type: str, at: datetime) -> str:
    """The provider's event id when it has one, else a digest of what makes the event itself."""
    provider_id = _provider_event_id(event)
    if provider_id:
        key = f"{esp_name.lower()}:{provider_id}"
        if len(key) <= 200:
            return key
        return f"{esp_name.lower()}:sha256:{hashlib.sha256(str(provider_id).encode()).hexdigest()}"
    parts = [esp_name.lower(), event_type, event.message_id or "", (event.recipient or "").lower()]
    parts += [at.isoformat(), event.click_url or ""]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{esp_name.lower()}:digest:{digest}"


def bounce_is_soft(event: AnymailTrackingEvent) -> bool:
    """True when a bounce says "later" rather than "never".

    ``deferred`` is always soft. A ``bounced`` event is soft when anymail says the
    connection timed out, when Postmark's own bounce Type is a soft one
    (SoftBounce, Transient, DnsError), or when the provider's text carries a
    temporary SMTP status (4xx or 4.x.x) and no permanent one (5xx or 5.x.x).
    Everything else that bounced is hard; ``rejected`` is always hard.
    """
    if event.event_type in SOFT_BOUNCE_TYPES:
        return True
    if event.event_type != EventType.BOUNCED:
        return False
    if event.reject_reason == RejectReason.TIMED_OUT:
        return True
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if raw.get("RecordType") == "Bounce" and raw.get("Type") in POSTMARK_SOFT_TYPES:
        return True
    text = " ".join(str(part) for part in (event.mta_response, event.description) if part)
    return bool(_TEMPORARY_SMTP.search(text)) and not _PERMANENT_SMTP.search(text)


def json_safe(value: Any) -> dict[str, Any]:
    """The provider's raw event as a JSON object (form posts become lists of values)."""
    if hasattr(value, "lists"):  # a QueryDict from a form-encoded post
        value = {key: values if len(values) > 1 else values[0] for key, values in value.lists()}
    try:
        safe = json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return {"repr": repr(value)[:10000]}
    return safe if isinstance(safe, dict) else {"value": safe}


def _event_type(event: AnymailTrackingEvent) -> str:
    value = str(event.event_type or "")
    return value if value in Event.Type.values else Event.Type.UNKNOWN


def _provider_event_id(event: AnymailTrackingEvent) -> str | None:
    # Mailgun's own event id is stable across webhook retries; anymail's event_id
    # for Mailgun is the signature token, which is only the fallback.
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    event_data = raw.get("event-data")
    if isinstance(event_data, dict) and event_data.get("id"):
        return str(event_data["id"])
    return str(event.event_id) if event.event_id else None


def _description(event: AnymailTrackingEvent) -> str:
    parts = [str(part) for part in (event.description, event.mta_response) if part]
    return "\n".join(dict.fromkeys(parts))[:5000]


def _apply_effects(*, event: AnymailTrackingEvent, stored: Event, delivery: Delivery) -> None:
    _delivery_update(delivery=delivery, event_type=stored.event_type, at=stored.at, message_id=stored.message_id)
    if stored.event_type not in READER_EFFECT_TYPES:
        return
    try:
        with transaction.atomic():
            _reader_update(event=event, stored=stored, delivery=delivery)
    except (ValidationError, PermissionDenied, ObjectDoesNotExist, ValueError):
        # The event stays stored for inspection; the reader's side is logged, not lost silently.
        logger.exception("Tracking event %s could not update its reader", stored.pk)


def _delivery_update(*, delivery: Delivery, event_type: str, at: datetime, message_id: str) -> None:
    rows = Delivery.objects.filter(pk=delivery.pk)
    # Any event at all proves the provider accepted the message.
    rows.filter(status=DeliveryStatus.UNCERTAIN).update(
        status=DeliveryStatus.SENT, sent_at=Coalesce("sent_at", Value(at))
    )
    if message_id and not delivery.provider_message_id:
        rows.filter(provider_message_id="").update(provider_message_id=message_id)
    stages = {
        Event.Type.DELIVERED: ["delivered_at"],
        Event.Type.OPENED: ["delivered_at", "opened_at"],
        Event.Type.CLICKED: ["delivered_at", "opened_at", "clicked_at"],
    }.get(Event.Type(event_type), [])
    if stages:
        # Earliest time wins, in one statement, whatever order the events come in.
        rows.update(**{field: Least(Coalesce(field, Value(at)), Value(at)) for field in stages})


def _reader_update(*, event: AnymailTrackingEvent, stored: Event, delivery: Delivery) -> None:
    # Imported here: the subscribers app must load without delivery's receiver and vice versa.
    import subscribers.services as subscriber_services

    subscriber: Subscriber | None = delivery.subscriber
    detail = f"{stored.esp_name} {stored.event_type}: {stored.description or stored.reject_reason}".strip()[:500]
    kind = stored.event_type
    if kind in (Event.Type.OPENED, Event.Type.CLICKED):
        if subscriber is not None:
            subscriber_services.subscriber_record_engagement(subscriber=subscriber, at=stored.at)
    elif kind in HARD_BOUNCE_TYPES | SOFT_BOUNCE_TYPES:
        hard = not bounce_is_soft(event)
        if subscriber is not None:
            subscriber_services.subscriber_record_bounce(subscriber=subscriber, hard=hard, detail=detail)
        elif hard:
            subscriber_services.suppression_add(
                email=delivery.email, reason=Suppression.Reason.HARD_BOUNCE, detail=detail
            )
    elif kind == Event.Type.COMPLAINED:
        if subscriber is not None:
            subscriber_services.subscriber_mark_complained(subscriber=subscriber, detail=detail)
        else:
            subscriber_services.suppression_add(
                email=delivery.email, reason=Suppression.Reason.COMPLAINT, detail=detail
            )
    elif kind == Event.Type.UNSUBSCRIBED and subscriber is not None:
        subscriber_services.subscriber_unsubscribe(
            subscriber=subscriber, via=f"provider:{stored.esp_name.lower()}", user_agent=stored.user_agent
        )
