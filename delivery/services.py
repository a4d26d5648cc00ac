"""Writes for sending: create, start (snapshot), send a batch, finish, pause/resume/cancel, retry."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests
from anymail.exceptions import AnymailAPIError, AnymailConfigurationError, AnymailRequestsAPIError
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from delivery.providers import Recipient, provider_check, strategy_for
from issues.models import Issue, IssueStatus
from issues.rendering import RenderedEmail, render_email
from issues.services import issue_transition
from subscribers.links import links_for
from subscribers.models import MailingList, Segment, Subscriber
from subscribers.selectors import sendable_subscribers

CONFIG_ERRORS = (ImproperlyConfigured, AnymailConfigurationError)
NOW_GRACE = datetime.timedelta(minutes=2)


def audience_key(*, lists: Iterable[MailingList], segment: Segment | None) -> str:
    ids = sorted(m.pk for m in lists)
    return f"lists:{','.join(map(str, ids))}|segment:{segment.pk if segment else ''}"


def send_create(
    *,
    issue: Issue,
    lists: Iterable[MailingList],
    segment: Segment | None,
    at: datetime.datetime | None,
    acting_user: Any,
) -> Send:
    """Schedule ``issue`` to the audience at ``at`` (None = now); moves the issue to scheduled."""
    from issues.checks import has_blocking_errors

    if acting_user is not None and not acting_user.has_perm("issues.schedule_issue"):
        raise PermissionDenied("You may not schedule issues.")
    list_items = list(lists)
    key = audience_key(lists=list_items, segment=segment)
    if Send.objects.filter(issue=issue, audience_key=key).exclude(status=SendStatus.CANCELLED).exists():
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
    at = at or now
    if at < now - NOW_GRACE:
        raise ValidationError("The sending time is in the past.")
    with transaction.atomic():
        if Send.objects.filter(issue=issue, audience_key=key).exclude(status=SendStatus.CANCELLED).exists():
            raise ValidationError("This issue already has a send to this audience.")
        send = Send.objects.create(
            issue=issue, segment=segment, scheduled_at=max(at, now), audience_key=key, created_by=acting_user
        )
        send.lists.set(list_items)
        issue_transition(issue=issue, to_status=IssueStatus.SCHEDULED, acting_user=acting_user)
    return send


def _claim_due(now: datetime.datetime) -> list[int]:
    due = Send.objects.filter(status=SendStatus.SCHEDULED, scheduled_at__lte=now)
    if connection.features.has_select_for_update_skip_locked:
        ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:20])
        Send.objects.filter(pk__in=ids).update(status=SendStatus.SNAPSHOTTING, started_at=now)
        return ids
    claimed = []
    for pk in due.values_list("pk", flat=True)[:20]:
        if Send.objects.filter(pk=pk, status=SendStatus.SCHEDULED).update(
            status=SendStatus.SNAPSHOTTING, started_at=now
        ):
            claimed.append(pk)
    return claimed


def sends_start_due() -> list[int]:
    """Start every due scheduled send; returns their ids."""
    with transaction.atomic():
        ids = _claim_due(timezone.now())
    for pk in ids:
        send_start(send=Send.objects.get(pk=pk))
    return ids


def snapshot_audience(*, send: Send) -> int:
    """One INSERT ... SELECT of the sendable readers into Delivery rows, batch numbers included."""
    audience = sendable_subscribers(lists=list(send.lists.all()), segment=send.segment).values("id", "email")
    sql, params = audience.query.sql_with_params()
    table = Delivery._meta.db_table
    # The table name comes from the model and the SELECT from the compiled queryset (parameters kept apart).
    insert = (
        f"INSERT INTO {table} (send_id, subscriber_id, email, status, batch, attempts, "  # noqa: S608
        "provider_message_id, provider_status, error) "
        "SELECT %s, a.id, a.email, %s, (row_number() OVER (ORDER BY a.id) - 1) / %s, 0, '', '', '' "
        f"FROM ({sql}) a ON CONFLICT (send_id, subscriber_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, [send.pk, DeliveryStatus.QUEUED, settings.NEWSROOM_BATCH_SIZE, *params])
    return Delivery.objects.filter(send=send).count()


def send_start(*, send: Send) -> None:
    """Snapshot the audience, move issue and send to sending, enqueue one task per batch."""
    try:
        provider_check()
    except CONFIG_ERRORS as exc:  # misconfiguration: nothing claimed, the editor sees why
        Send.objects.filter(pk=send.pk).update(status=SendStatus.FAILED, error=str(exc), finished_at=timezone.now())
        return
    with transaction.atomic():
        total = snapshot_audience(send=send)
        Send.objects.filter(pk=send.pk).update(status=SendStatus.SENDING, total=total)
        issue = Issue.objects.get(pk=send.issue_id)
        if issue.status == IssueStatus.SCHEDULED:
            issue_transition(issue=issue, to_status=IssueStatus.SENDING, acting_user=None)
        _enqueue_batches(send.pk)
    if total == 0:
        send_finish_if_complete(send_id=send.pk)


def _enqueue_batches(send_id: int) -> None:
    from delivery.tasks import send_batch

    batches = sorted(
        set(Delivery.objects.filter(send_id=send_id, status=DeliveryStatus.QUEUED).values_list("batch", flat=True))
    )
    transaction.on_commit(lambda: [send_batch.delay(send_id, b) for b in batches])


def rendered_for(send: Send, merge_tag: Any) -> RenderedEmail:
    """The issue rendered once per send (cached in Django's cache)."""
    key = f"delivery:rendered:{send.pk}:{getattr(merge_tag, '__name__', 'tag')}"
    rendered = cache.get(key)
    if rendered is None:
        rendered = render_email(send.issue, merge_tag=merge_tag)
        cache.set(key, rendered, 6 * 3600)
    return rendered


def _claim_batch(send_id: int, batch: int) -> list[tuple[int, int | None, str]]:
    now = timezone.now()
    with transaction.atomic():
        # Rows claimed by a crashed earlier attempt may have reached the provider.
        Delivery.objects.filter(send_id=send_id, batch=batch, status=DeliveryStatus.CLAIMED).update(
            status=DeliveryStatus.UNCERTAIN, error="The worker stopped while sending this batch."
        )
        table = Delivery._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1 "  # noqa: S608
                "WHERE send_id = %s AND batch = %s AND status = %s RETURNING id, subscriber_id, email",
                [DeliveryStatus.CLAIMED, now, send_id, batch, DeliveryStatus.QUEUED],
            )
            rows = [(r[0], r[1], r[2]) for r in cursor.fetchall()]
        sub_ids = [r[1] for r in rows if r[1] is not None]
        still = set(sendable_subscribers().filter(pk__in=sub_ids).values_list("pk", flat=True))
        gone = [r[0] for r in rows if r[1] not in still]
        if gone:
            Delivery.objects.filter(pk__in=gone).update(status=DeliveryStatus.SKIPPED, error="No longer sendable.")
    return sorted((r for r in rows if r[1] in still), key=lambda r: r[0])


