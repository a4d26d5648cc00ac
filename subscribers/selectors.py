"""Reads over the audience."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from subscribers.engagement import engagement_source
from subscribers.fields import field_parse
from subscribers.links import InvalidLink, TokenData, address_digest
from subscribers.models import (
    Consent,
    FieldOperator,
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


@dataclass(frozen=True)
class SegmentRules:
    """A segment's conditions, saved or not yet saved (the admin's live count reads the unsaved form)."""

    list_ids: tuple[int, ...] = ()
    tag_ids: tuple[int, ...] = ()
    status: str = ""
    signed_up_after: datetime.date | None = None
    signed_up_before: datetime.date | None = None
    engaged_within_days: int | None = None
    inactive_for_days: int | None = None
    opened_in_last_sends: int | None = None
    clicked_in_last_sends: int | None = None
    clicked_url: str = ""
    clicked_issue: int | None = None
    never_opened: bool = False
    received_at_least: int | None = None
    # A custom-field condition: the field's key, a FieldOperator and the value already parsed for its kind.
    field_key: str = ""
    field_operator: str = ""
    field_value: Any = None

    @classmethod
    def of(cls, segment: Segment) -> SegmentRules:
        field = segment.field
        value = field_parse(field, segment.field_value) if field is not None else None
        return cls(
            field_key=field.key if field is not None else "",
            field_operator=segment.field_operator if field is not None else "",
            field_value=value,
            list_ids=tuple(segment.lists.values_list("pk", flat=True)),
            tag_ids=tuple(segment.tags.values_list("pk", flat=True)),
            status=segment.status,
            signed_up_after=segment.signed_up_after,
            signed_up_before=segment.signed_up_before,
            engaged_within_days=segment.engaged_within_days,
            inactive_for_days=segment.inactive_for_days,
            opened_in_last_sends=segment.opened_in_last_sends,
            clicked_in_last_sends=segment.clicked_in_last_sends,
            clicked_url=segment.clicked_url,
            clicked_issue=segment.clicked_issue,
            never_opened=segment.never_opened,
            received_at_least=segment.received_at_least,
        )


def rules_filter(rules: SegmentRules) -> Q:
    """The conditions as one Q (EXISTS, no joins that repeat rows)."""
    condition = Q()
    if rules.list_ids:
        condition &= Q(_in_lists(rules.list_ids))
    if rules.tag_ids:
        through = Subscriber.tags.through
        tagged = through.objects.filter(subscriber_id=OuterRef("pk"), subscribertag_id__in=rules.tag_ids)
        condition &= Q(Exists(tagged))
    if rules.status:
        condition &= Q(status=rules.status)
    if rules.signed_up_after:
        condition &= Q(created_at__date__gte=rules.signed_up_after)
    if rules.signed_up_before:
        condition &= Q(created_at__date__lte=rules.signed_up_before)
    now = timezone.now()
    if rules.engaged_within_days is not None:
        condition &= Q(last_engaged_at__gte=now - datetime.timedelta(days=rules.engaged_within_days))
    if rules.inactive_for_days is not None:
        since = now - datetime.timedelta(days=rules.inactive_for_days)
        condition &= Q(last_engaged_at__isnull=True) | Q(last_engaged_at__lt=since)
    if rules.field_key and rules.field_operator:
        condition &= _field_condition(rules.field_key, rules.field_operator, rules.field_value)
    return condition & _engagement_filter(rules)


def _engagement_filter(rules: SegmentRules) -> Q:
    """The engagement rules: per-reader fields where they answer, else the sending layer's EXISTS."""
    condition = Q()
    if rules.never_opened:
        # last_engaged_at is kept by every open or click of a person (a click counts as an open).
        condition &= Q(last_engaged_at__isnull=True)
    if rules.received_at_least is not None:
        condition &= Q(received_count__gte=rules.received_at_least)
    wanted = (rules.opened_in_last_sends, rules.clicked_in_last_sends, rules.clicked_url, rules.clicked_issue)
    if all(value in (None, "") for value in wanted):
        return condition
    source = engagement_source()
    if rules.opened_in_last_sends is not None:
        condition &= source.opened_in_last_sends(rules.opened_in_last_sends)
    if rules.clicked_in_last_sends is not None:
        condition &= source.clicked_in_last_sends(rules.clicked_in_last_sends)
    if rules.clicked_url:
        condition &= source.clicked_url(rules.clicked_url)
    if rules.clicked_issue is not None:
        condition &= source.clicked_issue(rules.clicked_issue)
    return condition


