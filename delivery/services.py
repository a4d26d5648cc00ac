"""The editor's commands on sends: create, reschedule, pause, resume, cancel, retry the failed, decide the uncertain.

The worker's path (start, snapshot, batches, finish, recovery) is delivery.pipeline."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from delivery import claims, pipeline, zones
from delivery.forms import publication_tz
from delivery.models import Batch, Delivery, DeliveryStatus, Send, SendStatus
from delivery.providers import provider_check
from issues.models import Issue, IssueStatus
from issues.services import issue_transition
from subscribers.models import MailingList, Segment
from subscribers.selectors import sendable_subscribers

NOW_GRACE = datetime.timedelta(minutes=2)


def audience_key(*, lists: Iterable[MailingList], segment: Segment | None) -> str:
    ids = sorted(m.pk for m in lists)
    return f"lists:{','.join(map(str, ids))}|segment:{segment.pk if segment else ''}"


def _same_audience(issue: Issue, key: str) -> bool:
    """A send of this issue to this audience that has not been cancelled or failed (a failed
    send reached no reader: see send_finish_if_complete)."""
    return (
        Send.objects.filter(issue=issue, audience_key=key)
        .exclude(status__in=[SendStatus.CANCELLED, SendStatus.FAILED])
        .exists()
    )


def send_create(
    *,
    issue: Issue,
    lists: Iterable[MailingList],
    segment: Segment | None,
    at: datetime.datetime | None,
    acting_user: Any,
    track_clicks: bool | None = None,
    track_opens: bool | None = None,
    window: tuple[datetime.time, datetime.time] | None = None,
    local: tuple[datetime.date, datetime.time] | None = None,
) -> Send:
    """Schedule ``issue`` to the audience at ``at`` (None = now); moves the issue to scheduled.

    ``track_clicks`` / ``track_opens`` default to the site's FIRST_PARTY_TRACKING /
    FIRST_PARTY_OPEN_PIXEL; ``window`` (start, end) in the publication's zone keeps
    batches waiting outside those hours (see delivery.pacing). ``local`` (day, time) sends at that
    time on that day in each reader's time zone instead of at ``at`` (see delivery.zones)."""
    from issues.checks import has_blocking_errors

    _check_schedule_perm(acting_user, "You may not schedule issues.")
    window_check(window)
    list_items = list(lists)
    key = audience_key(lists=list_items, segment=segment)
    if _same_audience(issue, key):
        raise ValidationError("This issue already has a send to this audience.")
    if issue.status != IssueStatus.APPROVED:
        raise ValidationError("Only an approved issue can be sent.")
    if has_blocking_errors(issue):
        raise ValidationError("The issue has pre-send errors; fix them first.")
    if not list_items and segment is None:
        raise ValidationError("Choose at least one list or a segment.")
    if not sendable_subscribers(lists=list_items, segment=segment).exists():
        raise ValidationError("This audience has no readers who can receive the issue.")
    now = timezone.now()
    if local is not None:
        at = _local_start(local, window=window, lists=list_items, segment=segment, now=now)
    at = at or now
    if at < now - NOW_GRACE:
        raise ValidationError("The sending time is in the past.")
    try:
        provider_check()
    except pipeline.CONFIG_ERRORS as exc:
        raise ValidationError(f"The mail provider is not set up: {exc}") from None
    with transaction.atomic():
        if _same_audience(issue, key):
            raise ValidationError("This issue already has a send to this audience.")
        send = Send.objects.create(
            issue=issue,
            segment=segment,
            scheduled_at=max(at, now),
            audience_key=key,
            created_by=acting_user,
            track_clicks=settings.FIRST_PARTY_TRACKING if track_clicks is None else track_clicks,
            track_opens=settings.FIRST_PARTY_OPEN_PIXEL if track_opens is None else track_opens,
            window_start=window[0] if window else None,
            window_end=window[1] if window else None,
            local_date=local[0] if local else None,
            local_time=local[1] if local else None,
        )
        send.lists.set(list_items)
        issue_transition(issue=issue, to_status=IssueStatus.SCHEDULED, acting_user=acting_user)
    return send


