"""Editors' writes over the audience from the admin: lists, readers added by hand, bulk actions.

The reader's own journey (subscribe, confirm, preferences, unsubscribe) and
provider feedback are in services.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.events import EventName, emit, emit_many
from core.pagecache import page_cache_clear
from subscribers.fields import attributes_from_json, attributes_merge
from subscribers.models import (
    Consent,
    ConsentBasis,
    MailingList,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
    SubscriberTag,
)
from subscribers.normalise import normalise_email
from subscribers.selectors import (
    PUBLIC_LISTS_CACHE_KEY,
    is_suppressed,
    subscriber_by_email,
)
from subscribers.services import consent_record, subscriber_resend_confirmation, subscriber_unsubscribe
from subscribers.timezones import zone_check


def _public_lists_changed() -> None:
    # The form on every page reads the lists from the cache (selectors.public_list_choices),
    # and whole public pages with the form in them are cached too (core.pagecache).
    def forget() -> None:
        cache.delete(PUBLIC_LISTS_CACHE_KEY)
        page_cache_clear()

    transaction.on_commit(forget)


@transaction.atomic
def mailing_list_save(*, mailing_list: MailingList) -> MailingList:
    """Save a list (new or changed); the subscribe form shows it as it now is."""
    mailing_list.save()
    _public_lists_changed()
    return mailing_list


@transaction.atomic
def mailing_lists_delete(*, mailing_lists: Iterable[MailingList]) -> int:
    """Delete lists (their readers stay, without them); the subscribe form stops offering them."""
    deleted = 0
    for mailing_list in mailing_lists:
        mailing_list.delete()
        deleted += 1
    _public_lists_changed()
    return deleted


def subscriber_add(*, subscriber: Subscriber, acting_user: Any) -> Subscriber:
    """An editor adds a reader by hand (the admin's add form, not yet saved).

    An active reader counts as confirmed now; a pending one gets the confirmation
    email once the transaction commits (TaskQueueUnavailable after the commit if
    the queue is down). The consent record names the editor.
    """
    if not acting_user.has_perm("subscribers.add_subscriber"):
        raise PermissionDenied("You may not add readers.")
    with transaction.atomic():
        subscriber.source = SubscriberSource.ADMIN
        if subscriber.status == SubscriberStatus.ACTIVE:
            subscriber.confirmed_at = timezone.now()
        subscriber.save()
        consent_record_editor_added(subscriber=subscriber, acting_user=acting_user)
        if subscriber.status == SubscriberStatus.PENDING:
            subscriber_resend_confirmation(email=subscriber.email)
    return subscriber


def consent_record_editor_added(*, subscriber: Subscriber, acting_user: Any) -> Consent:
    """Note that an editor added this reader by hand, and who."""
    return consent_record(
        subscriber=subscriber,
        action=Consent.Action.ADMIN,
        form=f"admin: {acting_user.get_username()}",
        ip=None,
        user_agent="",
        text=f"Added by an editor as {subscriber.get_status_display().lower()}.",
    )


def subscribers_unsubscribe(*, subscribers: Iterable[Subscriber], acting_user: Any) -> int:
    """Bulk admin action: unsubscribe readers at once. Returns how many changed status."""
    via = f"admin: {acting_user.get_username()}"
    changed = 0
    for subscriber in subscribers:
        before = subscriber.status
        after = subscriber_unsubscribe(subscriber=subscriber, via=via).status
        changed += before != after
    return changed


@transaction.atomic
def subscribers_reactivate(*, subscribers: Iterable[Subscriber], acting_user: Any) -> int:
    """Bulk admin action: inactive readers (moved by a sunset policy) are active again. Returns how many.

    Readers in any other status are left alone; listeners (automations.sunset) close their notices."""
    if acting_user is not None and not acting_user.has_perm("subscribers.change_subscriber"):
        raise PermissionDenied("You may not change readers.")
    ids = [s.pk for s in subscribers if s.status == SubscriberStatus.INACTIVE]
    changed = list(Subscriber.objects.filter(pk__in=ids, status=SubscriberStatus.INACTIVE).values_list("pk", flat=True))
    Subscriber.objects.filter(pk__in=changed).update(status=SubscriberStatus.ACTIVE)
    via = f"admin: {acting_user.get_username()}" if acting_user is not None else "admin"
    emit_many(EventName.SUBSCRIBER_KEPT, [{"subscriber_id": pk, "via": via} for pk in changed])
    return len(changed)


@transaction.atomic
def subscribers_add_to_list(*, subscribers: Iterable[Subscriber], mailing_list: MailingList) -> int:
    """Bulk admin action: put readers on a list (already there is fine). Returns how many were given."""
    through = Subscriber.lists.through
    rows = [through(subscriber_id=s.pk, mailinglist_id=mailing_list.pk) for s in subscribers]
    through.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@transaction.atomic
def subscribers_tag(*, subscribers: Iterable[Subscriber], tag: SubscriberTag) -> int:
    """Bulk admin action: tag readers. Returns how many were given."""
    through = Subscriber.tags.through
    readers = list(subscribers)
    had = set(
        through.objects.filter(subscribertag_id=tag.pk, subscriber__in=readers).values_list("subscriber_id", flat=True)
    )
    rows = [through(subscriber_id=s.pk, subscribertag_id=tag.pk) for s in readers]
    through.objects.bulk_create(rows, ignore_conflicts=True)
    emit_many(
        EventName.SUBSCRIBER_TAGGED,
        [{"subscriber_id": s.pk, "tag_id": tag.pk, "via": "admin"} for s in readers if s.pk not in had],
    )
    return len(rows)


def subscriber_edited(*, subscriber: Subscriber, lists_before: set[int], tags_before: set[int], via: str) -> None:
    """After an editor saved a reader's page: tell listeners which lists they left and which tags are new,
    as the bulk actions and the API do (sequences end or start on them)."""
    lists_now = set(subscriber.lists.values_list("pk", flat=True))
    left = sorted(lists_before - lists_now)
    if left:
        emit(EventName.SUBSCRIBER_LEFT_LIST, {"subscriber_id": subscriber.pk, "list_ids": left})
    added = sorted(set(subscriber.tags.values_list("pk", flat=True)) - tags_before)
    emit_many(
        EventName.SUBSCRIBER_TAGGED, [{"subscriber_id": subscriber.pk, "tag_id": t, "via": via[:100]} for t in added]
    )


# --- readers added or changed by a program (the API) --------------------------

CONFIRM_BY_EMAIL = "confirm_by_email"


def _tags_named(names: Iterable[str]) -> list[SubscriberTag]:
    """The tags with these names (case as first written), made when new, as the CSV import does."""
    tags = []
    for raw in names:
        name = " ".join(str(raw).split())[:60]
        if not name:
            raise ValidationError({"tags": "A tag name cannot be empty."})
        tag = SubscriberTag.objects.filter(name__iexact=name).first() or SubscriberTag.objects.create(name=name)
        tags.append(tag)
    return tags


def _tag(subscriber: Subscriber, tags: list[SubscriberTag], *, via: str) -> None:
    had = set(subscriber.tags.values_list("pk", flat=True))
    subscriber.tags.set(tags)
    emit_many(
        EventName.SUBSCRIBER_TAGGED,
        [{"subscriber_id": subscriber.pk, "tag_id": t.pk, "via": via[:100]} for t in tags if t.pk not in had],
    )


def subscriber_create(
    *,
    email: str,
    name: str,
    lists: list[MailingList],
    tags: Iterable[str],
    consent: str,
    acting_user: Any,
    via: str,
    consent_text: str = "",
    attributes: dict[str, Any] | None = None,
    time_zone: str = "",
) -> Subscriber:
    """A reader added by a program acting as ``acting_user`` (who needs subscribers.add_subscriber).

    ``consent`` is CONFIRM_BY_EMAIL (pending, and the confirmation email goes, as
    on the site's form) or a ConsentBasis: a stated basis makes the reader active
    at once, ``none`` stores them pending and sends nothing, as the CSV import
    does. The consent row records the basis, ``via`` and ``consent_text``.
    Refuses a suppressed or already known address (ValidationError on ``email``).
    ``attributes`` are custom-field values as JSON (subscribers.fields.attributes_from_json
    checks them; a wrong one is a ValidationError on ``attributes.<key>``), ``time_zone``
    an IANA name or blank (a ValidationError on ``time_zone`` names an unknown one).
    TaskQueueUnavailable after the commit if the confirmation could not be queued.
    """
    if not acting_user.has_perm("subscribers.add_subscriber"):
        raise PermissionDenied("You may not add readers.")
    if consent != CONFIRM_BY_EMAIL and consent not in ConsentBasis.values:
        raise ValidationError({"consent": f"Use {CONFIRM_BY_EMAIL} or one of {', '.join(ConsentBasis.values)}."})
    try:
        address = normalise_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from None
    if is_suppressed(address):
        raise ValidationError({"email": "This address is suppressed (bounced, complained or erased): never added."})
    values = attributes_merge({}, attributes_from_json(attributes)) if attributes else {}
    zone = _zone(time_zone)
    activate = consent not in (CONFIRM_BY_EMAIL, ConsentBasis.NONE)
    with transaction.atomic():
        if subscriber_by_email(address) is not None:
            raise ValidationError({"email": "A reader with this address already exists."})
        try:
            with transaction.atomic():
                subscriber = Subscriber.objects.create(
                    email=address,
                    name=name.strip()[:100],
                    source=SubscriberSource.API,
                    status=SubscriberStatus.ACTIVE if activate else SubscriberStatus.PENDING,
                    confirmed_at=timezone.now() if activate else None,
                    attributes=values,
                    time_zone=zone,
                )
        except IntegrityError:
            raise ValidationError({"email": "A reader with this address already exists."}) from None
        subscriber.lists.set(lists)
        _tag(subscriber, _tags_named(tags), via=via)
        emit(
            EventName.SUBSCRIBER_CREATED,
            {"subscriber_id": subscriber.pk, "form": via[:100], "status": subscriber.status},
        )
        basis = (
            "Asked to confirm by email (double opt-in)" if consent == CONFIRM_BY_EMAIL else ConsentBasis(consent).label
        )
        chosen = ", ".join(item.name for item in lists) or "none"
        consent_record(
            subscriber=subscriber,
            action=Consent.Action.SUBSCRIBE if consent == CONFIRM_BY_EMAIL else Consent.Action.IMPORT,
            form=via,
            ip=None,
            user_agent="",
            text=f"{consent_text.strip() or basis}\nConsent basis: {basis}\nLists: {chosen}",
        )
        if consent == CONFIRM_BY_EMAIL:
            subscriber_resend_confirmation(email=subscriber.email)
    subscriber.refresh_from_db()
    return subscriber


@transaction.atomic
def subscriber_change(
    *,
    subscriber: Subscriber,
    acting_user: Any,
    via: str,
    name: str | None = None,
    lists: list[MailingList] | None = None,
    tags: Iterable[str] | None = None,
    attributes: dict[str, Any] | None = None,
    time_zone: str | None = None,
) -> Subscriber:
    """Change a reader's name, lists, tags, custom fields or time zone (each only when given) as ``acting_user``.

    ``attributes`` changes only the custom fields it names (a null removes one); it is
    checked before anything is written, so a wrong value changes nothing.

    Leaving a list emits subscriber.left_list and new tags subscriber.tagged; a
    change of lists is recorded as consent, naming ``via``."""
    if not acting_user.has_perm("subscribers.change_subscriber"):
        raise PermissionDenied("You may not change readers.")
    cleaned = attributes_from_json(attributes) if attributes else None
    zone = _zone(time_zone) if time_zone is not None else None
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if zone is not None:
        subscriber.time_zone = zone
        subscriber.save(update_fields=["time_zone"])
    if cleaned is not None:
        subscriber.attributes = attributes_merge(subscriber.attributes, cleaned)
        subscriber.save(update_fields=["attributes"])
    if name is not None:
        subscriber.name = name.strip()[:100]
        subscriber.save(update_fields=["name"])
    if lists is not None:
        before = set(subscriber.lists.values_list("pk", flat=True))
        subscriber.lists.set(lists)
        left = sorted(before - {item.pk for item in lists})
        if left:
            emit(EventName.SUBSCRIBER_LEFT_LIST, {"subscriber_id": subscriber.pk, "list_ids": left})
        if before != {item.pk for item in lists}:
            chosen = ", ".join(item.name for item in lists) or "no lists"
            consent_record(
                subscriber=subscriber,
                action=Consent.Action.UPDATE,
                form=via,
                ip=None,
                user_agent="",
                text=f"Lists: {chosen}",
            )
    if tags is not None:
        _tag(subscriber, _tags_named(tags), via=via)
    return subscriber


def _zone(value: str) -> str:
    """An IANA zone name or blank, checked before anything is written (ValidationError on ``time_zone``)."""
    try:
        return zone_check(value)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from None
