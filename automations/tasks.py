"""Celery entry points for sequences; they take primary keys and call automations.pipeline.

A batch the provider could not take comes back after delivery's retry_delay(), up
to SEND_MAX_RETRIES times, as an issue's batch does."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from automations import pipeline, services, sunset
from delivery.pipeline import retry_delay


@shared_task(name="automations.send_due_steps")
def send_due_steps() -> int:
    return pipeline.steps_send_due()


@shared_task(name="automations.check_segment_triggers")
def check_segment_triggers() -> int:
    return services.segment_triggers_check()


@shared_task(name="automations.apply_sunset_policy")
def apply_sunset_policy() -> dict[str, int]:
    result = sunset.sunset_apply()
    return {"noticed": result.noticed, "engaged": result.engaged, "left": result.left, "moved": result.moved}


@shared_task(name="automations.recover_step_batches")
def recover_step_batches() -> int:
    return pipeline.step_batches_recover()


@shared_task(name="automations.send_step_batch", bind=True, max_retries=None)
def send_step_batch(self, batch_id: int) -> None:  # type: ignore[no-untyped-def]
    attempt = self.request.retries
    outcome = pipeline.step_batch_process(batch_id=batch_id, final_attempt=attempt >= settings.SEND_MAX_RETRIES)
    if outcome.retry:
        countdown = retry_delay(attempt=attempt)
        pipeline.batch_retry_due(batch_id=batch_id, countdown=countdown)
        raise self.retry(countdown=countdown)
