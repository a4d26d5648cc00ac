"""Provider tracking events: one anymail ``tracking`` receiver and the services it calls.

Every event the provider reports is stored once as an :class:`Event` (duplicates
are recognised by ``dedupe_key`` and change nothing), tied to its Delivery when
we can find it, and then has its effect on the Delivery and on the reader.

Rules worth knowing:

* A Delivery is found by ``delivery_id`` in the message metadata (every send
  carries it as anymail ``merge_metadata``), else by the Delivery id in our own
  Message-ID header, else by provider message id and recipient; never one sent
  to another address than the event names. Events for messages we cannot find
  are stored with no Delivery, have no effect on any reader, and are listed on
  the analytics index for inspection.
* ``Delivery.delivered_at``, ``opened_at`` and ``clicked_at`` only ever move to
  an earlier time, so events that arrive late or out of order never move a
  reader backwards. An open or a click is proof of delivery, and a click of an
  open, so they fill the earlier stages too (a later ``delivered`` event with an
  earlier time still wins).
* An open or click by a privacy proxy or a link scanner (delivery.machine) is
  stored with its reason in ``Event.machine``; it fills ``delivered_at`` and
  ``machine_opened_at`` only, and changes nothing of the reader's engagement.
* Hard bounces are anymail's ``rejected`` and ``bounced`` unless the bounce is
  soft by :func:`bounce_is_soft`; soft bounces are ``deferred`` and soft
  ``bounced``. Hard bounces and complaints suppress the address at once.
* Soft bounces are counted per message, not per event (Mailgun reports every
  retry of one message), and "in a row" means: the reader's newest messages
  that bounced and never arrived, up to the newest one that did arrive. The run
  is worked out again from the stored Deliveries and Events whenever a bounce or
  a delivery is reported, so duplicates and late events give the same answer,
  and a message delivered in between ends the run. A run of
  ``settings.SOFT_BOUNCE_LIMIT`` suppresses the address.
* An ``uncertain`` Delivery that receives any event at all was evidently accepted
  by the provider, so it becomes ``sent``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Coalesce, Least
from django.dispatch import receiver
from django.utils import timezone

from core.ids import parse_id
from delivery import machine
from delivery.machine import MachineKind, machine_kind
from delivery.models import Delivery, DeliveryStatus, Event, Send, Uncounted
from subscribers.models import Subscriber, Suppression

logger = logging.getLogger(__name__)

HARD_BOUNCE_TYPES = {EventType.BOUNCED, EventType.REJECTED}
SOFT_BOUNCE_TYPES = {EventType.DEFERRED}
#: Event types that change the reader (the rest only touch the Delivery).
READER_EFFECT_TYPES = {
    *HARD_BOUNCE_TYPES,
    *SOFT_BOUNCE_TYPES,
    EventType.DELIVERED,
    EventType.OPENED,
    EventType.CLICKED,
    EventType.COMPLAINED,
    EventType.UNSUBSCRIBED,
}
#: Event types that end or extend a reader's run of soft bounces.
RUN_TYPES = {EventType.DELIVERED, EventType.OPENED, EventType.CLICKED, *HARD_BOUNCE_TYPES, *SOFT_BOUNCE_TYPES}
#: Postmark bounce ``Type`` values that say "this address does not exist", and "try again later".
POSTMARK_HARD_TYPES = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
POSTMARK_SOFT_TYPES = {"SoftBounce", "Transient", "DnsError"}
# Our own Message-ID header, set per recipient when sending (delivery.services): <d{delivery}.s{send}@domain>.
_OWN_MESSAGE_ID = re.compile(r"^<?d(\d{1,18})\.s(\d{1,18})@")
# An SMTP reply (e.g. "452 ...") or enhanced status (e.g. "4.2.2") in the 4xx class is temporary.
_TEMPORARY_SMTP = re.compile(r"(?:^|\D)(?:4\d\d[\s-]|4\.\d{1,3}\.\d{1,3})")
_PERMANENT_SMTP = re.compile(r"(?:^|\D)(?:5\d\d[\s-]|5\.\d{1,3}\.\d{1,3})")


@dataclass(frozen=True)
class MessageOwner:
    """Who an event about a message that is not an issue's Delivery was for (a sequence step)."""

    subscriber: Subscriber | None
    email: str


# Finders for messages other apps send (sequence steps): called with an event no Delivery
# owns, after it is stored; they tie it to their own row and name the reader it was for.
MessageFinder = Callable[[AnymailTrackingEvent, Event], MessageOwner | None]
_message_finders: list[MessageFinder] = []


def message_finder_register(finder: MessageFinder) -> None:
    """Let an upper app (automations) claim provider events for the messages it sends."""
    if finder not in _message_finders:
        _message_finders.append(finder)


