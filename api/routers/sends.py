"""Sends (schedule, pause, resume, cancel, progress) through delivery's services; events and figures."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Status

from api.auth import actor, scoped
from api.routers.common import MAX_LIMIT, existing, keyset_page, one
from api.schemas import AnalyticsOut, EventPage, ProgressOut, SendCreate, SendOut, SendPage, SendReschedule, answers
from delivery import services
from delivery.analytics import send_figures, top_links
from delivery.models import Event, Send, SendStatus
from delivery.selectors import send_progress
from issues.models import Issue
from subscribers.models import MailingList, Segment

READ, WRITE, ANALYTICS = "sends:read", "sends:write", "analytics:read"
router = Router(tags=["sends"])


def _may_view(request: HttpRequest) -> None:
    if not actor(request).has_perm("delivery.view_send"):
        raise PermissionDenied("The account this key acts as may not view sends.")


def _sends() -> QuerySet[Send]:
    return Send.objects.prefetch_related("lists")


def send_out(send: Send) -> dict[str, Any]:
    return {
        "id": send.pk,
        "issue": send.issue_id,
        "lists": [m.pk for m in send.lists.all()],
        "segment": send.segment_id,
        "status": send.status,
        "scheduled_at": send.scheduled_at,
        "started_at": send.started_at,
        "finished_at": send.finished_at,
        "total": send.total,
        "error": send.error,
    }


@router.get("/sends", response=answers(200, SendPage), auth=scoped(READ), summary="List sends")
def send_list(
    request: HttpRequest,
    status: SendStatus | None = None,
    issue: int | None = None,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=MAX_LIMIT),  # type: ignore[type-arg]
) -> dict[str, Any]:
    """Latest scheduled first."""
    _may_view(request)
    queryset = _sends()
    if status:
        queryset = queryset.filter(status=status)
    if issue is not None:
        queryset = queryset.filter(issue_id=issue)
    rows, next_cursor = keyset_page(
        queryset,
        listing="sends",
        filters={"status": status, "issue": issue},
        cursor=cursor,
        limit=limit,
        field="scheduled_at",
    )
    return {"results": [send_out(s) for s in rows], "next_cursor": next_cursor}


@router.get("/sends/{int:send_id}", response=answers(200, SendOut), auth=scoped(READ), summary="Get a send")
def send_get(request: HttpRequest, send_id: int) -> dict[str, Any]:
    _may_view(request)
    return send_out(one(_sends(), send_id))


@router.get(
    "/sends/{int:send_id}/progress", response=answers(200, ProgressOut), auth=scoped(READ), summary="A send's progress"
)
def send_progress_get(request: HttpRequest, send_id: int) -> dict[str, Any]:
    """What the admin's progress bar shows: counts by state, rate and the time left."""
    _may_view(request)
    return send_progress(send=one(Send, send_id))


@router.post("/sends", response=answers(201, SendOut), auth=scoped(WRITE), summary="Schedule a send")
def send_create(request: HttpRequest, payload: SendCreate) -> Status[dict[str, Any]]:
    """Send an approved issue to lists and/or a segment, now or at ``scheduled_at``; the issue becomes scheduled.

    The same checks as the admin: pre-send errors, an audience with readers, no second send to the same audience."""
    issue = existing(Issue, [payload.issue], field="issue")[0]
    segment = existing(Segment, [payload.segment], field="segment")[0] if payload.segment is not None else None
    if payload.scheduled_at is not None:
        _aware(payload.scheduled_at)
    send = services.send_create(
        issue=issue,
        lists=existing(MailingList, payload.lists, field="lists"),
        segment=segment,
        at=payload.scheduled_at,
        acting_user=actor(request),
    )
    return Status(201, send_out(one(_sends(), send.pk)))


def _aware(at: datetime.datetime) -> None:
    if at.tzinfo is None:
        raise ValidationError(
            {"scheduled_at": "Give the time with its time zone (for example 2026-05-01T07:00:00+01:00)."}
        )


