"""Celery tasks of the audience: thin, they take primary keys and call a service."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from subscribers import importer, services
from subscribers.selectors import public_lists


# No time limit of its own: a run imports one chunk (IMPORT_CHUNK_ROWS rows) and
# queues the next, so CELERY_TASK_TIME_LIMIT holds for it like for every task.
@shared_task(name="subscribers.import_run", acks_late=True)
def import_job_run_task(job_id: int, offset: int | None = None) -> None:
    """Import the next chunk of a confirmed CSV import (``offset``: where it starts; None in older messages).

    Redelivery is safe: only a queued job is imported, under a row lock, and a chunk already done is not redone.
    """
    try:
        importer.import_job_run(job_id=job_id, offset=offset)
    except SoftTimeLimitExceeded:
        # The chunk's transaction is rolled back; without this the job would wait as "importing" for ever.
        importer.import_job_fail(
            job_id=job_id,
            reason=f"A chunk of {settings.IMPORT_CHUNK_ROWS} rows took longer than the task time limit; "
            "set IMPORT_CHUNK_ROWS lower and import the rest of the file again.",
        )


@shared_task(name="subscribers.send_missed_welcomes")
def send_missed_welcomes_task() -> int:
    """Periodic (newsroom/celery.py): welcomes the task queue could not take when the reader confirmed."""
    return services.welcomes_send_missed()


@shared_task(name="subscribers.subscribe", acks_late=True)
def subscribe_task(
    *, email: str, name: str, list_ids: list[int], form: str, ip: str | None, user_agent: str, time_zone: str = ""
) -> None:
    """A subscribe request from the public form (services.subscription_request_queue), handled off the request.

    Only lists still offered to readers are joined. Redelivery is safe: the reader is found
    again, and the confirmation email goes at most once per cool-down.
    """
    lists = list(public_lists().filter(pk__in=list_ids))
    services.subscriber_subscribe(
        email=email, name=name, lists=lists, form=form, ip=ip, user_agent=user_agent, time_zone=time_zone
    )


@shared_task(name="subscribers.resend_confirmation", acks_late=True)
def resend_confirmation_task(*, email: str) -> None:
    """A "send me a fresh link" request (services.confirmation_resend_queue); redelivery is harmless (cool-down)."""
    services.subscriber_resend_confirmation(email=email)


@shared_task(name="subscribers.refresh_counts")
def refresh_counts_task(segment_id: int | None = None) -> int:
    """Periodic (newsroom/celery.py): the lists' and segments' stored counts (subscribers.counts).

    With ``segment_id``: that segment alone, just saved. Returns how many were counted.
    """
    from subscribers import counts
    from subscribers.models import Segment

    if segment_id is not None:
        return counts.segment_counts_refresh(Segment.objects.filter(pk=segment_id))
    return counts.audience_counts_refresh()