def _local_start(
    local: tuple[datetime.date, datetime.time],
    *,
    window: tuple[datetime.time, datetime.time] | None,
    lists: list[MailingList],
    segment: Segment | None,
    now: datetime.datetime,
) -> datetime.datetime:
    """When a send at each reader's local time starts: its earliest zone's time, or now if that passed."""
    day, _time = local
    if window is not None:
        raise ValidationError("A send at each reader's local time cannot also have a sending window.")
    if day < now.astimezone(publication_tz()).date():
        raise ValidationError(f"{day:%d %b %Y} is in the past; choose today or a later date.")
    return max(zones.first_due(day=day, at=local[1], lists=lists, segment=segment), now)


def window_check(window: tuple[datetime.time, datetime.time] | None) -> None:
    """A send window runs from its start to its end within one day; one that ends before
    (or when) it starts is refused."""
    if window is not None and window[1] <= window[0]:
        raise ValidationError(
            f"The sending window ends ({window[1]:%H:%M}) before it starts ({window[0]:%H:%M}); "
            "give an end later in the day than the start."
        )


def _check_schedule_perm(acting_user: Any, refusal: str = "You may not control sends.") -> None:
    if acting_user is not None and not acting_user.has_perm("issues.schedule_issue"):
        raise PermissionDenied(refusal)


def send_pause(*, send: Send, acting_user: Any) -> Send:
    _check_schedule_perm(acting_user)
    if not Send.objects.filter(pk=send.pk, status=SendStatus.SENDING).update(status=SendStatus.PAUSED):
        raise ValidationError("Only a send that is sending can be paused.")
    send.refresh_from_db()
    return send


def send_resume(*, send: Send, acting_user: Any) -> Send:
    _check_schedule_perm(acting_user)
    with transaction.atomic():
        if not Send.objects.filter(pk=send.pk, status=SendStatus.PAUSED).update(status=SendStatus.SENDING):
            raise ValidationError("Only a paused send can be resumed.")
        pipeline.enqueue_batches(send.pk)
        transaction.on_commit(lambda: pipeline.send_finish_if_complete(send_id=send.pk))
    send.refresh_from_db()
    return send


def send_reschedule(*, send: Send, at: datetime.datetime, acting_user: Any) -> Send:
    """Move a send that has not started to ``at`` (an aware time; "now" within NOW_GRACE sends at once).

    Only a scheduled send moves: one that started is paused or cancelled instead."""
    _check_schedule_perm(acting_user, "You may not schedule issues.")
    if timezone.is_naive(at):
        raise ValidationError("Give the sending time with its time zone.")
    now = timezone.now()
    if at < now - NOW_GRACE:
        raise ValidationError("The sending time is in the past.")
    with transaction.atomic():
        locked = Send.objects.select_for_update().get(pk=send.pk)
        if locked.status != SendStatus.SCHEDULED:
            raise ValidationError("Only a send that has not started can be moved; pause or cancel it instead.")
        Send.objects.filter(pk=send.pk).update(scheduled_at=max(at, now))
    send.refresh_from_db()
    return send


def send_cancel(*, send: Send, acting_user: Any) -> Send:
    """Stop a scheduled, sending or paused send; remaining queued rows are skipped."""
    _check_schedule_perm(acting_user)
    with transaction.atomic():
        locked = Send.objects.select_for_update().get(pk=send.pk)
        if locked.status not in (SendStatus.SCHEDULED, SendStatus.SNAPSHOTTING, SendStatus.SENDING, SendStatus.PAUSED):
            raise ValidationError("This send can no longer be cancelled.")
        was_scheduled = locked.status == SendStatus.SCHEDULED
        Send.objects.filter(pk=send.pk).update(status=SendStatus.CANCELLED, finished_at=timezone.now())
        # Rows a worker is sending right now stay queued until their answer (claims.batch_claim);
        # the send's Batch rows are locked first, so no claim commits between this read and the skip.
        flight = claims.batches_in_flight([send.pk], lock=True)
        Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED).exclude(claims.in_flight_rows(flight)).update(
            status=DeliveryStatus.SKIPPED, error="Send cancelled."
        )
        issue = Issue.objects.get(pk=send.issue_id)
        if was_scheduled and issue.status == IssueStatus.SCHEDULED:
            issue_transition(issue=issue, to_status=IssueStatus.APPROVED, acting_user=None)
        elif issue.status in (IssueStatus.SCHEDULED, IssueStatus.SENDING):
            issue_transition(issue=issue, to_status=_status_after_cancel(issue), acting_user=None)
    send.refresh_from_db()
    return send


