"""Readers, lists, tags and segments. Writes call subscribers' services as the key's creator."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from api.auth import actor, scoped, via
from api.routers.common import MAX_LIMIT, existing, keyset_page, one
from api.schemas import (
    ERRORS,
    CustomFieldOut,
    ErasedOut,
    MailingListOut,
    SegmentOut,
    StatusChoice,
    SubscriberCreate,
    SubscriberOut,
    SubscriberPage,
    SubscriberUpdate,
    TagOut,
    answers,
)
from subscribers import admin_services, privacy
from subscribers.export import export_response
from subscribers.fields import field_parse
from subscribers.models import CustomField, MailingList, Segment, Subscriber, SubscriberStatus, SubscriberTag
from subscribers.selectors import SegmentRules, segment_counts
from subscribers.services import subscriber_unsubscribe

READ, WRITE = "subscribers:read", "subscribers:write"
router = Router(tags=["audience"])


class SubscriberFilters(Schema):
    status: StatusChoice | None = None
    list: int | None = Field(None, description="Only readers on this list (id).")
    tag: str | None = Field(None, description="Only readers with this tag (name).")
    created_after: datetime.datetime | None = None
    created_before: datetime.datetime | None = None
    email_contains: str | None = Field(None, max_length=254)
    field: str | None = Field(
        None, max_length=40, description="Only readers with a value for this custom field (its key, GET /fields)."
    )
    field_value: str | None = Field(
        None,
        max_length=200,
        description="With field: only readers whose value is this one (read as the field's kind: "
        "42, 2026-03-31, yes/no, a choice in any case).",
    )


def subscriber_out(s: Subscriber) -> dict[str, Any]:
    return {
        "id": s.pk,
        "email": s.email,
        "name": s.name,
        "status": s.status,
        "source": s.source,
        "lists": [m.pk for m in s.lists.all()],
        "tags": [t.name for t in s.tags.all()],
        "created_at": s.created_at,
        "confirmed_at": s.confirmed_at,
        "unsubscribed_at": s.unsubscribed_at,
        "paused_until": s.paused_until,
        "last_engaged_at": s.last_engaged_at,
        "time_zone": s.time_zone,
        "attributes": dict(s.attributes or {}),
    }


def _readers() -> QuerySet[Subscriber]:
    return Subscriber.objects.prefetch_related("lists", "tags")


def _filtered(filters: SubscriberFilters) -> QuerySet[Subscriber]:
    queryset = _readers()
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.list is not None:
        queryset = queryset.filter(lists=filters.list)
    if filters.tag:
        queryset = queryset.filter(tags__name__iexact=filters.tag)
    if filters.created_after:
        queryset = queryset.filter(created_at__gt=filters.created_after)
    if filters.created_before:
        queryset = queryset.filter(created_at__lt=filters.created_before)
    if filters.email_contains:
        queryset = queryset.filter(email__icontains=filters.email_contains)
    if filters.field:
        queryset = queryset.filter(_field_filter(filters.field, filters.field_value))
    elif filters.field_value is not None:
        raise ValidationError({"field_value": "Give field (a custom field's key) with field_value."})
    return queryset


def _field_filter(key: str, raw: str | None) -> Q:
    # Containment (@>) on attributes is what its GIN index serves; without a value, "has one".
    custom = CustomField.objects.filter(key=key).first()
    if custom is None:
        raise ValidationError({"field": f"No custom field with the key “{key[:40]}” (GET /fields lists them)."})
    if raw is None or raw == "":
        return Q(attributes__has_key=custom.key)
    try:
        value = field_parse(custom, raw)
    except ValidationError as error:
        raise ValidationError({"field_value": error.messages[0]}) from None
    return Q(attributes__contains={custom.key: value})


def _may_view(request: HttpRequest, what: str = "subscriber") -> None:
    if not actor(request).has_perm(f"subscribers.view_{what}"):
        raise PermissionDenied(f"The account this key acts as may not view {what.replace('subscriber', 'reader')}s.")


@router.get("/subscribers", response=answers(200, SubscriberPage), auth=scoped(READ), summary="List readers")
def subscriber_list(
    request: HttpRequest,
    filters: Query[SubscriberFilters],
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=MAX_LIMIT),  # type: ignore[type-arg]
) -> dict[str, Any]:
    """Newest first. Follow ``next_cursor`` for the next page, with the same filters."""
    _may_view(request)
    rows, next_cursor = keyset_page(
        _filtered(filters).distinct(),
        listing="subscribers",
        filters=filters.model_dump(mode="json"),
        cursor=cursor,
        limit=limit,
        field="created_at",
    )
    return {"results": [subscriber_out(s) for s in rows], "next_cursor": next_cursor}


@router.get(
    "/subscribers/export",
    auth=scoped(READ),
    response=ERRORS,
    summary="Export readers as CSV",
    openapi_extra={"responses": {200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def subscriber_export_csv(request: HttpRequest, filters: Query[SubscriberFilters]) -> StreamingHttpResponse:
    """The admin's CSV export (same columns, formula-guarded cells) of the readers the filters match."""
    if not actor(request).has_perm("subscribers.view_subscriber"):
        raise PermissionDenied("The account this key acts as may not export readers.")
    return export_response(_filtered(filters).distinct())


