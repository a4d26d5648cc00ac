"""Celery entry points for sending; they take primary keys and call delivery.services."""

from __future__ import annotations

import random

from celery import shared_task
from django.conf import settings

from delivery import services


@shared_task(name="delivery.start_due_sends")
def start_due_sends() -> list[int]:
    return services.sends_start_due()


@shared_task(name="delivery.send_batch", bind=True, acks_late=True, max_retries=None)
def send_batch(self, send_id: int, batch: int) -> None:  # type: ignore[no-untyped-def]
    final = self.request.retries >= settings.SEND_MAX_RETRIES
    outcome = services.send_batch_process(send_id=send_id, batch=batch, final_attempt=final)
    if outcome.retry:
        base = min(2**self.request.retries, 300)
        raise self.retry(countdown=base + random.uniform(0, base))