@receiver(tracking, dispatch_uid="delivery.tracking.on_tracking")
def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail calls this once per event of an authenticated, well-formed webhook post."""
    event_record(event=event, esp_name=esp_name)


def event_record(*, event: AnymailTrackingEvent, esp_name: str, uncounted: str = "") -> Event | None:
    """Store one provider event and apply its effects, once.

    Returns the new Event, or None when the same event was recorded before
    (then nothing changes). Provider values of the wrong type or with NUL
    characters are stored as cleaned text, never refused half-way.

    An open or click kept apart (``uncounted``: a scanner's, or one the send counts
    from the other source, see :func:`uncounted_reason`) is stored with no effect.
    """
    event_type = _event_type(event)
    at = _aware(event.timestamp) or timezone.now()
    with transaction.atomic():
        delivery = delivery_for_event(event=event)
        uncounted = uncounted or uncounted_reason(delivery=delivery, event_type=event_type, esp_name=esp_name)
        try:
            # A savepoint of its own: a duplicate insert must not spoil the outer transaction.
            with transaction.atomic():
                stored = Event.objects.create(
                    dedupe_key=dedupe_key(event=event, esp_name=esp_name, event_type=event_type, at=at),
                    delivery=delivery,
                    send_id=delivery.send_id if delivery else None,
                    event_type=event_type,
                    at=at,
                    recipient=_text(event.recipient, 320),
                    message_id=_text(event.message_id, 200),
                    esp_event_id=_text(_provider_event_id(event), 200),
                    esp_name=_text(esp_name, 40),
                    url=_text(event.click_url, 2000),
                    reject_reason=_text(event.reject_reason, 40),
                    description=_description(event),
                    user_agent=_text(event.user_agent, 500),
                    machine=_machine(event=event, event_type=event_type, at=at, delivery=delivery),
                    raw=json_safe(event.esp_event),
                    uncounted=uncounted,
                )
        except IntegrityError:
            return None
        if delivery is not None and not uncounted:
            _apply_effects(event=event, stored=stored, delivery=delivery)
        else:
            _other_message(event=event, stored=stored)
    return stored


def _other_message(*, event: AnymailTrackingEvent, stored: Event) -> None:
    """An event no Delivery owns: a registered finder may own it; its reader then feels it as for an issue."""
    for finder in _message_finders:
        owner = finder(event, stored)
        if owner is None:
            continue
        if stored.event_type in READER_EFFECT_TYPES:
            try:
                with transaction.atomic():
                    _reader_effects(event=event, stored=stored, subscriber=owner.subscriber, email=owner.email)
            except (ValidationError, PermissionDenied, ObjectDoesNotExist, ValueError):
                logger.exception("Tracking event %s could not update its reader", stored.pk)
        return


def _machine(*, event: AnymailTrackingEvent, event_type: str, at: datetime, delivery: Delivery | None) -> str:
    """For an open or click: why it was a machine's rather than the reader's ("" for the reader)."""
    if event_type not in (Event.Type.OPENED, Event.Type.CLICKED):
        return MachineKind.PERSON
    return machine_kind(
        user_agent=_text(event.user_agent, 500),
        ip=machine.provider_ip(event.esp_event),
        at=at,
        sent_at=delivery.sent_at if delivery is not None else None,
        provider_flag=machine.provider_flag(event.esp_event),
    )


FIRST_PARTY = "newsroom"  # delivery.firstparty's esp_name


def uncounted_reason(*, delivery: Delivery | None, event_type: str, esp_name: str) -> str:
    """Each open and click is counted from one source per send: ours (first-party
    tracking, when the send has it for that kind) or else the provider's."""
    if delivery is None or event_type not in (Event.Type.OPENED, Event.Type.CLICKED):
        return ""
    field = "track_opens" if event_type == Event.Type.OPENED else "track_clicks"
    ours = bool(Send.objects.filter(pk=delivery.send_id).values_list(field, flat=True).first())
    return "" if ours == (esp_name == FIRST_PARTY) else Uncounted.OTHER_SOURCE


def delivery_for_event(*, event: AnymailTrackingEvent) -> Delivery | None:
    """The Delivery an event is about, or None.

    In this order: the ``delivery_id`` in the message metadata; the Delivery id in
    our own Message-ID header (``<d{delivery}.s{send}@...>``); the provider's
    message id and the recipient. When the event names a recipient, a Delivery to
    another address is never taken (metadata from another site sharing the
    provider account must not touch our readers).
    """
    deliveries = Delivery.objects.select_related("subscriber")
    recipient = _text(event.recipient, 320).strip()
    message_id = _text(event.message_id, 200).strip()
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    # A delivery_id that is not ours (say "²") is ignored like a missing one; the lookups below still apply.
    metadata_id = parse_id(_text(metadata.get("delivery_id"), 40).strip())
    if metadata_id is not None:
        found = deliveries.filter(pk=metadata_id).first()
        if found is not None and _same_address(found, recipient):
            return found
    own = _OWN_MESSAGE_ID.match(message_id)
    if own:
        found = deliveries.filter(pk=int(own[1]), send_id=int(own[2])).first()
        if found is not None and _same_address(found, recipient):
            return found
    if not message_id:
        return None
    bare = message_id.strip("<>")
    matches = deliveries.filter(provider_message_id__in={message_id, bare, f"<{bare}>"})
    if recipient:
        matches = matches.filter(email__iexact=recipient)
    return matches.order_by("-id").first()