@router.get(
    "/subscribers/{int:subscriber_id}", response=answers(200, SubscriberOut), auth=scoped(READ), summary="Get a reader"
)
def subscriber_get(request: HttpRequest, subscriber_id: int) -> dict[str, Any]:
    _may_view(request)
    return subscriber_out(one(_readers(), subscriber_id))


@router.get(
    "/subscribers/{int:subscriber_id}/export",
    response=answers(200, dict[str, Any]),
    auth=scoped(READ),
    summary="A reader's personal data",
)
def subscriber_data(request: HttpRequest, subscriber_id: int) -> dict[str, Any]:
    """Everything stored about the reader (the "download my data" file): for a data-access request."""
    _may_view(request)
    return privacy.subscriber_export_data(subscriber=one(Subscriber, subscriber_id))


@router.post("/subscribers", response=answers(201, SubscriberOut), auth=scoped(WRITE), summary="Add a reader")
def subscriber_create(request: HttpRequest, payload: SubscriberCreate) -> Status[dict[str, Any]]:
    """With ``consent: confirm_by_email`` the reader is pending until they follow the emailed link."""
    lists = existing(MailingList, payload.lists, field="lists")
    subscriber = admin_services.subscriber_create(
        email=payload.email,
        name=payload.name,
        lists=lists,
        tags=payload.tags,
        consent=payload.consent,
        consent_text=payload.consent_text,
        attributes=payload.attributes,
        time_zone=payload.time_zone,
        acting_user=actor(request),
        via=via(request),
    )
    return Status(201, subscriber_out(one(_readers(), subscriber.pk)))


@router.patch(
    "/subscribers/{int:subscriber_id}",
    response=answers(200, SubscriberOut),
    auth=scoped(WRITE),
    summary="Change a reader",
)
def subscriber_update(request: HttpRequest, subscriber_id: int, payload: SubscriberUpdate) -> dict[str, Any]:
    """Only the fields sent change; ``lists`` and ``tags`` replace the reader's."""
    subscriber = one(Subscriber, subscriber_id)
    with transaction.atomic():
        admin_services.subscriber_change(
            subscriber=subscriber,
            acting_user=actor(request),
            via=via(request),
            name=payload.name,
            lists=existing(MailingList, payload.lists, field="lists") if payload.lists is not None else None,
            tags=payload.tags,
            attributes=payload.attributes,
            time_zone=payload.time_zone,
        )
    return subscriber_out(one(_readers(), subscriber_id))


@router.post(
    "/subscribers/{int:subscriber_id}/unsubscribe",
    response=answers(200, SubscriberOut),
    auth=scoped(WRITE),
    summary="Unsubscribe a reader",
)
def subscriber_unsubscribe_view(request: HttpRequest, subscriber_id: int) -> dict[str, Any]:
    """Stops every future send at once; unsubscribing twice changes nothing."""
    subscriber = one(Subscriber, subscriber_id)
    if not actor(request).has_perm("subscribers.change_subscriber"):
        raise PermissionDenied("The account this key acts as may not change readers.")
    subscriber_unsubscribe(subscriber=subscriber, via=via(request))
    return subscriber_out(one(_readers(), subscriber_id))


