"""The worker's send path, step by step, in the order a send goes through them.

1. **Start** (``sends_start_due``, beat): claim the due scheduled sends.
2. **Snapshot** (``send_start``): store the audience as Delivery rows, chunk by
   chunk (``snapshot_next``: the first straight from the audience, the rest from
   the audience materialised once), each chunk's batches enqueued as it commits
   (``enqueue_batches``).
3. **Process a batch** (``send_batch_process``, one task per batch): claim its
   rows (delivery.claims) → build each reader's recipient (delivery.recipients)
   → post to the provider (delivery.posting, which asks delivery.judge what an
   error means) → record the answers → settle the batch.
4. **Finish** (``send_finish_if_complete``): done once no row is open, or failed
   with the reason when no reader was reached.
5. **Recover** (``sends_recover_stalled``, beat): enqueue again what lost tasks
   and dead workers left behind.

The steps are here; the details live in the small modules they call.
delivery.services keeps the editor's commands (create, pause, resume, cancel,
retry)."""

from __future__ import annotations

import contextlib
import datetime
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from anymail.exceptions import AnymailConfigurationError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from core.events import EventName, emit
from delivery import claims, pacing, posting, recipients, zones
from delivery.judge import REASON_LIMIT
from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus, Send, SendStatus
from delivery.providers import ProviderStrategy, provider_check
from issues.models import Issue, IssueStatus
from issues.selectors import public_cache_clear
from issues.services import issue_transition
from subscribers.selectors import sendable_subscribers

CONFIG_ERRORS = (ImproperlyConfigured, AnymailConfigurationError)
# A send whose batches may go out: its audience is still being stored, or it is sending.
SENDABLE = (SendStatus.SNAPSHOTTING, SendStatus.SENDING)
NO_ANSWER = "The posting gave no answer for this reader; the provider may have it."


# --- 1. start -----------------------------------------------------------------------


def sends_start_due() -> list[int]:
    """Start every due scheduled send; returns their ids."""
    with transaction.atomic():
        ids = _claim_due(timezone.now())
    for pk in ids:
        send_start(send=Send.objects.get(pk=pk))
    return ids


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


# --- 2. snapshot --------------------------------------------------------------------


# Batches per snapshot chunk: the first chunk is small so that the first readers get the
# issue at once; later ones double, up to a cap, so that the workers always have stored
# batches to send while the next chunk is stored, and a chunk's commit stays short.
FIRST_CHUNK_BATCHES = 2
CHUNK_BATCHES = 20
MAX_CHUNK_BATCHES = 200

INSERT_COLUMNS = "send_id, subscriber_id, email, status, batch, attempts, provider_message_id, provider_status, error"


def snapshot_audience(send: Send) -> tuple[str, list[Any]]:
    """The send's audience as one compiled SELECT (``id, email, last_engaged_at, confirmed_at``),
    parameters apart: the one place the snapshot decides who is sent the issue."""
    audience = sendable_subscribers(lists=list(send.lists.all()), segment=send.segment).order_by()
    columns = audience.values("id", "email", "last_engaged_at", "confirmed_at")
    sql, params = columns.query.sql_with_params()
    return sql, list(params)


def snapshot_order(*, engaged_first: bool, alias: str = "a") -> str:
    """The order readers are numbered into batches: by id, or during a warm-up by engagement
    (who opened or clicked last first, then those with none yet by confirmation, newest first),
    so that a day's capped budget goes to the likeliest to read."""
    if engaged_first:
        return f"{alias}.last_engaged_at DESC NULLS LAST, {alias}.confirmed_at DESC NULLS LAST, {alias}.id"
    return f"{alias}.id"


