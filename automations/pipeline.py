"""The worker's path for sequences, step by step.

1. **Find the due steps** (``steps_send_due``, beat): one query takes the active runs
   whose step is due (index on next_due_at of active runs), their StepDelivery rows
   are stored with one bulk INSERT (unique per run and step, so a second poll adds
   nothing), numbered into StepBatches of ``NEWSROOM_BATCH_SIZE`` readers of one step
   version, and each run moves on to its next step.
2. **Send a batch** (``step_batch_process``, one task per batch): claim its rows,
   skip readers no longer sendable, build each reader's copy, post through the same
   provider strategy, posting and judging code as issues (delivery.providers,
   delivery.posting, delivery.judge), record the answers.
3. **Recover** (``step_batches_recover``, beat): enqueue again batches whose task was
   lost or whose worker died; rows a dead worker left claimed become uncertain if
   the provider call had begun, and are claimed again if it had not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, Exists, F, OuterRef, TextField, Value, When
from django.utils import timezone

from automations import schedule
from automations.models import (
    BatchStatus,
    Run,
    RunStatus,
    Sequence,
    SequenceStatus,
    Step,
    StepBatch,
    StepDelivery,
    StepVersion,
    Trigger,
)
from automations.services import sequence_steps, step_after, step_versions_sync
from core.events import EventName, emit_many
from core.mail import list_unsubscribe, sender_domain
from delivery import posting
from delivery.claims import NAME_FALLBACK, WORKER_STOPPED
from delivery.judge import REASON_LIMIT
from delivery.models import DeliveryStatus
from delivery.pipeline import CONFIG_ERRORS, BatchOutcome
from delivery.providers import ProviderStrategy, Recipient, provider_check
from issues.rendering import RenderedEmail, render_message
from subscribers.links import ReaderLinks, keep_url
from subscribers.models import Subscriber
from subscribers.selectors import sendable_subscribers

# Runs taken per transaction of a poll; a poll takes chunks until none is left.
DUE_CHUNK = 5000
# A step sent later than this after it was due (workers were down) moves the reader's next
# steps along with it, so that they never get two steps back to back.
LATE_TOLERANCE = datetime.timedelta(minutes=15)
# Key space of the batches' PostgreSQL advisory locks (the two-integer form: apart from sends').
LOCK_CLASS = 0x5E9
MERGE_CACHE_SECONDS = 24 * 3600
# The re-engagement email's button (automations.sunset), under the step's own text.
KEEP_LABEL = "Keep me subscribed"
KEEP_KEY = "keep_url"


# --- 1. find the due steps ------------------------------------------------------------


def steps_send_due(*, now: datetime.datetime | None = None) -> int:
    """Store and enqueue every step due at ``now``; returns how many rows were stored."""
    now = now or timezone.now()
    for sequence in Sequence.objects.filter(steps__current_version__isnull=True).distinct():
        with transaction.atomic():
            step_versions_sync(sequence=sequence)
    total = 0
    while True:
        taken = _due_chunk(now)
        total += taken
        if taken < DUE_CHUNK:
            return total


@dataclass(frozen=True)
class _Due:
    run_id: int
    subscriber_id: int
    email: str
    sequence_id: int
    step_id: int
    due_at: datetime.datetime


def _due_chunk(now: datetime.datetime) -> int:
    size = settings.NEWSROOM_BATCH_SIZE
    with transaction.atomic():
        query = (
            Run.objects.filter(
                status=RunStatus.ACTIVE,
                next_due_at__lte=now,
                sequence__status=SequenceStatus.ACTIVE,
                current_step__isnull=False,
            )
            .order_by("next_due_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", "subscriber_id", "subscriber__email", "sequence_id", "current_step_id", "next_due_at")
        )
        due = [_Due(*row) for row in query[:DUE_CHUNK]]  # type: ignore[arg-type]
        if not due:
            return 0
        steps = _steps_of({d.sequence_id for d in due})
        by_version: dict[int, list[_Due]] = {}
        for d in due:
            by_version.setdefault(steps[d.step_id].current_version_id or 0, []).append(d)
        rows, batches = [], []
        for version_id, items in by_version.items():
            for start in range(0, len(items), size):
                batch = StepBatch(version_id=version_id, enqueued_at=now, due_at=now)
                batches.append(batch)
                rows += [(batch, d) for d in items[start : start + size]]
        StepBatch.objects.bulk_create(batches)
        _rows_insert(rows, now)
        _advance(due, steps, now)
        ids = [b.pk for b in batches]
        transaction.on_commit(lambda: _enqueue(ids))
    return len(due)


def _rows_insert(rows: list[tuple[StepBatch, _Due]], now: datetime.datetime) -> None:
    """The chunk's StepDelivery rows in one INSERT; a (run, step) already stored is left alone."""
    if connection.vendor != "postgresql":
        StepDelivery.objects.bulk_create(
            [
                StepDelivery(
                    run_id=d.run_id,
                    step_id=d.step_id,
                    version_id=batch.version_id,
                    batch_id=batch.pk,
                    subscriber_id=d.subscriber_id,
                    email=d.email,
                    created_at=now,
                )
                for batch, d in rows
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        return
    table = StepDelivery._meta.db_table
    values = [(d.run_id, d.step_id, b.version_id, b.pk, d.subscriber_id, d.email) for b, d in rows]
    columns = [list(column) for column in zip(*values, strict=True)]
    with connection.cursor() as cursor:
        # One statement with six array parameters: no per-row placeholders for Django to build.
        cursor.execute(
            f"INSERT INTO {table} (run_id, step_id, version_id, batch_id, subscriber_id, email, status, "  # noqa: S608
            "attempts, created_at, provider_message_id, provider_status, error) "
            "SELECT v.run, v.step, v.version, v.batch, v.reader, v.email, %s, 0, %s, '', '', '' "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
            "AS v(run, step, version, batch, reader, email) ON CONFLICT (run_id, step_id) DO NOTHING",
            [DeliveryStatus.QUEUED, now, *columns],
        )


def _steps_of(sequence_ids: set[int]) -> dict[int, Step]:
    return {s.pk: s for s in Step.objects.filter(sequence_id__in=sequence_ids)}


def _advance(due: list[_Due], steps: dict[int, Step], now: datetime.datetime) -> None:
    """Each run moves to its next step, due its delay after this one was due (or after now, if late)."""
    ordered: dict[int, list[Step]] = {}
    updates = []
    for d in due:
        if d.sequence_id not in ordered:
            ordered[d.sequence_id] = sequence_steps(d.sequence_id)
        following = step_after(ordered[d.sequence_id], d.step_id)
        base = d.due_at if now - d.due_at <= LATE_TOLERANCE else now
        next_due = schedule.step_due(following, after=base) if following is not None else None
        updates.append((d.run_id, following.pk if following else None, next_due))
    _runs_update(updates, now)


def _runs_update(updates: list[tuple[int, int | None, datetime.datetime | None]], now: datetime.datetime) -> None:
    table = Run._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One statement for the chunk; a run with no next step is done.
            cursor.execute(
                f"UPDATE {table} AS r SET current_step_id = v.step, next_due_at = v.due, "  # noqa: S608
                "status = CASE WHEN v.step IS NULL THEN %s ELSE r.status END, "
                "ended_at = CASE WHEN v.step IS NULL THEN %s ELSE r.ended_at END "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS v(id, step, due) WHERE r.id = v.id",
                [RunStatus.DONE, now, [u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates]],
            )
        return
    runs = []
    for run_id, step_id, due in updates:
        run = Run(pk=run_id, current_step_id=step_id, next_due_at=due, status=RunStatus.ACTIVE)
        if step_id is None:
            run.status, run.ended_at = RunStatus.DONE, now
        runs.append(run)
    Run.objects.bulk_update(runs, ["current_step", "next_due_at", "status", "ended_at"], batch_size=500)


def _enqueue(batch_ids: Iterable[int]) -> None:
    from automations.tasks import send_step_batch

    for pk in batch_ids:
        send_step_batch.delay(pk)


def batches_enqueue_waiting(*, sequence_id: int) -> int:
    """Enqueue again the batches of a resumed sequence that still have queued rows."""
    now = timezone.now()
    waiting = StepBatch.objects.filter(
        Exists(StepDelivery.objects.filter(batch=OuterRef("pk"), status=DeliveryStatus.QUEUED)),
        rows__step__sequence_id=sequence_id,
    ).exclude(status=BatchStatus.DONE)
    ids = list(waiting.values_list("pk", flat=True).distinct())
    StepBatch.objects.filter(pk__in=ids).update(enqueued_at=now, due_at=now)
    transaction.on_commit(lambda: _enqueue(ids))
    return len(ids)


# --- 2. send a batch ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    step_delivery_id: int
    subscriber_id: int | None
    email: str
    name: str


@contextlib.contextmanager
def batch_lock(batch_id: int) -> Iterator[bool]:
    """A PostgreSQL session lock on one step batch while it is sent (as delivery.claims.batch_lock)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, batch_id])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, batch_id])


def step_batch_process(*, batch_id: int, final_attempt: bool = False) -> BatchOutcome:
    """Claim, send and record one batch. Safe to run again, or twice at once."""
    batch = StepBatch.objects.select_related("version__step__sequence").filter(pk=batch_id).first()
    if batch is None or batch.status == BatchStatus.DONE:
        return BatchOutcome()
    try:
        strategy = provider_check()
    except CONFIG_ERRORS as exc:
        # Nothing was claimed: the batch waits in the queue for the retry, and fails on the last.
        return _config_error(batch_id, str(exc), final_attempt=final_attempt)
    with batch_lock(batch_id) as held:
        if not held:
            return BatchOutcome()  # another worker is sending it now
        rows = batch_claim(batch_id=batch_id)
        if not rows:
            _settle_if_empty(batch_id)
            return BatchOutcome()
        results = _send_rows(batch, strategy, rows)
        with transaction.atomic():
            posting.record(results, final_attempt=final_attempt, model=StepDelivery)
            _after_sent(list(results.sent))
            _settle(batch_id, retry=bool(results.retry))
    if results.retry:
        return BatchOutcome(retry=True, reason=next(iter(results.retry.values())))
    return BatchOutcome()


def _config_error(batch_id: int, reason: str, *, final_attempt: bool) -> BatchOutcome:
    if not final_attempt:
        return BatchOutcome(retry=True, reason=reason)
    StepDelivery.objects.filter(batch_id=batch_id, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.FAILED, error=f"The mail provider is not set up: {reason}"[:REASON_LIMIT]
    )
    StepBatch.objects.filter(pk=batch_id).update(status=BatchStatus.DONE)
    return BatchOutcome()


def batch_claim(*, batch_id: int) -> list[Row]:
    """Claim the batch's queued rows while its sequence is active; skip readers no longer sendable."""
    table, runs, sequences = StepDelivery._meta.db_table, Run._meta.db_table, Sequence._meta.db_table
    now = timezone.now()
    with transaction.atomic():
        _settle_left_claimed(batch_id)
        with connection.cursor() as cursor:
            # Table names come from the models; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1 "  # noqa: S608
                "WHERE batch_id = %s AND status = %s AND EXISTS ("
                f"SELECT 1 FROM {runs} r JOIN {sequences} s ON s.id = r.sequence_id "
                f"WHERE r.id = {table}.run_id AND s.status = %s) "
                "RETURNING id, subscriber_id, email",
                [DeliveryStatus.CLAIMED, now, batch_id, DeliveryStatus.QUEUED, SequenceStatus.ACTIVE],
            )
            claimed = cursor.fetchall()
        ids = [sub for _, sub, _ in claimed if sub is not None]
        names = dict(sendable_subscribers().filter(pk__in=ids).values_list("pk", "name"))
        gone = [pk for pk, sub, _ in claimed if sub not in names]
        if gone:
            StepDelivery.objects.filter(pk__in=gone).update(status=DeliveryStatus.SKIPPED, error="No longer sendable.")
        if claimed:
            StepBatch.objects.filter(pk=batch_id).update(
                status=BatchStatus.CLAIMED, started_at=now, attempts=F("attempts") + 1
            )
    rows = [Row(pk, sub, email, names[sub] or NAME_FALLBACK) for pk, sub, email in claimed if sub in names]
    return sorted(rows, key=lambda r: r.step_delivery_id)


def _settle_left_claimed(batch_id: int) -> None:
    """Rows a dead worker left claimed: queued again if its call had not begun, else uncertain."""
    not_posted = Exists(StepBatch.objects.filter(pk=batch_id, status=BatchStatus.CLAIMED))
    StepDelivery.objects.filter(batch_id=batch_id, status=DeliveryStatus.CLAIMED).update(
        status=Case(When(not_posted, then=Value(DeliveryStatus.QUEUED)), default=Value(DeliveryStatus.UNCERTAIN)),
        error=Case(When(not_posted, then=F("error")), default=Value(WORKER_STOPPED), output_field=TextField()),
    )


def _settle_if_empty(batch_id: int) -> None:
    if not StepDelivery.objects.filter(batch_id=batch_id, status=DeliveryStatus.QUEUED).exists():
        _settle(batch_id, retry=False)


def _settle(batch_id: int, *, retry: bool) -> None:
    batches = StepBatch.objects.filter(pk=batch_id)
    if retry:
        batches.update(status=BatchStatus.QUEUED, due_at=timezone.now())
    else:
        batches.update(status=BatchStatus.DONE)


def batch_retry_due(*, batch_id: int, countdown: float) -> None:
    """The batch's retry waits ``countdown`` seconds: recovery leaves it alone until then."""
    due = timezone.now() + datetime.timedelta(seconds=countdown)
    StepBatch.objects.filter(pk=batch_id, status=BatchStatus.QUEUED).update(due_at=due)


def _send_rows(batch: StepBatch, strategy: ProviderStrategy, rows: list[Row]) -> posting.Results:
    ids = [r.step_delivery_id for r in rows]
    metadata = {"step_batch_id": str(batch.pk), "step_id": str(batch.version.step_id)}
    try:
        keep = batch.version.step.sequence.trigger == Trigger.SUNSET
        readers = recipients_for(batch.pk, rows, strategy, keep=keep)
        rendered = rendered_for(batch.version, strategy.merge_tag, keep=keep)

        def begin_posting() -> None:
            StepBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.POSTING)

        if strategy.batch:
            key = f"newsroom/step-batch-{batch.pk}/" + posting.batch_key(0, 0, readers).rsplit("/", 1)[1]
            return posting.send_in_one_call(
                strategy, rendered, readers, send_id=0, key=key, posting=begin_posting, metadata=metadata
            )
        return posting.send_one_by_one(
            strategy,
            rendered,
            readers,
            send_id=0,
            posting=begin_posting,
            metadata=metadata,
            message_key=lambda pk: f"newsroom/step-delivery-{pk}",
        )
    except Exception as exc:
        StepDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.CLAIMED).update(
            status=DeliveryStatus.UNCERTAIN, error=f"Unexpected error while sending: {exc!r}"[:REASON_LIMIT]
        )
        raise


