"""Writes over the audience. Keyword-only, each in one transaction."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.events import EventName, emit, emit_many
from core.queue import TaskQueueUnavailable, enqueue, enqueue_on_commit
from subscribers import emails
from subscribers.hooks import welcome_taken
from subscribers.models import (
    Consent,
    MailingList,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
    Suppression,
    email_hash,
)
from subscribers.normalise import normalise_email
from subscribers.selectors import (
    is_suppressed,
    subscriber_by_email,
    subscribers_awaiting_welcome,
)
from subscribers.timezones import zone_check, zone_guess

logger = logging.getLogger(__name__)

CONFIRMATION_COOLDOWN = datetime.timedelta(minutes=10)
# A welcome the task queue could not take is sent later, but not to a reader
# who confirmed longer ago than this: by then it would be more odd than welcome.
MISSED_WELCOME_WINDOW = datetime.timedelta(days=3)
# At most this many per run; the next run takes the rest.
MISSED_WELCOME_BATCH = 500

CONSENT_TEXT = (
    "Yes, send me the newsletters I picked. I can unsubscribe at any time with the link in every email; "
    "my address is used for nothing else."
)

_STATUS_FOR_REASON = {
    Suppression.Reason.HARD_BOUNCE: SubscriberStatus.BOUNCED,
    Suppression.Reason.SOFT_BOUNCES: SubscriberStatus.BOUNCED,
    Suppression.Reason.COMPLAINT: SubscriberStatus.COMPLAINED,
}
_EVENT_FOR_STATUS = {
    SubscriberStatus.BOUNCED: EventName.SUBSCRIBER_BOUNCED,
    SubscriberStatus.COMPLAINED: EventName.SUBSCRIBER_COMPLAINED,
}


# --- lists --------------------------------------------------------------------


# --- suppression and provider feedback (called by DELIVERY) -----------------


@transaction.atomic
def suppression_add(*, email: str, reason: str, detail: str = "") -> Suppression:
    """Suppress an address for good; a matching reader becomes bounced/complained as the reason says."""
    try:
        address = normalise_email(email)
    except ValidationError:
        address = email.strip()
    digest = email_hash(address)
    stored_email = "" if reason == Suppression.Reason.ERASED else address.lower()
    suppression, _created = Suppression.objects.get_or_create(
        email_hash=digest, defaults={"email": stored_email, "reason": reason, "detail": detail[:500]}
    )
    new_status = _STATUS_FOR_REASON.get(Suppression.Reason(reason)) if reason in Suppression.Reason.values else None
    if new_status is not None:
        changing = Subscriber.objects.filter(email__iexact=address).exclude(status=new_status)
        ids = list(changing.values_list("pk", flat=True))
        if ids:
            Subscriber.objects.filter(pk__in=ids).update(status=new_status)
            event = _EVENT_FOR_STATUS.get(new_status)
            if event is not None:
                emit_many(event, [{"subscriber_id": pk, "reason": str(reason)} for pk in ids])
    return suppression


@transaction.atomic
def subscriber_unsubscribe(
    *, subscriber: Subscriber, via: str, ip: str | None = None, user_agent: str = ""
) -> Subscriber:
    """Stop every future send to this reader at once. Calling it again changes nothing."""
    now = timezone.now()
    changed = Subscriber.objects.filter(
        pk=subscriber.pk, status__in=[SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.INACTIVE]
    ).update(status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=now)
    if changed:
        Consent.objects.create(
            subscriber_id=subscriber.pk,
            action=Consent.Action.UNSUBSCRIBE,
            form=via[:100],
            ip=ip,
            user_agent=user_agent[:500],
        )
        emit(EventName.SUBSCRIBER_UNSUBSCRIBED, {"subscriber_id": subscriber.pk, "via": via[:100]})
    subscriber.refresh_from_db()
    return subscriber


@transaction.atomic
def subscriber_record_bounce(*, subscriber: Subscriber, hard: bool, detail: str = "") -> Subscriber:
    """Hard bounce: bounced and suppressed. Soft: counted; suppressed after SOFT_BOUNCE_LIMIT in a row."""
    if hard:
        suppression_add(email=subscriber.email, reason=Suppression.Reason.HARD_BOUNCE, detail=detail)
    else:
        Subscriber.objects.filter(pk=subscriber.pk).update(soft_bounces=F("soft_bounces") + 1)
        subscriber.refresh_from_db(fields=["soft_bounces"])
        if subscriber.soft_bounces >= settings.SOFT_BOUNCE_LIMIT:
            suppression_add(email=subscriber.email, reason=Suppression.Reason.SOFT_BOUNCES, detail=detail)
    subscriber.refresh_from_db()
    return subscriber


@transaction.atomic
def subscriber_mark_complained(*, subscriber: Subscriber, detail: str = "") -> Subscriber:
    """A spam complaint: complained and suppressed."""
    suppression_add(email=subscriber.email, reason=Suppression.Reason.COMPLAINT, detail=detail)
    subscriber.refresh_from_db()
    return subscriber


def subscriber_record_engagement(
    *,
    subscriber: Subscriber,
    at: datetime.datetime,
    send_started_at: datetime.datetime | None = None,
    clicked: bool = False,
) -> None:
    """An open or a click by the reader: remember the latest one, and the newest send it was in
    (when that send started), and reset the soft-bounce run. Each field only moves forward."""
    rows = Subscriber.objects.filter(pk=subscriber.pk)
    rows.update(soft_bounces=0)
    rows.exclude(last_engaged_at__gte=at).update(last_engaged_at=at)
    if send_started_at is not None:
        rows.exclude(last_open_send_at__gte=send_started_at).update(last_open_send_at=send_started_at)
        if clicked:
            rows.exclude(last_click_send_at__gte=send_started_at).update(last_click_send_at=send_started_at)


def subscribers_count_received(*, subscriber_ids: QuerySet[Any, Any]) -> int:
    """One more issue received by each of these readers (one UPDATE); how many readers."""
    return Subscriber.objects.filter(pk__in=subscriber_ids).update(received_count=F("received_count") + 1)


# --- the reader's own actions ----------------------------------------------


def consent_record(
    *, subscriber: Subscriber, action: str, form: str, ip: str | None, user_agent: str, text: str = ""
) -> Consent:
    """Store one consent record (what the reader agreed to, where, from which address)."""
    return Consent.objects.create(
        subscriber=subscriber, action=action, form=form[:100], ip=ip, user_agent=user_agent[:500], text=text
    )


def _queue_email(
    subscriber: Subscriber, email: Callable[..., None], *, field: str, previous: datetime.datetime | None
) -> None:
    """Queue one of emails.* after commit; if the queue is down, put ``field`` back to ``previous``.

    ``field`` (confirmation_sent_at or welcome_sent_at) then only ever records
    emails that were actually queued, so the cool-down does not stop the retry.
    TaskQueueUnavailable reaches the caller of the service, after the commit.
    """
    subscriber_id, address, name = subscriber.pk, subscriber.email, subscriber.name
    stamped = getattr(subscriber, field)

    def not_queued() -> None:
        Subscriber.objects.filter(pk=subscriber_id, **{field: stamped}).update(**{field: previous})

    enqueue_on_commit(lambda: email(subscriber_id=subscriber_id, email=address, name=name), on_failure=not_queued)


def _answer_by_email(subscriber: Subscriber, now: datetime.datetime) -> bool:
    """Email the address someone typed into the form, at most once per cool-down.

    Pending: a fresh confirmation link. Active: a note that the address is
    already subscribed, with its preferences link, so the owner who forgot can
    change their lists while a stranger learns nothing (the page they see is the
    same either way). Any other status: nothing. The caller saves the reader.
    """
    if subscriber.status not in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE):
        return False
    last = subscriber.confirmation_sent_at
    if last is not None and now - last < CONFIRMATION_COOLDOWN:
        return False
    subscriber.confirmation_sent_at = now
    email = emails.confirmation if subscriber.status == SubscriberStatus.PENDING else emails.already_subscribed
    _queue_email(subscriber, email, field="confirmation_sent_at", previous=last)
    return True


def _find_or_create_from_form(*, address: str, name: str, time_zone: str = "") -> tuple[Subscriber, bool]:
    """The locked reader for this address, created if new; safe when two requests race."""
    found = subscriber_by_email(address)
    if found is None:
        try:
            with transaction.atomic():
                created = Subscriber.objects.create(
                    email=address, name=name, source=SubscriberSource.FORM, time_zone=zone_guess(time_zone)
                )
                return created, True
        except IntegrityError:
            # Another request stored the same address between our read and our insert.
            found = subscriber_by_email(address)
            if found is None:
                raise
    return Subscriber.objects.select_for_update().get(pk=found.pk), False


@transaction.atomic
def subscriber_subscribe(
    *,
    email: str,
    name: str = "",
    lists: list[MailingList] | None = None,
    form: str = "subscribe form",
    ip: str | None = None,
    user_agent: str = "",
    consent_text: str = CONSENT_TEXT,
    time_zone: str = "",
) -> Subscriber | None:
    """Store a pending reader with their consent and queue a confirmation email.

    Runs in the worker (subscribers.subscribe, queued by
    subscription_request_queue), so that the web request does the same work
    whatever the address is. The caller shows the same answer whatever
    happens here. The name is stored only for a new reader: a subscribe
    request never changes an existing reader's name. Suppressed,
    bounced and complained addresses are stored nothing and sent nothing
    (returns None); an active reader is left exactly as they are and sent a
    note with their preferences link; a pending reader is sent another
    confirmation. Either email goes at most once per CONFIRMATION_COOLDOWN.

    If the task queue is down, TaskQueueUnavailable is raised after the commit:
    the reader and their consent are stored, the cool-down is not started, and
    asking again (this form or subscriber_resend_confirmation) sends the email.
    """
    address = normalise_email(email)
    if is_suppressed(address):
        return None
    now = timezone.now()
    # Like the name, the browser's time zone is stored for a new reader only.
    subscriber, created = _find_or_create_from_form(address=address, name=name, time_zone=time_zone)
    if created:
        emit(EventName.SUBSCRIBER_CREATED, {"subscriber_id": subscriber.pk, "form": form[:100]})
    if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        return None
    if subscriber.status == SubscriberStatus.ACTIVE:
        # Whoever typed the address may not be its owner: an active reader's
        # lists change only from their own preferences link.
        if _answer_by_email(subscriber, now):
            subscriber.save(update_fields=["confirmation_sent_at"])
        return subscriber
    if subscriber.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.INACTIVE):
        # Inactive (moved by a sunset policy) asks again like unsubscribed: the confirmation
        # proves the mailbox is read, and the confirm makes them active.
        subscriber.status = SubscriberStatus.PENDING
        subscriber.unsubscribed_at = None
    # No name here: a new reader was stored with it; an existing one keeps theirs,
    # since whoever typed the address may not own it (the name is greeted in every
    # email) and it changes only from the reader's own preferences link.
    if lists:
        subscriber.lists.add(*lists)
    # The words they agreed to, and the boxes they ticked under them.
    chosen = ", ".join(item.name for item in lists or []) or "none"
    consent_record(
        subscriber=subscriber,
        action=Consent.Action.SUBSCRIBE,
        form=form,
        ip=ip,
        user_agent=user_agent,
        text=f"{consent_text}\nNewsletters ticked: {chosen}",
    )
    _answer_by_email(subscriber, now)
    subscriber.save()
    return subscriber


def subscription_request_queue(
    *, email: str, name: str, list_ids: list[int], form: str, ip: str | None, user_agent: str, time_zone: str = ""
) -> None:
    """Queue a subscribe request from the public form, as it came, for the worker to handle.

    The web request neither looks the address up nor stores anything: new,
    pending, active and suppressed addresses all cost the request the same
    work (one message on the queue), so the time of the answer says nothing
    about the address. The worker runs subscriber_subscribe.
    TaskQueueUnavailable if the queue is down: then nothing is stored and no email goes.
    """
    from subscribers.tasks import subscribe_task

    enqueue(
        lambda: subscribe_task.delay(
            email=email, name=name, list_ids=list_ids, form=form, ip=ip, user_agent=user_agent, time_zone=time_zone
        )
    )


def confirmation_resend_queue(*, email: str) -> None:
    """Queue a "send me a fresh link" request for the worker (subscriber_resend_confirmation).

    As with subscription_request_queue, the web request does the same work
    for every address. TaskQueueUnavailable if the queue is down.
    """
    from subscribers.tasks import resend_confirmation_task

    enqueue(lambda: resend_confirmation_task.delay(email=email))


@transaction.atomic
def subscriber_resend_confirmation(*, email: str) -> bool:
    """Answer the "send me a fresh link" form like the subscribe form, without changing any list.

    Runs in the worker (subscribers.resend_confirmation, queued by confirmation_resend_queue).

    Pending: a new confirmation; active: the "already subscribed" note; both
    under the cool-down. True if an email was queued (the caller must not say so).
    TaskQueueUnavailable (after the commit) if the queue is down; the cool-down is then not started.
    """
    address = normalise_email(email)
    found = subscriber_by_email(address)
    if found is None or is_suppressed(address):
        return False
    subscriber = Subscriber.objects.select_for_update().get(pk=found.pk)
    if not _answer_by_email(subscriber, timezone.now()):
        return False
    subscriber.save(update_fields=["confirmation_sent_at"])
    return True


@transaction.atomic
def subscriber_confirm(*, subscriber: Subscriber, ip: str | None = None, user_agent: str = "") -> Subscriber:
    """Make a pending reader active (from their signed link) and send the welcome email once.

    If the task queue is down the reader is still confirmed, welcome_sent_at stays
    empty and TaskQueueUnavailable is raised after the commit.
    """
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.status != SubscriberStatus.PENDING:
        return subscriber
    now = timezone.now()
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.confirmed_at = now
    consent_record(
        subscriber=subscriber, action=Consent.Action.CONFIRM, form="confirmation link", ip=ip, user_agent=user_agent
    )
    subscriber.save()
    # Listeners run here, in this transaction: a welcome sequence enters the reader now.
    emit(
        EventName.SUBSCRIBER_CONFIRMED,
        {"subscriber_id": subscriber.pk, "list_ids": list(subscriber.lists.values_list("pk", flat=True))},
    )
    if subscriber.welcome_sent_at is None:
        # Stamped either way, so that welcomes_send_missed never sends the built-in one
        # to a reader whose welcome is the sequence's first step.
        subscriber.welcome_sent_at = now
        if not welcome_taken(subscriber.pk):
            _queue_email(subscriber, emails.welcome, field="welcome_sent_at", previous=None)
        subscriber.save(update_fields=["welcome_sent_at"])
    return subscriber


def welcomes_send_missed(*, now: datetime.datetime | None = None) -> int:
    """Queue the welcome of readers who confirmed while the task queue was down; returns how many were queued.

    Each reader is claimed as the confirmation does it, by setting
    welcome_sent_at, but only where it is still empty: two runs at once (or a
    confirmation being handled right now) never both queue the same welcome.
    The welcome is queued after that commit; if the queue is still down the
    stamp is taken back and the run stops, for the next one to try again.
    Call outside a transaction (a periodic task does).
    """
    now = now or timezone.now()
    queued = 0
    readers = subscribers_awaiting_welcome(confirmed_since=now - MISSED_WELCOME_WINDOW).only("pk", "email", "name")
    for reader in readers[:MISSED_WELCOME_BATCH]:
        try:
            with transaction.atomic():
                claimed = Subscriber.objects.filter(
                    pk=reader.pk, status=SubscriberStatus.ACTIVE, welcome_sent_at=None
                ).update(welcome_sent_at=now)
                if claimed:
                    reader.welcome_sent_at = now
                    _queue_email(reader, emails.welcome, field="welcome_sent_at", previous=None)
        except TaskQueueUnavailable:
            logger.warning("Missed welcomes: the task queue is still down; %d queued in this run", queued)
            break
        queued += claimed
    return queued


@transaction.atomic
def subscriber_update_preferences(
    *,
    subscriber: Subscriber,
    name: str,
    lists: list[MailingList],
    paused_until: datetime.date | None,
    ip: str | None = None,
    user_agent: str = "",
    time_zone: str | None = None,
) -> Subscriber:
    """Change name, lists, pause and time zone (None: left as it is) from the preferences page;
    records the change as consent. An unknown time zone raises ValidationError before anything is saved."""
    if time_zone is not None:
        subscriber.time_zone = zone_check(time_zone)
    subscriber.name = name
    subscriber.paused_until = paused_until
    subscriber.save(update_fields=["name", "paused_until", "time_zone"])
    before = set(subscriber.lists.values_list("pk", flat=True))
    subscriber.lists.set(lists)
    left = sorted(before - {item.pk for item in lists})
    if left:
        emit(EventName.SUBSCRIBER_LEFT_LIST, {"subscriber_id": subscriber.pk, "list_ids": left})
    chosen = ", ".join(item.name for item in lists) or "no lists"
    pause = f"; paused until {paused_until:%Y-%m-%d}" if paused_until else ""
    consent_record(
        subscriber=subscriber,
        action=Consent.Action.UPDATE,
        form="preferences page",
        ip=ip,
        user_agent=user_agent,
        text=f"Lists: {chosen}{pause}",
    )
    return subscriber


@transaction.atomic
def subscriber_resubscribe(*, subscriber: Subscriber, ip: str | None = None, user_agent: str = "") -> Subscriber:
    """An unsubscribed (or inactive) reader changes their mind from their own signed link.

    The link proves they own the mailbox, so they are active again at once (no
    second confirmation). Bounced, complained and suppressed addresses stay as
    they are: no email from us can reach them.
    """
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.status == SubscriberStatus.INACTIVE:
        return subscriber_keep(subscriber=subscriber, via="preferences page", ip=ip, user_agent=user_agent)
    if subscriber.status != SubscriberStatus.UNSUBSCRIBED or is_suppressed(subscriber.email):
        return subscriber
    now = timezone.now()
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.unsubscribed_at = None
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.save(update_fields=["status", "unsubscribed_at", "confirmed_at"])
    consent_record(
        subscriber=subscriber,
        action=Consent.Action.SUBSCRIBE,
        form="preferences page (subscribe again)",
        ip=ip,
        user_agent=user_agent,
        text=CONSENT_TEXT,
    )
    return subscriber


@transaction.atomic
def subscriber_keep(
    *, subscriber: Subscriber, via: str = "re-engagement email", ip: str | None = None, user_agent: str = ""
) -> Subscriber:
    """The reader says "keep me subscribed" from their own signed link (the re-engagement email).

    An active reader stays active, an inactive one is active again at once (the link proves
    they read the mailbox); listeners (automations.sunset) record the answer. Other statuses
    are left as they are: unsubscribing is undone only by subscribing again."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.status not in (SubscriberStatus.ACTIVE, SubscriberStatus.INACTIVE) or is_suppressed(subscriber.email):
        return subscriber
    if subscriber.status == SubscriberStatus.INACTIVE:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.save(update_fields=["status"])
    consent_record(
        subscriber=subscriber,
        action=Consent.Action.UPDATE,
        form=via[:100],
        ip=ip,
        user_agent=user_agent,
        text="Keep me subscribed.",
    )
    emit(EventName.SUBSCRIBER_KEPT, {"subscriber_id": subscriber.pk, "via": via[:100]})
    return subscriber
