"""Reads over the audience."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from subscribers.links import InvalidLink, TokenData, address_digest
from subscribers.models import (
    MailingList,
    Segment,
    Subscriber,
    SubscriberStatus,
    Suppression,
    email_hash,
)
from subscribers.normalise import normalise_email


def is_suppressed(email: str) -> bool:
    """True if no send and no import may reach this address."""
    try:
        normalised = normalise_email(email)
    except ValidationError:
        normalised = email
    return Suppression.objects.filter(email_hash=email_hash(normalised)).exists()


def _in_lists(lists: Iterable[MailingList | int]) -> Exists:
    ids = [item.pk if isinstance(item, MailingList) else item for item in lists]
    through = Subscriber.lists.through
    return Exists(through.objects.filter(subscriber_id=OuterRef("pk"), mailinglist_id__in=ids))


def segment_filter(segment: Segment) -> Q:
    """The segment's saved conditions as one Q (no joins that repeat rows)."""
    condition = Q()
    list_ids = list(segment.lists.values_list("pk", flat=True))
    if list_ids:
        condition &= Q(_in_lists(list_ids))
    tag_ids = list(segment.tags.values_list("pk", flat=True))
    if tag_ids:
        through = Subscriber.tags.through
        condition &= Q(Exists(through.objects.filter(subscriber_id=OuterRef("pk"), subscribertag_id__in=tag_ids)))
    if segment.signed_up_after:
        condition &= Q(created_at__date__gte=segment.signed_up_after)
    if segment.signed_up_before:
        condition &= Q(created_at__date__lte=segment.signed_up_before)
    if segment.engaged_within_days is not None:
        since = timezone.now() - datetime.timedelta(days=segment.engaged_within_days)
        condition &= Q(last_engaged_at__gte=since)
    return condition


def sendable_subscribers(
    *, lists: Iterable[MailingList | int] | None = None, segment: Segment | None = None
) -> QuerySet[Subscriber]:
    """Active, not paused, not suppressed readers in any of ``lists`` and matching ``segment``.

    ``lists`` None or empty means every list. Each reader appears once.
    """
    today = timezone.localdate()
    suppressed = Suppression.objects.filter(email=Lower(OuterRef("email")))
    queryset = (
        Subscriber.objects.filter(status=SubscriberStatus.ACTIVE)
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=today))
        .exclude(Exists(suppressed))
    )
    list_items = list(lists) if lists is not None else []
    if list_items:
        queryset = queryset.filter(_in_lists(list_items))
    if segment is not None:
        queryset = queryset.filter(segment_filter(segment))
    return queryset


def segment_count(segment: Segment) -> int:
    """How many readers a send to this segment would reach now."""
    return sendable_subscribers(segment=segment).count()


def subscriber_by_email(email: str) -> Subscriber | None:
    return Subscriber.objects.filter(email__iexact=email).first()


def subscriber_for_token(data: TokenData) -> Subscriber:
    """The reader a link names; InvalidLink if they are gone or the address changed."""
    subscriber = Subscriber.objects.filter(pk=data.subscriber_id).first()
    if subscriber is None or address_digest(subscriber.email) != data.digest:
        raise InvalidLink("This link no longer names a subscription.")
    return subscriber


def public_lists() -> QuerySet[MailingList]:
    return MailingList.objects.filter(public=True)