def _recipient(send: Send, row: tuple[int, int | None, str], names: dict[int, str], domain: str) -> Recipient:
    delivery_id, subscriber_id, email = row
    links = links_for(subscriber_id=subscriber_id or 0, email=email)
    web_url = settings.SITE_URL.rstrip("/") + send.issue.get_absolute_url()
    return Recipient(
        delivery_id=delivery_id,
        email=email,
        merge={
            "name": names.get(subscriber_id or 0, ""),
            "unsubscribe_url": links["unsubscribe_url"],
            "preferences_url": links["preferences_url"],
            "web_url": web_url,
        },
        headers={
            "List-Unsubscribe": f"<{links['one_click_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": f"<d{delivery_id}.s{send.pk}@{domain}>",
        },
        metadata={"delivery_id": str(delivery_id), "send_id": str(send.pk)},
    )


@dataclass
class BatchOutcome:
    """retry True: rows went back to QUEUED; the task should retry later."""

    retry: bool = False
    reason: str = ""


def _sender_domain() -> str:
    from email.utils import parseaddr

    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"


def send_batch_process(*, send_id: int, batch: int, final_attempt: bool = False) -> BatchOutcome:
    """Claim, send and record one batch. Safe to run again for the same batch."""
    send = Send.objects.select_related("issue").get(pk=send_id)
    if send.status != SendStatus.SENDING:
        return BatchOutcome()
    try:
        provider_check()
        strategy = strategy_for()
    except CONFIG_ERRORS as exc:
        Send.objects.filter(pk=send_id).update(status=SendStatus.FAILED, error=str(exc))
        return BatchOutcome()
    rows = _claim_batch(send_id, batch)
    if rows:
        names = dict(Subscriber.objects.filter(pk__in=[r[1] for r in rows]).values_list("pk", "name"))
        domain = _sender_domain()
        recipients = [_recipient(send, r, names, domain) for r in rows]
        rendered = rendered_for(send, strategy.merge_tag)
        messages = strategy.build(rendered, recipients, key=hashlib.sha256(f"{send_id}:{batch}".encode()).hexdigest())
        outcome = _deliver(strategy, messages, recipients, final_attempt)
        if outcome.retry:
            return outcome
    send_finish_if_complete(send_id=send_id)
    return BatchOutcome()


