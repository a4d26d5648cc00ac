"""Celery tasks of the audience: thin, they take primary keys and call a service."""

from __future__ import annotations

from celery import shared_task

from subscribers import importer, services


@shared_task(name="subscribers.import_run", acks_late=True)
def import_job_run_task(job_id: int) -> None:
    """Run one confirmed CSV import. Redelivery is safe: only a queued job is imported, under a row lock."""
    importer.import_job_run(job_id=job_id)


@shared_task(name="subscribers.send_missed_welcomes")
def send_missed_welcomes_task() -> int:
    """Periodic (newsroom/celery.py): welcomes the task queue could not take when the reader confirmed."""
    return services.welcomes_send_missed()
