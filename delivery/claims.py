"""Batch rows and their Delivery rows: locks, claiming, and the status moves of an attempt.

A batch's rows are claimed (on its Batch row: ``claimed`` and the last Delivery id
taken) and committed before the provider is called, and each row is marked with the
provider's answer after (delivery.posting.record). The Batch row says how far an
attempt got, so that a task taking the batch after a dead worker knows whether the
provider may have its readers."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus, Send, SendStatus
from subscribers.selectors import sendable_subscribers

WORKER_STOPPED = "The worker stopped while sending this batch; the provider may have it."
# A reader who gave no name is greeted "Hi there,".
NAME_FALLBACK = "there"
# A batch whose claimed rows are being sent (or were, by a worker that died).
IN_FLIGHT = Q(status__in=[BatchStatus.CLAIMED, BatchStatus.POSTING], claimed_upto__isnull=False)


@dataclass(frozen=True)
class Row:
    delivery_id: int
    subscriber_id: int | None
    email: str
    name: str


def batch_lock_key(send_id: int, batch: int) -> int:
    """The PostgreSQL advisory lock key of one batch of one send."""
    return (send_id << 24) + batch


@contextlib.contextmanager
def batch_lock(send_id: int, batch: int) -> Iterator[bool]:
    """Hold a PostgreSQL session lock on one batch while it is being sent.

    Yields False if another worker holds it. The database drops the lock when
    the worker's connection ends, so a batch found locked is being sent by a
    live worker, and claimed rows of an unlocked batch were left by a dead one.
    Elsewhere (SQLite: one machine) it yields True without locking."""
    if connection.vendor != "postgresql" or batch >= 1 << 24:
        yield True
        return
    key = batch_lock_key(send_id, batch)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def batches_in_flight(send_ids: Any, *, lock: bool = False) -> list[tuple[int, int, int]]:
    """``(send_id, number, last id claimed)`` of each batch of these sends whose claimed rows are
    being sent now (or were, by a worker that died). ``lock`` takes every batch row of the sends
    first (FOR UPDATE), so that no claim commits between this read and what the caller writes."""
    batches = Batch.objects.filter(send_id__in=send_ids)
    if lock:
        list(batches.select_for_update().order_by("send_id", "number").values_list("pk", flat=True))
    found = batches.filter(IN_FLIGHT).values_list("send_id", "number", "claimed_upto")
    return [(send_id, number, upto) for send_id, number, upto in found if upto is not None]


def in_flight_rows(flight: list[tuple[int, int, int]]) -> Q:
    """The Delivery rows of these in-flight batches (see batches_in_flight) still marked queued."""
    if not flight:
        return Q(pk__isnull=True)  # no row
    q = Q()
    for send_id, number, upto in flight:
        q |= Q(send_id=send_id, batch=number, pk__lte=upto)
    return Q(status=DeliveryStatus.QUEUED) & q


def batch_claim(*, send_id: int, batch: int, limit: int | None = None) -> list[Row]:
    """Claim the batch's queued rows (the first ``limit`` by id, when the budget granted only
    part of the batch) while the send is sending; skip readers no longer sendable.

    The claim is written on the Batch row alone: its status (``claimed``) and the last
    Delivery id it took. The rows stay ``queued`` until their answer is recorded, so each
    is written once per attempt. Rows an earlier attempt took whose worker died are
    settled by the batch's status: if the provider call had begun (``posting``) they may
    have reached the provider and become uncertain; if it had not (``claimed``), nobody
    got them and they are claimed again here.

    The Batch row is locked first: a cancel locks the send's Batch rows before it skips
    queued rows, so it either sees this claim or the claim sees the send cancelled."""
    if limit is not None and limit < 1:
        return []
    table = Delivery._meta.db_table
    with transaction.atomic():
        found = _batch_locked(send_id, batch)
        _settle_left_claimed(send_id, batch, *found)
        sendable, readers_params = sendable_subscribers().order_by().values("id", "name").query.sql_with_params()
        sending = (SendStatus.SNAPSHOTTING, SendStatus.SENDING)
        params: list[Any] = [*readers_params, send_id, batch, DeliveryStatus.QUEUED, send_id, *sending]
        upto = ""
        if limit is not None:
            upto = " LIMIT %s"
            params.append(limit)
        with connection.cursor() as cursor:
            # Table names come from the models and the readers' condition from its compiled queryset;
            # the send's status is read after the Batch row's lock (a new snapshot: a cancel is seen).
            cursor.execute(
                f"SELECT d.id, d.subscriber_id, d.email, s.id, s.name FROM {table} d "  # noqa: S608
                f"LEFT JOIN ({sendable}) s ON s.id = d.subscriber_id "
                "WHERE d.send_id = %s AND d.batch = %s AND d.status = %s "
                f"AND EXISTS (SELECT 1 FROM {Send._meta.db_table} e WHERE e.id = %s AND e.status IN (%s, %s)) "
                f"ORDER BY d.id{upto}",
                params,
            )
            taken = cursor.fetchall()
        if not taken:
            return []
        gone = [pk for pk, _, _, reader, _ in taken if reader is None]
        if gone:
            Delivery.objects.filter(pk__in=gone).update(status=DeliveryStatus.SKIPPED, error="No longer sendable.")
        Batch.objects.filter(send_id=send_id, number=batch).update(
            status=BatchStatus.CLAIMED,
            started_at=timezone.now(),
            attempts=F("attempts") + 1,
            claimed_upto=taken[-1][0],
        )
    return [Row(pk, sub, email, name or NAME_FALLBACK) for pk, sub, email, reader, name in taken if reader is not None]


def _batch_locked(send_id: int, batch: int) -> tuple[str, int | None]:
    """The batch's status and last id claimed, its row locked until the transaction ends
    (created queued if the batch was never enqueued through batches_due)."""
    rows = Batch.objects.select_for_update().filter(send_id=send_id, number=batch)
    found = rows.values_list("status", "claimed_upto").first()
    if found is None:
        now = timezone.now()
        Batch.objects.bulk_create(
            [Batch(send_id=send_id, number=batch, enqueued_at=now, due_at=now)], ignore_conflicts=True
        )
        found = rows.values_list("status", "claimed_upto").first()
    assert found is not None
    return found


def _settle_left_claimed(send_id: int, batch: int, status: str, upto: int | None) -> None:
    """The rows a dead worker's attempt took (none, usually): claimed again if its call had not
    begun, else uncertain."""
    if upto is None or status not in (BatchStatus.CLAIMED, BatchStatus.POSTING):
        return
    if status == BatchStatus.POSTING:
        Delivery.objects.filter(send_id=send_id, batch=batch, status=DeliveryStatus.QUEUED, pk__lte=upto).update(
            status=DeliveryStatus.UNCERTAIN, error=WORKER_STOPPED, attempts=F("attempts") + 1
        )
    Batch.objects.filter(send_id=send_id, number=batch).update(claimed_upto=None)


def batch_posting(*, send_id: int, batch: int) -> None:
    """Say, committed, that the provider call of the batch begins: from here a worker that
    dies leaves its claimed readers uncertain; before it they are simply sent again."""
    Batch.objects.filter(send_id=send_id, number=batch).update(status=BatchStatus.POSTING)


def batch_settle(*, send_id: int, batch: int, retry_at: Any = None) -> None:
    """The batch's attempt is over: due again at ``retry_at`` (a retry's ETA), or done."""
    batches = Batch.objects.filter(send_id=send_id, number=batch)
    if retry_at is not None:
        batches.update(status=BatchStatus.QUEUED, due_at=retry_at, claimed_upto=None)
    else:
        batches.update(status=BatchStatus.DONE, claimed_upto=None)


def batch_retry_due(*, send_id: int, batch: int, countdown: float) -> None:
    """The batch's retry waits ``countdown`` seconds: recovery leaves it alone until then."""
    due = timezone.now() + datetime.timedelta(seconds=countdown)
    Batch.objects.filter(send_id=send_id, number=batch, status=BatchStatus.QUEUED).update(due_at=due)


def batch_wait(*, send_id: int, batch: int, seconds: float) -> None:
    """The batch waits for its budget or window: due again in ``seconds``, its rows untouched."""
    due = timezone.now() + datetime.timedelta(seconds=seconds)
    # The status stays: one left claimed or posting by a dead worker still says how far it got.
    Batch.objects.filter(send_id=send_id, number=batch).exclude(status=BatchStatus.DONE).update(due_at=due)


def batches_due(send_id: int, numbers: list[int], now: datetime.datetime) -> None:
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