@router.post(
    "/sends/{int:send_id}/reschedule", response=answers(200, SendOut), auth=scoped(WRITE), summary="Move a send"
)
def send_reschedule(request: HttpRequest, send_id: int, payload: SendReschedule) -> dict[str, Any]:
    """A send that has not started goes out at ``scheduled_at`` instead (a time now or within two minutes
    past sends at once). A send that started is paused or cancelled instead: 422."""
    _aware(payload.scheduled_at)
    send = one(Send, send_id)
    try:
        services.send_reschedule(send=send, at=payload.scheduled_at, acting_user=actor(request))
    except ValidationError as error:
        raise ValidationError({"scheduled_at": error.messages}) from None
    return send_out(one(_sends(), send_id))


def _command(request: HttpRequest, send_id: int, command: Any) -> dict[str, Any]:
    send = one(Send, send_id)
    command(send=send, acting_user=actor(request))
    return send_out(one(_sends(), send_id))


@router.post("/sends/{int:send_id}/pause", response=answers(200, SendOut), auth=scoped(WRITE), summary="Pause a send")
def send_pause(request: HttpRequest, send_id: int) -> dict[str, Any]:
    return _command(request, send_id, services.send_pause)


@router.post("/sends/{int:send_id}/resume", response=answers(200, SendOut), auth=scoped(WRITE), summary="Resume a send")
def send_resume(request: HttpRequest, send_id: int) -> dict[str, Any]:
    return _command(request, send_id, services.send_resume)


@router.post("/sends/{int:send_id}/cancel", response=answers(200, SendOut), auth=scoped(WRITE), summary="Cancel a send")
def send_cancel(request: HttpRequest, send_id: int) -> dict[str, Any]:
    """A scheduled send is called off and its issue is approved again; a running one stops where it is."""
    return _command(request, send_id, services.send_cancel)


# --- analytics -------------------------------------------------------------------------


def _may_see_analytics(request: HttpRequest) -> None:
    if not actor(request).has_perm("delivery.view_event"):
        raise PermissionDenied("The account this key acts as may not view tracking events.")


@router.get(
    "/sends/{int:send_id}/analytics",
    response=answers(200, AnalyticsOut),
    auth=scoped(ANALYTICS),
    summary="A send's figures",
)
def send_analytics(request: HttpRequest, send_id: int) -> dict[str, Any]:
    """The admin's headline figures (sent, delivered, unique opens and clicks, bounces, …) and the top links."""
    _may_see_analytics(request)
    sends = Send.objects.filter(pk=one(Send, send_id).pk)
    return {
        "send": send_id,
        "figures": [
            {"key": f.key, "label": f.label, "count": f.count, "base": f.base, "rate": f.rate}
            for f in send_figures(sends=sends)
        ],
        "top_links": [
            {"url": row["url"], "clicks": row["clicks"], "readers": row["readers"]} for row in top_links(sends=sends)
        ],
    }


@router.get("/events", response=answers(200, EventPage), auth=scoped(ANALYTICS), summary="Tracking events")
def event_list(
    request: HttpRequest,
    send: int | None = None,
    type: Event.Type | None = None,
    after: datetime.datetime | None = None,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=MAX_LIMIT),  # type: ignore[type-arg]
) -> dict[str, Any]:
    """What the provider reported (delivered, opened, clicked, bounced, …), newest first."""
    _may_see_analytics(request)
    queryset = Event.objects.select_related("delivery")
    if send is not None:
        queryset = queryset.filter(send_id=send)
    if type:
        queryset = queryset.filter(event_type=type)
    if after:
        queryset = queryset.filter(at__gt=after)
    filters = {"send": send, "type": type, "after": after.isoformat() if after else None}
    rows, next_cursor = keyset_page(queryset, listing="events", filters=filters, cursor=cursor, limit=limit, field="at")
    return {
        "results": [
            {
                "id": e.pk,
                "type": e.event_type,
                "at": e.at,
                "send": e.send_id,
                "subscriber": e.delivery.subscriber_id if e.delivery else None,
                "recipient": e.recipient,
                "url": e.url,
                "description": e.description,
            }
            for e in rows
        ],
        "next_cursor": next_cursor,
    }
