"""Writes for sending: create, start (snapshot), send a batch, finish, pause/resume/cancel, retry."""

from __future__ import annotations

import dataclasses
import datetime
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from anymail.exceptions import AnymailConfigurationError
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, Max, OuterRef, Value, When
from django.utils import timezone

from delivery import sending
from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus, Send, SendStatus
from delivery.providers import ProviderStrategy, provider_check
from issues.models import Issue, IssueStatus
from issues.rendering import RenderedEmail, render_email
from issues.services import issue_transition
from subscribers.models import MailingList, Segment
from subscribers.selectors import sendable_subscribers

CONFIG_ERRORS = (ImproperlyConfigured, AnymailConfigurationError)
# A send whose batches may go out: its audience is still being stored, or it is sending.
SENDABLE = (SendStatus.SNAPSHOTTING, SendStatus.SENDING)
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
) -> Send:
    """Schedule ``issue`` to the audience at ``at`` (None = now); moves the issue to scheduled."""
    from issues.checks import has_blocking_errors

    _check_schedule_perm(acting_user, "You may not schedule issues.")
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
    at = at or now
    if at < now - NOW_GRACE:
        raise ValidationError("The sending time is in the past.")
    try:
        provider_check()
    except CONFIG_ERRORS as exc:
        raise ValidationError(f"The mail provider is not set up: {exc}") from None
    with transaction.atomic():
        if _same_audience(issue, key):
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


# Batches per snapshot chunk: the first chunk is small so that the first readers get the
# issue at once; later ones double, up to a cap, because each chunk's SELECT reads the rest
# of the audience again to find its next readers (a million readers take about ten chunks).
FIRST_CHUNK_BATCHES = 2
CHUNK_BATCHES = 20
MAX_CHUNK_BATCHES = 200