def _field_condition(key: str, operator: str, value: Any) -> Q:
    # Containment (@>) is what the GIN index on attributes serves; keys are CustomField keys ([a-z0-9_]).
    if operator == FieldOperator.SET:
        return Q(attributes__has_key=key)
    if operator == FieldOperator.EMPTY:
        return ~Q(attributes__has_key=key)
    if value is None:
        return Q()
    if operator == FieldOperator.EQUALS:
        return Q(attributes__contains={key: value})
    if operator == FieldOperator.NOT_EQUALS:
        return ~Q(attributes__contains={key: value})
    if operator == FieldOperator.GREATER:
        return Q(**{f"attributes__{key}__gt": value})
    if operator == FieldOperator.LESS:
        return Q(**{f"attributes__{key}__lt": value})
    return Q()


def segment_filter(segment: Segment) -> Q:
    """The segment's saved conditions as one Q."""
    return rules_filter(SegmentRules.of(segment))


def sendable_condition() -> Q:
    """Active, not paused and not suppressed, as one condition on a reader (see sendable_subscribers)."""
    suppressed = Suppression.objects.filter(email=Lower(OuterRef("email")))
    not_paused = Q(paused_until__isnull=True) | Q(paused_until__lte=timezone.localdate())
    return Q(status=SubscriberStatus.ACTIVE) & not_paused & ~Q(Exists(suppressed))


def sendable_subscribers(
    *, lists: Iterable[MailingList | int] | None = None, segment: Segment | None = None
) -> QuerySet[Subscriber]:
    """Active, not paused, not suppressed readers in any of ``lists`` and matching ``segment``.

    ``lists`` None or empty means every list. Each reader appears once.
    """
    queryset = Subscriber.objects.filter(sendable_condition())
    list_items = list(lists) if lists is not None else []
    if list_items:
        queryset = queryset.filter(_in_lists(list_items))
    if segment is not None:
        queryset = queryset.filter(segment_filter(segment))
    return queryset


def segment_count(segment: Segment) -> int:
    """How many readers a send to this segment would reach now."""
    return sendable_subscribers(segment=segment).count()


def segment_counts(rules: SegmentRules) -> dict[str, int]:
    """The admin's live count: readers matching the rules in any state, and those a send would reach now."""
    members = _membership_counts(rules)
    if members is not None:
        return members
    # One pass over the matching readers for both figures (two counts read them twice: 0.9 s at a million).
    counts = Subscriber.objects.filter(rules_filter(rules)).aggregate(
        matching=Count("pk"), sendable=Count("pk", filter=sendable_condition())
    )
    return {"matching": counts["matching"], "sendable": counts["sendable"]}


# The rules _membership_counts answers: lists, tags and a status, nothing that needs the reader's row.
_MEMBERSHIP_ONLY = frozenset({"list_ids", "tag_ids", "status"})