def message_id(*, step_delivery_id: int, batch_id: int, domain: str) -> str:
    """The reader's Message-ID: the same for every attempt; apart from issues' <d….s…@…>."""
    return f"<q{step_delivery_id}.b{batch_id}@{domain}>"


def recipients_for(
    batch_id: int, rows: list[Row], strategy: ProviderStrategy, *, keep: bool = False
) -> list[Recipient]:
    """Each reader's name, unsubscribe and preferences links, List-Unsubscribe and Message-ID
    (and, with ``keep``, the re-engagement email's "keep me subscribed" link)."""
    key = "automations:merge:{}"
    found: dict[int, dict[str, str]] = {}
    if strategy.idempotent:
        # A retry must send the same request: the links' signatures carry a timestamp.
        stored = cache.get_many([key.format(r.step_delivery_id) for r in rows])
        found = {int(k.rsplit(":", 1)[1]): v for k, v in stored.items()}
    links = ReaderLinks()
    fresh = {
        r.step_delivery_id: {"name": r.name, **links.links(subscriber_id=r.subscriber_id or 0, email=r.email)}
        for r in rows
        if r.step_delivery_id not in found
    }
    if keep:
        for r in rows:
            if r.step_delivery_id in fresh:
                fresh[r.step_delivery_id][KEEP_KEY] = keep_url(subscriber_id=r.subscriber_id or 0, email=r.email)
    keys = ("name", "unsubscribe_url", "preferences_url", *((KEEP_KEY,) if keep else ()))
    if strategy.idempotent and fresh:
        cache.set_many({key.format(pk): v for pk, v in fresh.items()}, MERGE_CACHE_SECONDS)
    values = found | fresh
    domain = sender_domain()
    return [
        Recipient(
            delivery_id=r.step_delivery_id,
            email=r.email,
            merge={k: values[r.step_delivery_id][k] for k in keys},
            headers={
                **list_unsubscribe(values[r.step_delivery_id]["one_click_url"]),
                "Message-ID": message_id(step_delivery_id=r.step_delivery_id, batch_id=batch_id, domain=domain),
            },
            metadata={"step_delivery_id": str(r.step_delivery_id)},
        )
        for r in rows
    ]