def snapshot_chunk(*, send: Send, after_id: int, first_batch: int, limit: int) -> int:
    """Insert the next ``limit`` sendable readers (by id, after ``after_id``) as Delivery rows
    numbered from ``first_batch``, ``NEWSROOM_BATCH_SIZE`` to a batch; returns how many."""
    audience = sendable_subscribers(lists=list(send.lists.all()), segment=send.segment).order_by().values("id", "email")
    sql, params = audience.query.sql_with_params()
    table = Delivery._meta.db_table
    size = settings.NEWSROOM_BATCH_SIZE
    # The table name comes from the model and the SELECT from the compiled queryset (parameters kept apart).
    # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
    chunk = f"SELECT a.id, a.email FROM ({sql}) a WHERE a.id > %s ORDER BY a.id LIMIT %s"  # noqa: S608
    insert = (
        f"INSERT INTO {table} (send_id, subscriber_id, email, status, batch, attempts, "  # noqa: S608
        "provider_message_id, provider_status, error) "
        "SELECT %s, c.id, c.email, %s, %s + (row_number() OVER (ORDER BY c.id) - 1) / %s, 0, '', '', '' "
        f"FROM ({chunk}) c WHERE true ON CONFLICT (send_id, subscriber_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Ordering the chunk sorts the rest of the audience: keep that sort in memory (this transaction only).
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(insert, [send.pk, DeliveryStatus.QUEUED, first_batch, size, *params, after_id, limit])
        return cursor.rowcount


def _snapshot_next(send_id: int, chunk_batches: int) -> bool:
    """One chunk of the snapshot in its own transaction, its batches enqueued on commit.
    Returns False once the audience is exhausted, or when the send stopped being prepared
    (cancelled): the row lock makes a cancel and a chunk wait for each other."""
    size = settings.NEWSROOM_BATCH_SIZE
    with transaction.atomic():
        send = Send.objects.select_for_update().get(pk=send_id)
        if send.status != SendStatus.SNAPSHOTTING:
            return False
        done = Delivery.objects.filter(send_id=send_id).aggregate(last=Max("subscriber_id"), batch=Max("batch"))
        first_batch = 0 if done["batch"] is None else done["batch"] + 1
        inserted = snapshot_chunk(
            send=send, after_id=done["last"] or 0, first_batch=first_batch, limit=chunk_batches * size
        )
        if not inserted:
            return False
        Send.objects.filter(pk=send_id).update(total=Delivery.objects.filter(send_id=send_id).count())
        _issue_now_sending(send.issue_id)
        _enqueue_batches(send_id, batches=range(first_batch, first_batch + math.ceil(inserted / size)))
    return inserted == chunk_batches * size


def _issue_now_sending(issue_id: int) -> None:
    """The first readers are about to get the issue: scheduled → sending (once)."""
    issue = Issue.objects.get(pk=issue_id)
    if issue.status == IssueStatus.SCHEDULED:
        issue_transition(issue=issue, to_status=IssueStatus.SENDING, acting_user=None)


def send_start(*, send: Send) -> None:
    """Snapshot the audience chunk by chunk, enqueueing each chunk's batches as it commits,
    then move the send to sending.

    While the send is *preparing its audience* (SNAPSHOTTING) the committed
    chunks are already being sent, so the first readers get the issue at once
    however large the audience; the send cannot finish before it is SENDING. A
    snapshot cut short (its worker died) resumes after the last reader it
    stored (sends_recover_stalled). A provider misconfiguration stops here,
    before any row exists: the send fails with the reason and the issue goes
    back to approved."""
    try:
        provider_check()
    except CONFIG_ERRORS as exc:
        with transaction.atomic():
            Send.objects.filter(pk=send.pk).update(
                status=SendStatus.FAILED, error=f"The mail provider is not set up: {exc}", finished_at=timezone.now()
            )
            issue = Issue.objects.get(pk=send.issue_id)
            if issue.status == IssueStatus.SCHEDULED:
                issue_transition(issue=issue, to_status=IssueStatus.APPROVED, acting_user=None)
        return
    # Normally sends_start_due has claimed it already; a direct call claims it here.
    Send.objects.filter(pk=send.pk, status=SendStatus.SCHEDULED).update(
        status=SendStatus.SNAPSHOTTING, started_at=timezone.now()
    )
    chunk_batches = FIRST_CHUNK_BATCHES
    while _snapshot_next(send.pk, chunk_batches):
        chunk_batches = min(max(CHUNK_BATCHES, 2 * chunk_batches), MAX_CHUNK_BATCHES)
    with transaction.atomic():
        total = Delivery.objects.filter(send_id=send.pk).count()
        if not Send.objects.filter(pk=send.pk, status=SendStatus.SNAPSHOTTING).update(
            status=SendStatus.SENDING, total=total
        ):
            return  # cancelled while its audience was being prepared
        _issue_now_sending(send.issue_id)
    send_finish_if_complete(send_id=send.pk)


def _enqueue_batches(send_id: int, batches: Iterable[int] | None = None) -> None:
    """After commit, one send_batch task per batch (default: each batch that has queued rows)."""
    from delivery.tasks import send_batch

    if batches is None:
        batches = (
            Delivery.objects.filter(send_id=send_id, status=DeliveryStatus.QUEUED)
            .order_by("batch")
            .values_list("batch", flat=True)
            .distinct()
        )
    numbers = list(batches)
    _batches_due(send_id, numbers, timezone.now())
    transaction.on_commit(lambda: [send_batch.delay(send_id, b) for b in numbers])


def _batches_due(send_id: int, numbers: list[int], now: datetime.datetime) -> None:
    """Record that the tasks of these batches are enqueued now and due now.

    A batch whose attempt was under way keeps its status: the task that takes it
    reads that status to settle rows its dead worker left claimed."""
    Batch.objects.bulk_create(
        [Batch(send_id=send_id, number=n, enqueued_at=now, due_at=now) for n in numbers], ignore_conflicts=True
    )
    in_flight = [BatchStatus.CLAIMED, BatchStatus.POSTING]
    Batch.objects.filter(send_id=send_id, number__in=numbers).update(
        enqueued_at=now,
        due_at=now,
        status=Case(When(status__in=in_flight, then=F("status")), default=Value(BatchStatus.QUEUED)),
    )


def sends_recover_stalled(*, now: datetime.datetime | None = None) -> int:
    """Finish what lost tasks left behind; returns how many sends were touched.

    A send whose snapshot died with its worker is scheduled again. A batch more
    than SEND_RECOVERY_GRACE_SECONDS past due whose task is lost is enqueued again
    (see _lost_batches); a batch already being sent is locked, and its rows are
    claimed, so a second task sends no one twice. ``now`` lets a test move the clock."""
    now = now or timezone.now()
    dead = now - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    late = now - datetime.timedelta(seconds=settings.SEND_RECOVERY_GRACE_SECONDS)
    # A send left preparing its audience (its worker died) is started again: the snapshot resumes
    # after the last reader it stored, and the batches it had stored are enqueued again below.
    touched = Send.objects.filter(status=SendStatus.SNAPSHOTTING, started_at__lt=dead).update(
        status=SendStatus.SCHEDULED
    )
    frontier = _queue_frontier(late)
    for send_id, status in Send.objects.filter(status__in=SENDABLE).values_list("pk", "status"):
        lost = _lost_batches(send_id, late=late, dead=dead, frontier=frontier)
        if lost:
            with transaction.atomic():
                _enqueue_batches(send_id, lost)
            touched += 1
        if status == SendStatus.SENDING:
            send_finish_if_complete(send_id=send_id)
    return touched


def _queue_frontier(late: datetime.datetime) -> datetime.datetime | None:
    """The latest due time among batches taken from the queue since ``late``; None when the
    queue has not moved since then (its messages are lost, or no worker runs)."""
    taken = Batch.objects.filter(started_at__gte=late).filter(started_at__gte=F("due_at"))
    return taken.aggregate(last=Max("due_at"))["last"]


def _lost_batches(
    send_id: int, *, late: datetime.datetime, dead: datetime.datetime, frontier: datetime.datetime | None
) -> list[int]:
    """Batches of the send due before ``late`` whose task is gone.

    A queued one is lost when the queue stands still, or when a batch due after it
    has been taken (the queue is first in, first out). One claimed or posting since
    before ``late`` is lost when no worker holds its lock (PostgreSQL drops the
    lock with the worker's connection; elsewhere, past the task time limit)."""
    lost = []
    rows = Batch.objects.filter(send_id=send_id, due_at__lt=late).exclude(status=BatchStatus.DONE).order_by("number")
    for number, status, due_at, started_at in rows.values_list("number", "status", "due_at", "started_at"):
        if status == BatchStatus.QUEUED:
            if frontier is None or frontier > due_at:
                lost.append(number)
        elif started_at is None or started_at < late:
            if connection.vendor != "postgresql" and started_at is not None and started_at >= dead:
                continue
            with sending.batch_lock(send_id, number) as free:
                if free:
                    lost.append(number)
    return lost


def rendered_for(send: Send, merge_tag: Any) -> RenderedEmail:
    """The issue rendered once per send (cached in Django's cache), its web link filled in.

    The web link is the same for every reader, so it is not sent as a merge value."""
    key = f"delivery:rendered:{send.pk}:{getattr(merge_tag, '__name__', 'tag')}"
    rendered = cache.get(key)
    if rendered is None:
        rendered = render_email(send.issue, merge_tag=merge_tag)
        tag, url = merge_tag("web_url"), settings.SITE_URL.rstrip("/") + send.issue.get_absolute_url()
        rendered = dataclasses.replace(
            rendered,
            subject=rendered.subject.replace(tag, url),
            html=rendered.html.replace(tag, url),
            text=rendered.text.replace(tag, url),
        )
        cache.set(key, rendered, 6 * 3600)
    return rendered


@dataclass
class BatchOutcome:
    """retry True: rows went back to QUEUED; the task should retry later."""

    retry: bool = False
    reason: str = ""


def retry_delay(*, attempt: int) -> float:
    """Seconds before retry ``attempt`` (0 = first): exponential, capped, with jitter.

    The base doubles each attempt up to SEND_RETRY_BACKOFF_MAX_SECONDS; the
    delay is drawn between half the base and the base, so batches that failed
    together do not come back together."""
    base = min(settings.SEND_RETRY_BACKOFF_SECONDS * 2.0**attempt, settings.SEND_RETRY_BACKOFF_MAX_SECONDS)
    return base / 2 + random.uniform(0, base / 2)


def send_batch_process(*, send_id: int, batch: int, final_attempt: bool = False) -> BatchOutcome:
    """Claim, send and record one batch. Safe to run again, or twice at once, for the same batch.

    A batch to retry is left queued; its task sets when it is due (batch_retry_due)."""
    send = Send.objects.select_related("issue").filter(pk=send_id).first()
    if send is None or send.status not in SENDABLE:
        return BatchOutcome()
    try:
        strategy = provider_check()
    except CONFIG_ERRORS as exc:
        _pause_for_provider(send_id, str(exc))
        return BatchOutcome()
    with sending.batch_lock(send_id, batch) as held:
        if not held:
            return BatchOutcome()  # another worker is sending this batch now
        rows = sending.batch_claim(send_id=send_id, batch=batch)
        if rows:
            outcome = _send_and_record(send, batch, strategy, rows, final_attempt=final_attempt)
            if outcome is not None:
                return outcome
        elif not Delivery.objects.filter(send_id=send_id, batch=batch, status=DeliveryStatus.QUEUED).exists():
            sending.batch_settle(send_id=send_id, batch=batch)
    send_finish_if_complete(send_id=send_id)
    return BatchOutcome()


def _send_and_record(
    send: Send, batch: int, strategy: ProviderStrategy, rows: list[sending.Row], *, final_attempt: bool
) -> BatchOutcome | None:
    """Send the claimed rows and record the answers, the batch queued again if some are to be
    retried; an outcome when the task should stop here (paused, or to retry), None to go on."""
    results = _send_rows(send, batch, strategy, rows)
    with transaction.atomic():
        sending.record(results, final_attempt=final_attempt)
        again = timezone.now() if results.retry else None
        sending.batch_settle(send_id=send.pk, batch=batch, retry_at=again)
    if results.config_error:
        _pause_for_provider(send.pk, results.config_error)
        return BatchOutcome()
    if results.retry:
        return BatchOutcome(retry=True, reason=next(iter(results.retry.values())))
    return None


def batch_retry_due(*, send_id: int, batch: int, countdown: float) -> None:
    """The batch's retry waits ``countdown`` seconds: recovery leaves it alone until then."""
    due = timezone.now() + datetime.timedelta(seconds=countdown)
    Batch.objects.filter(send_id=send_id, number=batch, status=BatchStatus.QUEUED).update(due_at=due)


def _send_rows(send: Send, batch: int, strategy: ProviderStrategy, rows: list[sending.Row]) -> sending.Results:
    ids = [r.delivery_id for r in rows]
    try:
        recipients = sending.recipients_for(send, rows, strategy)
        rendered = rendered_for(send, strategy.merge_tag)

        def posting() -> None:
            sending.batch_posting(send_id=send.pk, batch=batch)

        if strategy.batch:
            key = sending.batch_key(send.pk, batch, recipients)
            return sending.send_in_one_call(strategy, rendered, recipients, send_id=send.pk, key=key, posting=posting)
        return sending.send_one_by_one(strategy, rendered, recipients, send_id=send.pk, posting=posting)
    except Exception as exc:
        # Whatever broke, these rows may or may not have gone: say so rather than leave them claimed.
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.CLAIMED).update(
            status=DeliveryStatus.UNCERTAIN, error=f"Unexpected error while sending: {exc!r}"[: sending.REASON_LIMIT]
        )
        raise