def _membership_counts(rules: SegmentRules) -> dict[str, int] | None:
    """segment_counts for rules of lists and tags (and a status) alone, on PostgreSQL; None otherwise.

    The same figures as the ORM's query, without looking up each member's row. At a million
    readers that query probes the reader index once per member of the list and tag (90,000 for
    the benchmark's segment) after a parallel hash join of the two memberships: 290-360 ms. Here
    the members come from the two membership indexes merged in reader order, and are merged in
    turn with the few readers a send would skip for their own sake: every reader who is not
    active, has a pause date or has a suppressed address (Subscriber.suppressed, kept by the
    database's triggers) is in the partial index subscriber_unsendable. A member not in it is
    active, not paused and not suppressed.
    """
    from django.db import connection

    set_rules = {name for name, value in vars(rules).items() if value not in (None, "", (), False)}
    if connection.vendor != "postgresql" or not (rules.list_ids or rules.tag_ids) or set_rules - _MEMBERSHIP_ONLY:
        return None
    lists, tags = Subscriber.lists.through._meta.db_table, Subscriber.tags.through._meta.db_table
    readers = Subscriber._meta.db_table
    params: list[Any] = []

    # Table and column names come from the models, every value is a parameter.
    def members_of(table: str, column: str, ids: tuple[int, ...], alias: str) -> str:
        params.extend(ids)
        marks = ", ".join(["%s"] * len(ids))
        return f'SELECT {alias}."subscriber_id" FROM "{table}" {alias} WHERE {alias}."{column}" IN ({marks})'  # noqa: S608

    if rules.list_ids and rules.tag_ids:
        in_lists = members_of(lists, "mailinglist_id", rules.list_ids, "l")
        in_tags = members_of(tags, "subscribertag_id", rules.tag_ids, "t")
        members = (
            f'SELECT DISTINCT l."subscriber_id" AS id FROM ({in_lists}) l JOIN ({in_tags}) t USING ("subscriber_id")'  # noqa: S608
        )
    elif rules.list_ids:
        members = (
            f'SELECT DISTINCT "subscriber_id" AS id FROM ({members_of(lists, "mailinglist_id", rules.list_ids, "l")}) l'  # noqa: S608
        )
    else:
        members = (
            f'SELECT DISTINCT "subscriber_id" AS id FROM ({members_of(tags, "subscribertag_id", rules.tag_ids, "t")}) t'  # noqa: S608
        )
    active = SubscriberStatus.ACTIVE.value
    today = timezone.localdate()
    if rules.status == active or not rules.status:
        # Readers outside the partial index are sendable; inside it, active ones are paused or suppressed.
        matching = "TRUE" if not rules.status else "(u.id IS NULL OR u.status = %s)"
        matching_params = [] if not rules.status else [active]
        not_paused = "(u.paused_until IS NULL OR u.paused_until <= %s)"
        sendable = f"(u.id IS NULL OR (u.status = %s AND NOT u.suppressed AND {not_paused}))"
        sendable_params: list[Any] = [active, today]
    else:
        # Any other status is in the partial index, and a send reaches no such reader.
        matching, matching_params = "u.status = %s", [rules.status]
        sendable, sendable_params = "FALSE", []
    # The join's condition is subscriber_unsendable's, so that the partial index serves it.
    unsendable = "NOT (u.status = %s) OR u.paused_until IS NOT NULL OR u.suppressed"
    sql = (
        f"SELECT COUNT(*) FILTER (WHERE {matching}), COUNT(*) FILTER (WHERE {matching} AND {sendable}) "  # noqa: S608
        f'FROM ({members}) m LEFT JOIN "{readers}" u ON u.id = m.id AND ({unsendable})'
    )
    args = matching_params + matching_params + sendable_params + params + [active]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        found, reachable = cursor.fetchone()
    return {"matching": int(found), "sendable": int(reachable)}


def subscriber_by_email(email: str) -> Subscriber | None:
    return Subscriber.objects.filter(email__iexact=email).first()


def subscribers_awaiting_welcome(*, confirmed_since: datetime.datetime) -> QuerySet[Subscriber]:
    """Active readers who confirmed their address with the link since then and were never sent the welcome.

    Only the confirmation link sends a welcome, so readers made active by an
    import or by an editor (who have no "confirm" consent) are never among them.
    Oldest confirmation first.
    """
    confirmed_by_link = Consent.objects.filter(subscriber=OuterRef("pk"), action=Consent.Action.CONFIRM)
    return (
        Subscriber.objects.filter(
            status=SubscriberStatus.ACTIVE, welcome_sent_at=None, confirmed_at__gte=confirmed_since
        )
        .filter(Exists(confirmed_by_link))
        .order_by("confirmed_at", "pk")
    )


def subscriber_for_token(data: TokenData) -> Subscriber:
    """The reader a link names; InvalidLink if they are gone or the address changed."""
    subscriber = Subscriber.objects.filter(pk=data.subscriber_id).first()
    if subscriber is None or address_digest(subscriber.email) != data.digest:
        raise InvalidLink("This link no longer names a subscription.")
    return subscriber


def public_lists() -> QuerySet[MailingList]:
    return MailingList.objects.filter(public=True)


PUBLIC_LISTS_CACHE_KEY = "subscribers:public-lists:v1"


@dataclass(frozen=True)
class ListChoice:
    """A list as the subscribe form offers it."""

    pk: int
    name: str
    default: bool


def public_list_choices() -> list[ListChoice]:
    """The lists readers are offered, in order, for the form on every page.

    One query, then the cache, until a list is saved or deleted through
    subscribers.services (which forget it) or PAGE_CACHE_SECONDS pass
    (a change made elsewhere, say in a shell, shows by then). 0 turns it off.
    """
    rows = cache.get(PUBLIC_LISTS_CACHE_KEY)
    if rows is None:
        rows = list(public_lists().values_list("pk", "name", "default"))
        if settings.PAGE_CACHE_SECONDS > 0:
            cache.set(PUBLIC_LISTS_CACHE_KEY, rows, settings.PAGE_CACHE_SECONDS)
    return [ListChoice(pk=pk, name=name, default=default) for pk, name, default in rows]