def rendered_for(version: StepVersion, merge_tag: Any, *, keep: bool = False) -> RenderedEmail:
    """The step version rendered once (cached: a version never changes); ``keep`` adds the
    re-engagement email's "keep me subscribed" button."""
    key = f"automations:rendered:{version.pk}:{getattr(merge_tag, '__name__', 'tag')}:{int(keep)}"
    rendered = cache.get(key)
    if rendered is None:
        rendered = render_message(
            subject=version.subject,
            preheader=version.preheader,
            body=version.body,
            merge_tag=merge_tag,
            action=(KEEP_LABEL, KEEP_KEY) if keep else None,
        )
        cache.set(key, rendered, 6 * 3600)
    return dataclasses.replace(rendered)


def _after_sent(ids: list[int]) -> None:
    """Tag readers as their steps say, and tell listeners (outgoing webhooks) which steps went."""
    if not ids:
        return
    sent = list(
        StepDelivery.objects.filter(pk__in=ids).values_list("pk", "subscriber_id", "step_id", "step__add_tag_id")
    )
    emit_many(
        EventName.SEQUENCE_STEP_SENT,
        [{"subscriber_id": sub, "step_id": step, "step_delivery_id": pk} for pk, sub, step, _ in sent if sub],
    )
    by_tag: dict[int, list[int]] = {}
    for _, sub, _, tag in sent:
        if tag is not None and sub is not None:
            by_tag.setdefault(tag, []).append(sub)
    if by_tag:
        from subscribers.admin_services import subscribers_tag
        from subscribers.models import SubscriberTag

        for tag_id, readers in by_tag.items():
            subscribers_tag(
                subscribers=Subscriber.objects.filter(pk__in=readers), tag=SubscriberTag.objects.get(pk=tag_id)
            )