def _same_address(delivery: Delivery, recipient: str) -> bool:
    return not recipient or delivery.email.casefold() == recipient.casefold()


def dedupe_key(*, event: AnymailTrackingEvent, esp_name: str, event_type: str, at: datetime) -> str:
    """The provider's event id when it has one, else a digest of what makes the event itself."""
    provider_id = _provider_event_id(event)
    if provider_id:
        key = f"{esp_name.lower()}:{provider_id}"
        if len(key) <= 200:
            return key
        return f"{esp_name.lower()}:sha256:{hashlib.sha256(str(provider_id).encode()).hexdigest()}"
    parts = [esp_name.lower(), event_type, _text(event.message_id, 200), _text(event.recipient, 320).lower()]
    parts += [at.isoformat(), _text(event.click_url, 2000)]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{esp_name.lower()}:digest:{digest}"


def bounce_is_soft(event: AnymailTrackingEvent) -> bool:
    """True when a bounce says "later" rather than "never".

    ``deferred`` is always soft. A Postmark bounce record is judged by Postmark's
    own bounce Type and its ``Inactive`` flag (see :func:`_postmark_bounce_is_soft`).
    Otherwise a ``bounced`` event is soft when anymail says the connection timed
    out, or when the provider's text carries a temporary SMTP status (4xx or
    4.x.x) and no permanent one (5xx or 5.x.x). Everything else that bounced is
    hard, and so is every other ``rejected``.
    """
    if event.event_type in SOFT_BOUNCE_TYPES:
        return True
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if raw.get("RecordType") == "Bounce" and event.event_type in HARD_BOUNCE_TYPES:
        return _postmark_bounce_is_soft(raw)
    if event.event_type != EventType.BOUNCED:
        return False
    if event.reject_reason == RejectReason.TIMED_OUT:
        return True
    text = " ".join(str(part) for part in (event.mta_response, event.description) if part)
    return bool(_TEMPORARY_SMTP.search(text)) and not _PERMANENT_SMTP.search(text)


def _postmark_bounce_is_soft(raw: dict[str, Any]) -> bool:
    # HardBounce, BadEmailAddress, ManuallyDeactivated: the address is gone. SoftBounce,
    # Transient, DnsError: try again later. The rest (Blocked, DMARCPolicy, VirusNotification,
    # ...) are about the message or the sender rather than the address: hard only when
    # Postmark itself deactivated the address (Inactive), as it will refuse to send there.
    kind = raw.get("Type")
    if kind in POSTMARK_HARD_TYPES:
        return False
    if kind in POSTMARK_SOFT_TYPES:
        return True
    return raw.get("Inactive") is not True


def json_safe(value: Any) -> dict[str, Any]:
    """The provider's raw event as a JSON object (form posts become lists of values, NULs are dropped)."""
    if hasattr(value, "lists"):  # a QueryDict from a form-encoded post
        value = {key: values if len(values) > 1 else values[0] for key, values in value.lists()}
    try:
        safe = _without_nul(json.loads(json.dumps(value, default=str)))
    except (TypeError, ValueError, RecursionError):
        return {"repr": _text(repr(value), 10000)}
    return safe if isinstance(safe, dict) else {"value": safe}