def snapshot_chunk(
    *, send: Send, after_id: int, first_batch: int, limit: int, size: int | None = None, engaged_first: bool = False
) -> int:
    """Insert the next ``limit`` sendable readers (by id, after ``after_id``) straight from the
    audience as Delivery rows numbered from ``first_batch``, ``size`` to a batch (default
    pacing.batch_size()); returns how many.

    Only the first chunk of a send comes this way: ``ORDER BY id LIMIT`` a few batches is read
    along the indexes and stops at once. Each later chunk would read the rest of the audience
    again to find its next readers, so the rest is materialised once (snapshot_materialise)
    and stored from there. ``engaged_first`` orders the chunk by engagement instead."""
    sql, params = snapshot_audience(send)
    size = size or pacing.batch_size()
    order = snapshot_order(engaged_first=engaged_first, alias="c")
    # The table name comes from the model and the SELECT from the compiled queryset (parameters kept apart).
    # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
    chunk = f"SELECT a.* FROM ({sql}) a WHERE a.id > %s ORDER BY a.id LIMIT %s"  # noqa: S608
    insert = (
        f"INSERT INTO {Delivery._meta.db_table} ({INSERT_COLUMNS}) "  # noqa: S608
        f"SELECT %s, c.id, c.email, %s, %s + (row_number() OVER (ORDER BY {order}) - 1) / %s, 0, '', '', '' "
        f"FROM ({chunk}) c WHERE true ON CONFLICT (send_id, subscriber_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, [send.pk, DeliveryStatus.QUEUED, first_batch, size, *params, after_id, limit])
        return cursor.rowcount


def snapshot_materialise(*, send: Send, engaged_first: bool, skip_stored: bool) -> tuple[str, int]:
    """The rest of the audience read once, numbered in its batch order, into a temporary table of
    this database session (``rn, id, email``); returns its name and its row count.

    ``skip_stored`` leaves out readers the send already has a row for (an earlier chunk, or a
    snapshot cut short by a dead worker). On PostgreSQL a BRIN index on the row number lets
    each chunk read only its own rows."""
    sql, params = snapshot_audience(send)
    table = f"newsroom_snapshot_{send.pk}"
    stored = ""
    if skip_stored:
        stored = (
            f" WHERE NOT EXISTS (SELECT 1 FROM {Delivery._meta.db_table} d "  # noqa: S608
            "WHERE d.send_id = %s AND d.subscriber_id = a.id)"
        )
        params.append(send.pk)
    order = snapshot_order(engaged_first=engaged_first)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        if connection.vendor == "postgresql":
            # The numbering sorts the audience (a warm-up's order): keep that sort in memory (this transaction only).
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {table} AS "  # noqa: S608 - names from the model and the send's id
            f"SELECT row_number() OVER (ORDER BY {order}) AS rn, a.id, a.email FROM ({sql}) a{stored}",
            params,
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE INDEX ON {table} USING brin (rn)")
            cursor.execute(f"ANALYZE {table}")
        else:
            cursor.execute(f"CREATE INDEX {table}_rn ON {table} (rn)")
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        return table, int(cursor.fetchone()[0])


def snapshot_copy(*, send: Send, source: str, after_rn: int, first_batch: int, limit: int, size: int) -> int:
    """Insert rows ``after_rn`` + 1 … ``after_rn`` + ``limit`` of a materialised audience as
    Delivery rows numbered from ``first_batch``, ``size`` to a batch; returns how many."""
    insert = (
        f"INSERT INTO {Delivery._meta.db_table} ({INSERT_COLUMNS}) "  # noqa: S608
        "SELECT %s, c.id, c.email, %s, %s + (c.rn - %s - 1) / %s, 0, '', '', '' "
        f"FROM {source} c WHERE c.rn > %s AND c.rn <= %s ON CONFLICT (send_id, subscriber_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        params: list[int | str] = [
            send.pk,
            DeliveryStatus.QUEUED,
            first_batch,
            after_rn,
            size,
            after_rn,
            after_rn + limit,
        ]
        cursor.execute(insert, params)
        return cursor.rowcount


@dataclass
class SnapshotProgress:
    """How far this worker's snapshot of one send has got (see snapshot_next)."""

    started: bool = False  # the send's stored rows were read (a resumed snapshot numbers on from them)
    resumed: bool = False  # an earlier run had stored rows
    next_batch: int = 0
    source: str | None = None  # the rest of the audience, materialised
    source_rows: int = 0
    after_rn: int = 0  # rows of the source stored

    def drop(self) -> None:
        """Drop the temporary table (it would otherwise live as long as the worker's connection)."""
        if self.source is not None:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.source}")
            self.source = None