# --- 3. recover -----------------------------------------------------------------------


def step_batches_recover(*, now: datetime.datetime | None = None) -> int:
    """Enqueue again what lost tasks and dead workers left behind; returns how many batches.

    A queued batch past due by SEND_RECOVERY_GRACE_SECONDS whose sequence is active, and a
    claimed or posting one whose lock no worker holds, get a new task; the claim settles
    the rows a dead worker left claimed. A second task for a live batch sends no one twice."""
    now = now or timezone.now()
    late = now - datetime.timedelta(seconds=settings.SEND_RECOVERY_GRACE_SECONDS)
    lost: list[int] = []
    active = Exists(StepDelivery.objects.filter(batch=OuterRef("pk"), run__sequence__status=SequenceStatus.ACTIVE))
    queued = StepBatch.objects.filter(active, status=BatchStatus.QUEUED, due_at__lt=late)
    lost += list(queued.values_list("pk", flat=True)[:1000])
    started = StepBatch.objects.filter(status__in=[BatchStatus.CLAIMED, BatchStatus.POSTING], started_at__lt=late)
    for pk in started.values_list("pk", flat=True)[:1000]:
        with batch_lock(pk) as free:
            if free:
                lost.append(pk)
    if lost:
        StepBatch.objects.filter(pk__in=lost, status=BatchStatus.QUEUED).update(enqueued_at=now, due_at=now)
        StepBatch.objects.filter(pk__in=lost).exclude(status=BatchStatus.QUEUED).update(started_at=now)
        _enqueue(lost)
    return len(lost)