def _without_nul(value: Any) -> Any:
    # PostgreSQL refuses U+0000 in text and in jsonb.
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def _text(value: Any, limit: int) -> str:
    """A provider value as text fit to store: None is empty, NULs are dropped, cut to ``limit``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "")[:limit]


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


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
    parts = [_text(part, 5000) for part in (event.description, event.mta_response) if part]
    return "\n".join(dict.fromkeys(parts))[:5000]


def _apply_effects(*, event: AnymailTrackingEvent, stored: Event, delivery: Delivery) -> None:
    _delivery_update(
        delivery=delivery,
        event_type=stored.event_type,
        at=stored.at,
        message_id=stored.message_id,
        by_machine=bool(stored.machine),
    )
    if stored.event_type not in READER_EFFECT_TYPES:
        return
    try:
        with transaction.atomic():
            _reader_update(event=event, stored=stored, delivery=delivery)
    except (ValidationError, PermissionDenied, ObjectDoesNotExist, ValueError):
        # The event stays stored for inspection; the reader's side is logged, not lost silently.
        logger.exception("Tracking event %s could not update its reader", stored.pk)


def _delivery_update(
    *, delivery: Delivery, event_type: str, at: datetime, message_id: str, by_machine: bool = False
) -> None:
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
    if by_machine:
        # A proxy's fetch proves the message arrived, not that anyone read it.
        stages = ["delivered_at", "machine_opened_at"] if stages else []
    if stages:
        # Earliest time wins, in one statement, whatever order the events come in.
        rows.update(**{field: Least(Coalesce(field, Value(at)), Value(at)) for field in stages})


def _reader_update(*, event: AnymailTrackingEvent, stored: Event, delivery: Delivery) -> None:
    _reader_effects(
        event=event, stored=stored, subscriber=delivery.subscriber, email=delivery.email, send_id=delivery.send_id
    )


def _reader_effects(
    *, event: AnymailTrackingEvent, stored: Event, subscriber: Subscriber | None, email: str, send_id: int | None = None
) -> None:
    # Imported here: the subscribers app must load without delivery's receiver and vice versa.
    import subscribers.services as subscriber_services

    detail = f"{stored.esp_name} {stored.event_type}: {stored.description or stored.reject_reason}".strip()[:500]
    kind = stored.event_type
    hard = kind in HARD_BOUNCE_TYPES and not bounce_is_soft(event)
    # A delivery can only end a run of soft bounces, so with no run there is nothing to work out.
    run_changes = (
        subscriber is not None
        and not hard
        and kind in RUN_TYPES
        and (kind in HARD_BOUNCE_TYPES | SOFT_BOUNCE_TYPES or subscriber.soft_bounces > 0)
    )
    if run_changes and subscriber is not None:
        # One reader's bounces take turns, so two arriving at once both count.
        Subscriber.objects.select_for_update().filter(pk=subscriber.pk).values_list("pk").first()
    if kind in (Event.Type.OPENED, Event.Type.CLICKED):
        if subscriber is not None and not stored.machine:
            subscriber_services.subscriber_record_engagement(
                subscriber=subscriber,
                at=stored.at,
                send_started_at=(
                    Send.objects.filter(pk=send_id).values_list("started_at", flat=True).first() if send_id else None
                ),
                clicked=kind == Event.Type.CLICKED,
            )
    elif hard:
        if subscriber is not None:
            subscriber_services.subscriber_record_bounce(subscriber=subscriber, hard=True, detail=detail)
        else:
            subscriber_services.suppression_add(email=email, reason=Suppression.Reason.HARD_BOUNCE, detail=detail)
    elif kind == Event.Type.COMPLAINED:
        if subscriber is not None:
            subscriber_services.subscriber_mark_complained(subscriber=subscriber, detail=detail)
        else:
            subscriber_services.suppression_add(email=email, reason=Suppression.Reason.COMPLAINT, detail=detail)
    elif kind == Event.Type.UNSUBSCRIBED and subscriber is not None:
        subscriber_services.subscriber_unsubscribe(
            subscriber=subscriber, via=f"provider:{stored.esp_name.lower()}", user_agent=stored.user_agent
        )
    if run_changes and subscriber is not None:
        _soft_bounce_run_update(subscriber=subscriber, detail=detail)


def reader_soft_bounce_run(*, subscriber_id: int, limit: int) -> int:
    """How many of the reader's newest messages in a row bounced softly and never arrived (at most ``limit``).

    Messages with no outcome yet (neither delivered nor bounced) are skipped; the
    newest message that arrived ends the run.
    """
    bounced = Event.objects.filter(delivery=OuterRef("pk"), event_type__in=[*HARD_BOUNCE_TYPES, *SOFT_BOUNCE_TYPES])
    outcomes = (
        Delivery.objects.filter(subscriber_id=subscriber_id)
        .filter(Q(delivered_at__isnull=False) | Exists(bounced))
        .order_by("-id")
        .values_list("delivered_at", flat=True)[:limit]
    )
    run = 0
    for delivered_at in outcomes:
        if delivered_at is not None:
            break
        run += 1
    return run


def _soft_bounce_run_update(*, subscriber: Subscriber, detail: str) -> None:
    import subscribers.services as subscriber_services

    limit = settings.SOFT_BOUNCE_LIMIT
    run = reader_soft_bounce_run(subscriber_id=subscriber.pk, limit=limit)
    # The count is worked out here from the deliveries, so it is stored here too
    # (subscribers.services has no setter for it, and incrementing cannot be made order-independent).
    Subscriber.objects.filter(pk=subscriber.pk).exclude(soft_bounces=run).update(soft_bounces=run)
    if run >= limit:
        subscriber_services.suppression_add(
            email=subscriber.email, reason=Suppression.Reason.SOFT_BOUNCES, detail=detail
        )