def snapshot_next(send_id: int, chunk_batches: int, progress: SnapshotProgress | None = None) -> bool:
    """One chunk of the snapshot in its own transaction, its batches enqueued on commit.
    Returns False once the audience is exhausted, or when the send stopped being prepared
    (cancelled): the row lock makes a cancel and a chunk wait for each other.

    The first chunk of a fresh send comes straight from the audience, so its readers go out
    at once; the rest is materialised once and stored from there chunk by chunk, never read
    again (``progress`` carries where it is between calls; without one, the call starts over)."""
    if progress is None:
        progress = SnapshotProgress()
        try:
            return snapshot_next(send_id, chunk_batches, progress)
        finally:
            progress.drop()
    limits = pacing.limits_in_force()
    size = pacing.batch_size(limits)
    engaged_first = limits.warmup is not None and limits.warmup.cap_on(timezone.localdate()) is not None
    if not progress.started:
        done = Delivery.objects.filter(send_id=send_id).aggregate(batch=Max("batch"))
        progress.started = True
        progress.resumed = done["batch"] is not None
        progress.next_batch = 0 if done["batch"] is None else done["batch"] + 1
    # A warm-up orders the whole audience, so its first chunk too comes from the materialised audience.
    direct = not (progress.resumed or engaged_first or progress.source or progress.next_batch)
    if not direct and progress.source is None:
        send = Send.objects.get(pk=send_id)
        if send.status != SendStatus.SNAPSHOTTING:
            return False
        progress.source, progress.source_rows = snapshot_materialise(
            send=send, engaged_first=engaged_first, skip_stored=progress.resumed or progress.next_batch > 0
        )
    with transaction.atomic():
        send = Send.objects.select_for_update().get(pk=send_id)
        if send.status != SendStatus.SNAPSHOTTING:
            return False
        first_batch = progress.next_batch
        limit = chunk_batches * size
        if progress.source is None:
            inserted = snapshot_chunk(send=send, after_id=0, first_batch=first_batch, limit=limit, size=size)
            taken = inserted
            more = inserted == limit
        else:
            taken = max(0, min(limit, progress.source_rows - progress.after_rn))
            inserted = snapshot_copy(
                send=send,
                source=progress.source,
                after_rn=progress.after_rn,
                first_batch=first_batch,
                limit=limit,
                size=size,
            )
            progress.after_rn += taken
            more = progress.after_rn < progress.source_rows
        if not taken:
            return False
        batches = math.ceil(taken / size)
        progress.next_batch = first_batch + batches
        if inserted:
            Send.objects.filter(pk=send_id).update(total=F("total") + inserted)
            _issue_now_sending(send.issue_id)
            enqueue_batches(send_id, batches=range(first_batch, first_batch + batches))
    return more


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
    snapshot cut short (its worker died) resumes with the readers it had not
    stored, its batches numbered on (sends_recover_stalled). A provider misconfiguration stops here,
    before any row exists: the send fails with the reason and the issue goes
    back to approved."""
    try:
        provider_check()
    except CONFIG_ERRORS as exc:
        with transaction.atomic():
            Send.objects.filter(pk=send.pk).update(
                status=SendStatus.FAILED, error=f"The mail provider is not set up: {exc}", finished_at=timezone.now()
            )
            emit(
                EventName.SEND_FAILED,
                {"send_id": send.pk, "issue_id": send.issue_id, "reason": f"The mail provider is not set up: {exc}"},
            )
            issue = Issue.objects.get(pk=send.issue_id)
            if issue.status == IssueStatus.SCHEDULED:
                issue_transition(issue=issue, to_status=IssueStatus.APPROVED, acting_user=None)
        return
    # Normally sends_start_due has claimed it already; a direct call claims it here.
    Send.objects.filter(pk=send.pk, status=SendStatus.SCHEDULED).update(
        status=SendStatus.SNAPSHOTTING, started_at=timezone.now()
    )
    if send.local_time is not None:  # at each reader's local time: the zones' own snapshot (delivery.zones)
        zones.snapshot_by_zone(send_id=send.pk, enqueue=enqueue_batches)
    else:
        chunk_batches = FIRST_CHUNK_BATCHES
        progress = SnapshotProgress()
        try:
            while snapshot_next(send.pk, chunk_batches, progress):
                chunk_batches = min(max(CHUNK_BATCHES, 2 * chunk_batches), MAX_CHUNK_BATCHES)
        finally:
            progress.drop()
    with transaction.atomic():
        total = Delivery.objects.filter(send_id=send.pk).count()
        if not Send.objects.filter(pk=send.pk, status=SendStatus.SNAPSHOTTING).update(
            status=SendStatus.SENDING, total=total
        ):
            return  # cancelled while its audience was being prepared
        _issue_now_sending(send.issue_id)
        emit(EventName.SEND_STARTED, {"send_id": send.pk, "issue_id": send.issue_id, "total": total})
    send_finish_if_complete(send_id=send.pk)


# --- enqueue ---------------------------------------------------------------------------


def enqueue_batches(send_id: int, batches: Iterable[int] | None = None) -> None:
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
    claims.batches_due(send_id, numbers, timezone.now())
    transaction.on_commit(lambda: [send_batch.delay(send_id, b) for b in numbers])


# --- 3. process a batch ------------------------------------------------------------


@dataclass
class BatchOutcome:
    """retry True: rows went back to QUEUED; the task should retry later. ``wait``: the batch
    waits that many seconds for its budget or its window (not an attempt: nothing was tried).
    ``retry_after``: the provider asked us to wait (a 429's Retry-After)."""

    retry: bool = False
    reason: str = ""
    wait: float | None = None
    retry_after: float | None = None


def retry_delay(*, attempt: int) -> float:
    """Seconds before retry ``attempt`` (0 = first): exponential, capped, with jitter.

    The base doubles each attempt up to SEND_RETRY_BACKOFF_MAX_SECONDS; the
    delay is drawn between half the base and the base, so batches that failed
    together do not come back together."""
    base = min(settings.SEND_RETRY_BACKOFF_SECONDS * 2.0**attempt, settings.SEND_RETRY_BACKOFF_MAX_SECONDS)
    return base / 2 + random.uniform(0, base / 2)


def send_batch_process(*, send_id: int, batch: int, final_attempt: bool = False) -> BatchOutcome:
    """Claim, send and record one batch. Safe to run again, or twice at once, for the same batch.

    A batch to retry is left queued; its task sets when it is due (claims.batch_retry_due)."""
    send = Send.objects.select_related("issue").filter(pk=send_id).first()
    if send is None or send.status not in SENDABLE:
        return BatchOutcome()
    try:
        strategy = provider_check()
    except CONFIG_ERRORS as exc:
        _pause_for_provider(send_id, str(exc))
        return BatchOutcome()
    with claims.batch_lock(send_id, batch) as held:
        if not held:
            return BatchOutcome()  # another worker is sending this batch now
        # Rendered (once per send, then cached) before the budget is taken: the time from the
        # budget to the provider stays short, so batches reach it as evenly as the budget spaced them.
        recipients.rendered_for(send, strategy.merge_tag)
        grant = _budget(send, batch)
        if grant is not None and not grant.granted:
            claims.batch_wait(send_id=send_id, batch=batch, seconds=grant.wait)
            return BatchOutcome(wait=grant.wait)
        # A reserved turn in the budget (pacing.RESERVE_SECONDS at most): the batch is claimed and
        # built now, and waits for its turn right before the provider call (_send_rows).
        turn = time.monotonic() + grant.wait if grant is not None and grant.wait > 0 else None
        paced = grant is not None and bool(grant.granted)
        claimed_at = timezone.now()
        rows = claims.batch_claim(send_id=send_id, batch=batch, limit=grant.granted if grant else None)
        if rows:
            outcome = _send_and_record(
                send, batch, strategy, rows, final_attempt=final_attempt, turn=turn, paced=paced, claimed_at=claimed_at
            )
            if outcome is not None:
                return outcome
        elif not Delivery.objects.filter(send_id=send_id, batch=batch, status=DeliveryStatus.QUEUED).exists():
            claims.batch_settle(send_id=send_id, batch=batch)
    send_finish_if_complete(send_id=send_id)
    return BatchOutcome()


def _budget(send: Send, batch: int) -> pacing.Grant | None:
    """The batch's share of the shared budget, or how long it waits (for its window or budget);
    None when no limit applies or it has no reader left to send (the claim takes what is left)."""
    wait = pacing.window_wait(send) or zones.zone_wait(send, batch)
    if wait:
        return pacing.Grant(granted=0, wait=wait)
    limits = pacing.limits_in_force()
    if pacing.unlimited(limits):
        return None  # no cap, no warm-up, no 429 to wait out: the whole batch, unpaced
    open_rows = Delivery.objects.filter(
        send_id=send.pk, batch=batch, status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED]
    ).count()
    return pacing.budget_take(open_rows, limits=limits, reserve=pacing.RESERVE_SECONDS) if open_rows else None


