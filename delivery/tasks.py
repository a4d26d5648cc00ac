"""Celery entry points for sending; they take primary keys and call delivery.pipeline.

The retry policy of a batch lives here: a batch the provider could not take
(429, 5xx, no connection) comes back after pipeline.retry_delay() seconds, up
to SEND_MAX_RETRIES times; on the last attempt its rows fail with the reason.
acks_late and reject_on_worker_lost are set for every task in settings.py."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from delivery import claims, pacing, pipeline, zones


@shared_task(name="delivery.start_due_sends")
def start_due_sends() -> list[int]:
    started = pipeline.sends_start_due()
    # Sends at each reader's local time: the zones whose hour has come (delivery.zones).
    zones.zones_release_due(enqueue=pipeline.enqueue_batches)
    return started


@shared_task(name="delivery.recover_stalled_sends")
def recover_stalled_sends() -> int:
    return pipeline.sends_recover_stalled()


@shared_task(name="delivery.send_batch", bind=True, max_retries=None)
def send_batch(self, send_id: int, batch: int) -> None:  # type: ignore[no-untyped-def]
    attempt = self.request.retries
    outcome = pipeline.send_batch_process(
        send_id=send_id, batch=batch, final_attempt=attempt >= settings.SEND_MAX_RETRIES
    )
    if outcome.wait is not None:
        # Waiting for the budget or the window is not an attempt: a new task, the retry count kept.
        # A long wait is left to the database (the batch is due then; recovery enqueues it).
        if outcome.wait <= pacing.TASK_WAIT_MAX_SECONDS:
            claims.batch_retry_due(send_id=send_id, batch=batch, countdown=outcome.wait)
            send_batch.apply_async((send_id, batch), countdown=outcome.wait, retries=attempt)  # type: ignore[call-arg]
        return
    if outcome.retry:
        countdown = max(pipeline.retry_delay(attempt=attempt), outcome.retry_after or 0.0)
        # The batch is due when its retry is, so recovery leaves the waiting retry alone.
        claims.batch_retry_due(send_id=send_id, batch=batch, countdown=countdown)
        raise self.retry(countdown=countdown)