def _status_after_cancel(issue: Issue) -> str:
    """A send cancelled part-way: the issue is sent if any reader has or may have it (rows being
    sent right now included), so it stays public and unsendable twice; otherwise approved again."""
    reached = (
        Delivery.objects.filter(send__issue=issue, status__in=[DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN]).exists()
        or Batch.objects.filter(claims.IN_FLIGHT, send__issue=issue).exists()
    )
    if reached:
        return IssueStatus.SENT
    # SCHEDULED -> SENT is not a move; a started send has moved the issue to SENDING already.
    return IssueStatus.APPROVED


def _has_or_may_get_issue(send: Send) -> Exists:
    """The reader has a delivery of this issue (in any send) that was sent, may have been
    sent, or is about to be: re-queueing them could make them a second copy."""
    return Exists(
        Delivery.objects.filter(
            send__issue_id=send.issue_id,
            subscriber_id=OuterRef("subscriber_id"),
            status__in=[DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN, DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED],
        ).exclude(pk=OuterRef("pk"))
    )


def _requeue(send: Send, rows: Any) -> int:
    """Put ``rows`` of an ended send back in the queue and set the send going again."""
    locked = Send.objects.select_for_update().get(pk=send.pk)
    if locked.status not in (SendStatus.DONE, SendStatus.FAILED):
        raise ValidationError("Readers can be sent again only once the send has ended.")
    count = rows.exclude(_has_or_may_get_issue(send)).update(status=DeliveryStatus.QUEUED, error="")
    if count:
        if locked.status == SendStatus.FAILED:
            _issue_sending_again(locked.issue_id)
        Send.objects.filter(pk=send.pk).update(status=SendStatus.SENDING, finished_at=None, error="")
        pipeline.enqueue_batches(send.pk)
    return count


def _issue_sending_again(issue_id: int) -> None:
    """A failed send set going again: its issue, approved again when it failed, is sending once more."""
    issue = Issue.objects.get(pk=issue_id)
    if issue.status == IssueStatus.APPROVED:
        issue_transition(issue=issue, to_status=IssueStatus.SCHEDULED, acting_user=None)
    if issue.status == IssueStatus.SCHEDULED:
        issue_transition(issue=issue, to_status=IssueStatus.SENDING, acting_user=None)
    if issue.status not in (IssueStatus.SENDING, IssueStatus.SENT):
        raise ValidationError("The issue has changed since this send failed; approve it, then send it again.")


def send_retry_failed(*, send: Send, acting_user: Any) -> int:
    """Re-queue the FAILED rows of an ended send, except readers who have (or may have, or are
    about to get) this issue from any send. Returns how many were re-queued."""
    _check_schedule_perm(acting_user)
    with transaction.atomic():
        count = _requeue(send, Delivery.objects.filter(send=send, status=DeliveryStatus.FAILED))
    send.refresh_from_db()
    return count


def send_mark_uncertain(*, send: Send, acting_user: Any, as_sent: bool) -> int:
    """Operator decision on UNCERTAIN rows: mark them sent, or re-queue them (may duplicate).

    Re-sending needs the send to have ended and still skips readers another delivery of this
    issue reached (or may have reached)."""
    _check_schedule_perm(acting_user)
    rows = Delivery.objects.filter(send=send, status=DeliveryStatus.UNCERTAIN)
    if as_sent:
        return rows.update(status=DeliveryStatus.SENT, error="Marked sent by an operator.")
    with transaction.atomic():
        count = _requeue(send, rows)
    send.refresh_from_db()
    return count