def _send_and_record(
    send: Send,
    batch: int,
    strategy: ProviderStrategy,
    rows: list[claims.Row],
    *,
    final_attempt: bool,
    turn: float | None = None,
    paced: bool = False,
    claimed_at: datetime.datetime | None = None,
) -> BatchOutcome | None:
    """Send the claimed rows and record the answers, the batch queued again if some are to be
    retried; an outcome when the task should stop here (paused, or to retry), None to go on."""
    claimed_at = claimed_at or timezone.now()
    results = _send_rows(send, batch, strategy, rows, turn=turn, paced=paced)
    # A claimed row stays queued until its answer is written: one the posting gave no answer for
    # would be taken again by the batch's next attempt, so it is uncertain, never sent twice.
    answered = results.sent.keys() | results.failed.keys() | results.uncertain.keys() | results.retry.keys()
    results.uncertain.update({r.delivery_id: NO_ANSWER for r in rows if r.delivery_id not in answered})
    if results.retry_after is not None:
        pacing.budget_penalize(results.retry_after)
    with transaction.atomic():
        posting.record(results, final_attempt=final_attempt, attempted_at=claimed_at)
        # Part of the batch was granted (the day's cap): the rest waits for its budget.
        rest = Delivery.objects.filter(send_id=send.pk, batch=batch, status=DeliveryStatus.QUEUED).exists()
        again = timezone.now() if results.retry or rest else None
        claims.batch_settle(send_id=send.pk, batch=batch, retry_at=again)
    if results.config_error:
        _pause_for_provider(send.pk, results.config_error)
        return BatchOutcome()
    if results.retry:
        return BatchOutcome(retry=True, reason=next(iter(results.retry.values())), retry_after=results.retry_after)
    if rest:
        return BatchOutcome(wait=0.0)
    return None