@router.post(
    "/subscribers/{int:subscriber_id}/erase",
    response=answers(200, ErasedOut),
    auth=scoped(WRITE),
    summary="Erase a reader",
)
def subscriber_erase(request: HttpRequest, subscriber_id: int) -> dict[str, Any]:
    """Forget the reader (right to erasure): only a hash of the address is kept, so nothing reaches it again."""
    subscriber = one(Subscriber, subscriber_id)
    if not actor(request).has_perm("subscribers.delete_subscriber"):
        raise PermissionDenied("The account this key acts as may not erase readers.")
    suppression = privacy.subscriber_erase(subscriber=subscriber)
    return {"erased": True, "email_hash": suppression.email_hash}


# --- lists, tags, segments ---------------------------------------------------------


@router.get("/fields", response=answers(200, list[CustomFieldOut]), auth=scoped(READ), summary="Custom fields")
def list_fields(request: HttpRequest) -> list[dict[str, Any]]:
    """The custom reader fields editors defined: the keys a reader's ``attributes`` take, with their kinds."""
    _may_view(request, "customfield")
    return [
        {"key": f.key, "label": f.label, "kind": f.kind, "choices": list(f.choices or []), "help_text": f.help_text}
        for f in CustomField.objects.all()
    ]


@router.get("/lists", response=answers(200, list[MailingListOut]), auth=scoped(READ), summary="Mailing lists")
def list_lists(request: HttpRequest) -> list[dict[str, Any]]:
    _may_view(request, "mailinglist")
    active = Count("subscribers", filter=Q(subscribers__status=SubscriberStatus.ACTIVE))
    inactive = Count("subscribers", filter=Q(subscribers__status=SubscriberStatus.INACTIVE))
    return [
        {
            "id": m.pk,
            "name": m.name,
            "slug": m.slug,
            "description": m.description,
            "public": m.public,
            "default": m.default,
            "active_subscribers": m.active,
            "inactive_subscribers": m.inactive,
            "sunset_enabled": m.sunset_enabled,
        }
        for m in MailingList.objects.annotate(active=active, inactive=inactive)
    ]


@router.get("/tags", response=answers(200, list[TagOut]), auth=scoped(READ), summary="Reader tags")
def list_tags(request: HttpRequest) -> list[dict[str, Any]]:
    _may_view(request, "subscribertag")
    return [
        {"id": t.pk, "name": t.name, "subscribers": t.readers}
        for t in SubscriberTag.objects.annotate(readers=Count("subscribers"))
    ]


def segment_out(segment: Segment) -> dict[str, Any]:
    rules = SegmentRules.of(segment)
    return {
        "id": segment.pk,
        "name": segment.name,
        "lists": list(rules.list_ids),
        "tags": list(rules.tag_ids),
        "status": segment.status,
        "signed_up_after": segment.signed_up_after,
        "signed_up_before": segment.signed_up_before,
        "engaged_within_days": segment.engaged_within_days,
        "inactive_for_days": segment.inactive_for_days,
        "field_key": rules.field_key,
        "field_operator": rules.field_operator,
        "field_value": rules.field_value,
        **segment_counts(rules),
    }


@router.get(
    "/segments", response=answers(200, list[SegmentOut]), auth=scoped(READ), summary="Segments, with live counts"
)
def list_segments(request: HttpRequest) -> list[dict[str, Any]]:
    _may_view(request, "segment")
    return [segment_out(s) for s in Segment.objects.all()]


@router.get(
    "/segments/{int:segment_id}",
    response=answers(200, SegmentOut),
    auth=scoped(READ),
    summary="A segment, with live counts",
)
def segment_get(request: HttpRequest, segment_id: int) -> dict[str, Any]:
    _may_view(request, "segment")
    return segment_out(one(Segment, segment_id))
