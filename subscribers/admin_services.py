"""Editors' writes over the audience from the admin: lists, readers added by hand, bulk actions.

The reader's own journey (subscribe, confirm, preferences, unsubscribe) and
provider feedback are in services.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from core.events import EventName, emit_many
from core.pagecache import page_cache_clear
from subscribers.models import (
    Consent,
    MailingList,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
    SubscriberTag,
)
from subscribers.selectors import (
    PUBLIC_LISTS_CACHE_KEY,
)
from subscribers.services import consent_record, subscriber_resend_confirmation, subscriber_unsubscribe


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