def _deliver(strategy: Any, messages: list, recipients: list[Recipient], final_attempt: bool) -> BatchOutcome:
    ids = [r.delivery_id for r in recipients]
    try:
        strategy.deliver(messages)
    except AnymailRequestsAPIError as exc:
        cause = exc.__cause__
        status = getattr(exc, "status_code", None)
        if isinstance(cause, requests.Timeout) and not isinstance(cause, requests.ConnectionError):
            _mark(ids, DeliveryStatus.UNCERTAIN, f"Timed out after the request was sent: {exc}")
            return BatchOutcome()
        if status is None or status == 429 or status >= 500:
            return _retry_or_fail(ids, str(exc), final_attempt)
        _mark(ids, DeliveryStatus.FAILED, str(exc))
        return BatchOutcome()
    except (AnymailAPIError, OSError) as exc:
        if strategy.batch:
            return _retry_or_fail(ids, str(exc), final_attempt)
        _mark(ids, DeliveryStatus.UNCERTAIN, f"Error while sending one by one: {exc}")
        return BatchOutcome()
    _record(messages, recipients)
    return BatchOutcome()


def _retry_or_fail(ids: list[int], reason: str, final_attempt: bool) -> BatchOutcome:
    if final_attempt:
        _mark(ids, DeliveryStatus.FAILED, reason)
        return BatchOutcome()
    Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.CLAIMED).update(
        status=DeliveryStatus.QUEUED, error=reason
    )
    return BatchOutcome(retry=True, reason=reason)


def _mark(ids: list[int], status: str, reason: str) -> None:
    Delivery.objects.filter(pk__in=ids).update(status=status, error=reason[:2000])


def _record(messages: list, recipients: list[Recipient]) -> None:
    statuses: dict[str, Any] = {}
    for message in messages:
        anymail_status = getattr(message, "anymail_status", None)
        for email, status in (getattr(anymail_status, "recipients", None) or {}).items():
            statuses[email.lower()] = status
    now = timezone.now()
    rows = []
    for r in recipients:
        status = statuses.get(r.email.lower())
        code = getattr(status, "status", None) or "sent"
        ok = code not in ("rejected", "invalid", "failed")
        rows.append(
            Delivery(
                pk=r.delivery_id,
                status=DeliveryStatus.SENT if ok else DeliveryStatus.FAILED,
                sent_at=now if ok else None,
                provider_message_id=(getattr(status, "message_id", None) or "")[:200],
                provider_status=code[:32],
                error="" if ok else f"The provider answered {code}.",
            )
        )
    Delivery.objects.bulk_update(rows, ["status", "sent_at", "provider_message_id", "provider_status", "error"])


def send_finish_if_complete(*, send_id: int) -> bool:
    """Mark the send DONE and the issue SENT once no row is queued or claimed."""
    open_rows = Delivery.objects.filter(
        send_id=send_id, status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED]
    ).exists()
    if open_rows:
        return False
    with transaction.atomic():
        if not Send.objects.filter(pk=send_id, status=SendStatus.SENDING).update(
            status=SendStatus.DONE, finished_at=timezone.now()
        ):
            return False
        issue = Issue.objects.get(sends__pk=send_id)
        if issue.status == IssueStatus.SENDING:
            issue_transition(issue=issue, to_status=IssueStatus.SENT, acting_user=None)
    try:
        from issues.selectors import public_cache_clear

        public_cache_clear()
    except ImportError:
        pass
    return True


def _check_schedule_perm(acting_user: Any) -> None:
    if acting_user is not None and not acting_user.has_perm("issues.schedule_issue"):
        raise PermissionDenied("You may not control sends.")


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
        _enqueue_batches(send.pk)
        transaction.on_commit(lambda: send_finish_if_complete(send_id=send.pk))
    send.refresh_from_db()
    return send


def send_cancel(*, send: Send, acting_user: Any) -> Send:
    """Stop a scheduled, sending or paused send; remaining queued rows are skipped."""
    _check_schedule_perm(acting_user)
    with transaction.atomic():
        locked = Send.objects.select_for_update().get(pk=send.pk)
        if locked.status not in (SendStatus.SCHEDULED, SendStatus.SENDING, SendStatus.PAUSED):
            raise ValidationError("This send can no longer be cancelled.")
        was_scheduled = locked.status == SendStatus.SCHEDULED
        Send.objects.filter(pk=send.pk).update(status=SendStatus.CANCELLED, finished_at=timezone.now())
        Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED).update(
            status=DeliveryStatus.SKIPPED, error="Send cancelled."
        )
        issue = Issue.objects.get(pk=send.issue_id)
        if was_scheduled and issue.status == IssueStatus.SCHEDULED:
            issue_transition(issue=issue, to_status=IssueStatus.APPROVED, acting_user=None)
    send.refresh_from_db()
    return send


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
        Send.objects.filter(pk=send.pk).update(status=SendStatus.SENDING, finished_at=None, error="")
        _enqueue_batches(send.pk)
    return count


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