def _pause_for_provider(send_id: int, reason: str) -> None:
    """The provider is misconfigured or refuses our credentials: stop every worker until an operator resumes."""
    Send.objects.filter(pk=send_id, status=SendStatus.SENDING).update(
        status=SendStatus.PAUSED, error=f"Paused: the mail provider is not set up: {reason}"[:2000]
    )


def send_finish_if_complete(*, send_id: int) -> bool:
    """End the send once no row is queued or claimed: DONE and the issue SENT when a reader
    was sent it (or may have been), else FAILED with the reason and the issue approved again."""
    open_rows = Delivery.objects.filter(
        send_id=send_id, status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED]
    ).exists()
    if open_rows:
        return False
    reached = Delivery.objects.filter(
        send_id=send_id, status__in=[DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN]
    ).exists()
    if not reached:
        return _send_fail(send_id)
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


def _send_fail(send_id: int) -> bool:
    """No reader was sent the issue: the send fails with why, and the issue goes back to
    approved (unless another send of it is going or reached someone), unpublished."""
    reason = no_reader_sent_reason(send_id)
    with transaction.atomic():
        if not Send.objects.filter(pk=send_id, status=SendStatus.SENDING).update(
            status=SendStatus.FAILED, finished_at=timezone.now(), error=reason
        ):
            return False
        issue = Issue.objects.get(sends__pk=send_id)
        others_open = Send.objects.filter(issue=issue, status__in=[*SENDABLE, SendStatus.PAUSED]).exclude(pk=send_id)
        reached = Delivery.objects.filter(
            send__issue=issue, status__in=[DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN]
        ).exists()
        if issue.status == IssueStatus.SENDING and not reached and not others_open.exists():
            note = f"Send #{send_id} failed. {reason}"
            issue_transition(issue=issue, to_status=IssueStatus.APPROVED, acting_user=None, note=note)
    return True


