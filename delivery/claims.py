"""Batch rows and their Delivery rows: locks, claiming, and the status moves of an attempt.

A row is claimed (``claimed``) and committed before the provider is called, and
marked with the provider's answer after (delivery.posting.record). The Batch row
says how far an attempt got, so that a task taking the batch after a dead
worker knows whether the provider may have its readers."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Case, Exists, F, TextField, Value, When
from django.utils import timezone

from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus, Send, SendStatus
from subscribers.selectors import sendable_subscribers

WORKER_STOPPED = "The worker stopped while sending this batch; the provider may have it."
# A reader who gave no name is greeted "Hi there,".
NAME_FALLBACK = "there"


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


def batch_claim(*, send_id: int, batch: int, limit: int | None = None) -> list[Row]:
    """Claim the batch's queued rows (the first ``limit`` by id, when the budget granted only
    part of the batch) while the send is sending; skip readers no longer sendable.

    Rows still ``claimed`` from an earlier attempt whose worker died are settled by
    the batch's status: if the provider call had begun (``posting``, or no Batch row
    to say) they may have reached the provider and become uncertain; if it had not
    (``claimed``), nobody got them and they are claimed again here."""
    table = Delivery._meta.db_table
    send_table = Send._meta.db_table
    with transaction.atomic():
        _settle_left_claimed(send_id, batch)
        now = timezone.now()
        sending = (SendStatus.SNAPSHOTTING, SendStatus.SENDING)
        params: list[Any] = [DeliveryStatus.CLAIMED, now, send_id, batch, DeliveryStatus.QUEUED, send_id, *sending]
        # Part of the batch: the rows up to the ``limit``-th queued id (a scalar computed once; an
        # ``id IN (SELECT … LIMIT)`` is planned as a nested loop, quadratic in the batch, while the
        # send's new rows are not in the table's statistics yet).
        upto = ""
        if limit is not None and limit < 1:
            upto = "AND false "
        elif limit is not None:
            upto = (
                f"AND id <= COALESCE((SELECT id FROM {table} WHERE send_id = %s AND batch = %s "  # noqa: S608
                "AND status = %s ORDER BY id LIMIT 1 OFFSET %s), id) "
            )
            params += [send_id, batch, DeliveryStatus.QUEUED, limit - 1]
        with connection.cursor() as cursor:
            # Table names come from the models; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1 "  # noqa: S608
                "WHERE send_id = %s AND batch = %s AND status = %s "
                f"AND EXISTS (SELECT 1 FROM {send_table} s WHERE s.id = %s AND s.status IN (%s, %s)) "
                f"{upto}RETURNING id, subscriber_id, email",
                params,
            )
            claimed = cursor.fetchall()
        # The rows this transaction just claimed are the batch's claimed rows: a short subquery,
        # not a thousand parameters to compile.
        just_claimed = Delivery.objects.filter(send_id=send_id, batch=batch, status=DeliveryStatus.CLAIMED)
        names = (
            dict(sendable_subscribers().filter(pk__in=just_claimed.values("subscriber_id")).values_list("pk", "name"))
            if claimed
            else {}
        )
        gone = [pk for pk, sub, _ in claimed if sub not in names]
        if gone:
            Delivery.objects.filter(pk__in=gone).update(status=DeliveryStatus.SKIPPED, error="No longer sendable.")
        if claimed:
            Batch.objects.filter(send_id=send_id, number=batch).update(
                status=BatchStatus.CLAIMED, started_at=timezone.now(), attempts=F("attempts") + 1
            )
    rows = [Row(pk, sub, email, names[sub] or NAME_FALLBACK) for pk, sub, email in claimed if sub in names]
    return sorted(rows, key=lambda r: r.delivery_id)


def _settle_left_claimed(send_id: int, batch: int) -> None:
    """One UPDATE, usually of no row: back to the queue if the call had not begun, else uncertain."""
    not_posted = Exists(Batch.objects.filter(send_id=send_id, number=batch, status=BatchStatus.CLAIMED))
    Delivery.objects.filter(send_id=send_id, batch=batch, status=DeliveryStatus.CLAIMED).update(
        status=Case(When(not_posted, then=Value(DeliveryStatus.QUEUED)), default=Value(DeliveryStatus.UNCERTAIN)),
        error=Case(When(not_posted, then=F("error")), default=Value(WORKER_STOPPED), output_field=TextField()),
    )


def batch_posting(*, send_id: int, batch: int) -> None:
    """Say, committed, that the provider call of the batch begins: from here a worker that
    dies leaves its claimed readers uncertain; before it they are simply sent again."""
    Batch.objects.filter(send_id=send_id, number=batch).update(status=BatchStatus.POSTING)


def batch_settle(*, send_id: int, batch: int, retry_at: Any = None) -> None:
    """The batch's attempt is over: due again at ``retry_at`` (a retry's ETA), or done."""
    batches = Batch.objects.filter(send_id=send_id, number=batch)
    if retry_at is not None:
        batches.update(status=BatchStatus.QUEUED, due_at=retry_at)
    else:
        batches.update(status=BatchStatus.DONE)


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