def _send_rows(
    send: Send,
    batch: int,
    strategy: ProviderStrategy,
    rows: list[claims.Row],
    *,
    turn: float | None = None,
    paced: bool = False,
) -> posting.Results:
    """Build the claimed readers' recipients and the send's email, then post them: not before
    ``turn`` (a time.monotonic() value: the batch's reserved turn in the budget), and, when
    ``paced``, at least its share of the rate after the last post of any worker."""
    ids = [r.delivery_id for r in rows]
    try:
        rendered = recipients.rendered_for(send, strategy.merge_tag)  # first: it stores the link table
        readers = recipients.recipients_for(send, rows, strategy)

        def begin_posting() -> None:
            if turn is not None:
                time.sleep(max(0.0, turn - time.monotonic()))
            if paced:
                time.sleep(pacing.post_wait(len(rows)))
            claims.batch_posting(send_id=send.pk, batch=batch)

        if strategy.batch:
            key = posting.batch_key(send.pk, batch, readers)
            return posting.send_in_one_call(
                strategy, rendered, readers, send_id=send.pk, key=key, posting=begin_posting
            )
        return posting.send_one_by_one(strategy, rendered, readers, send_id=send.pk, posting=begin_posting)
    except Exception as exc:
        # Whatever broke, these rows may or may not have gone: say so rather than leave them claimed.
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.QUEUED).update(
            status=DeliveryStatus.UNCERTAIN,
            error=f"Unexpected error while sending: {exc!r}"[:REASON_LIMIT],
            attempts=F("attempts") + 1,
            claimed_at=timezone.now(),
        )
        Batch.objects.filter(send_id=send.pk, number=batch).update(claimed_upto=None)  # its rows are answered
        raise


def _pause_for_provider(send_id: int, reason: str) -> None:
    """The provider is misconfigured or refuses our credentials: stop every worker until an operator resumes."""
    Send.objects.filter(pk=send_id, status=SendStatus.SENDING).update(
        status=SendStatus.PAUSED, error=f"Paused: the mail provider is not set up: {reason}"[:2000]
    )


# --- 4. finish -------------------------------------------------------------------------


def send_finish_if_complete(*, send_id: int) -> bool:
    """End the send once no row is queued (rows being sent stay queued until answered): DONE
    and the issue SENT when a reader was sent it (or may have been), else FAILED with the reason
    and the issue approved again."""
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
        emit(EventName.SEND_FINISHED, {"send_id": send_id, "issue_id": issue.pk})
        if issue.status == IssueStatus.SENDING:
            issue_transition(issue=issue, to_status=IssueStatus.SENT, acting_user=None)
    # The issue is now public in the archive and on the home page.
    public_cache_clear()
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
        emit(EventName.SEND_FAILED, {"send_id": send_id, "issue_id": issue.pk, "reason": reason})
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


# --- 5. recover ------------------------------------------------------------------------


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
    # with the readers it had not stored, and the batches it had stored are enqueued again below.
    touched = Send.objects.filter(status=SendStatus.SNAPSHOTTING, started_at__lt=dead).update(
        status=SendStatus.SCHEDULED
    )
    frontier = _queue_frontier(late)
    for send_id, status in Send.objects.filter(status__in=SENDABLE).values_list("pk", "status"):
        lost = _lost_batches(send_id, late=late, dead=dead, frontier=frontier)
        if lost:
            with transaction.atomic():
                enqueue_batches(send_id, lost)
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
            with claims.batch_lock(send_id, number) as free:
                if free:
                    lost.append(number)
    return lost