def no_reader_sent_reason(send_id: int) -> str:
    """'No reader was sent the issue: 3 failed (the commonest reason), 1 skipped.'"""
    counts = dict(
        Delivery.objects.filter(send_id=send_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    parts = []
    failed = counts.get(DeliveryStatus.FAILED, 0)
    if failed:
        common = (
            Delivery.objects.filter(send_id=send_id, status=DeliveryStatus.FAILED)
            .values("error")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .values_list("error", flat=True)
            .first()
        )
        parts.append(f"{failed} failed ({(common or 'no reason given').rstrip('.')})")
    if counts.get(DeliveryStatus.SKIPPED):
        parts.append(f"{counts[DeliveryStatus.SKIPPED]} skipped (no longer sendable or cancelled)")
    return ("No reader was sent the issue: " + ", ".join(parts or ["the audience was empty"]) + ".")[:2000]


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
        _enqueue_batches(send.pk)
        transaction.on_commit(lambda: send_finish_if_complete(send_id=send.pk))
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
        Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED).update(
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
    reached = Delivery.objects.filter(
        send__issue=issue, status__in=[DeliveryStatus.SENT, DeliveryStatus.CLAIMED, DeliveryStatus.UNCERTAIN]
    ).exists()
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
        _enqueue_batches(send.pk)
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
