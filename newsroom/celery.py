"""The Celery application. Settings come from Django's (CELERY_ prefix)."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")

app = Celery("newsroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def _close_old_connections(task: Any = None, **kwargs: Any) -> None:
    """After each task, close a database connection that broke or outlived DB_CONN_MAX_AGE (the rest
    are reused: settings.CELERY_DB_REUSE_MAX). Not for a task run eagerly inside a caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@app.on_after_finalize.connect
def _schedule_periodic(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    # The database holds the schedule; beat only polls it for due Sends.
    # A poll that waited in the queue longer than two periods is dropped: a newer one is behind it.
    seconds = float(settings.SEND_POLL_SECONDS)
    sender.add_periodic_task(
        seconds, sender.signature("delivery.start_due_sends"), name="start due sends", expires=2 * seconds
    )
    # Rows left behind by lost tasks (see delivery.pipeline.sends_recover_stalled).
    # It runs every half grace, so a lost batch is enqueued again at most 1.5 grace after it was due.
    recover = max(5.0, settings.SEND_RECOVERY_GRACE_SECONDS / 2)
    sender.add_periodic_task(
        recover, sender.signature("delivery.recover_stalled_sends"), name="recover stalled sends", expires=2 * recover
    )
    # Welcomes the task queue could not take when the reader confirmed (subscribers.services.welcomes_send_missed).
    sender.add_periodic_task(
        300.0, sender.signature("subscribers.send_missed_welcomes"), name="send missed welcomes", expires=600.0
    )
    # The API's request log and stored Idempotency-Key answers past their time (api.services.api_logs_prune).
    sender.add_periodic_task(3600.0, sender.signature("api.prune_logs"), name="prune API logs", expires=1800.0)
    # Sequences: due steps (automations.pipeline), like sends, by polling the database; lost step batches;
    # and readers who joined a trigger segment.
    sender.add_periodic_task(
        seconds, sender.signature("automations.send_due_steps"), name="send due sequence steps", expires=2 * seconds
    )
    sender.add_periodic_task(
        recover,
        sender.signature("automations.recover_step_batches"),
        name="recover step batches",
        expires=2 * recover,
    )
    segments = float(settings.SEQUENCE_SEGMENT_CHECK_SECONDS)
    sender.add_periodic_task(
        segments,
        sender.signature("automations.check_segment_triggers"),
        name="check segment triggers",
        expires=2 * segments,
    )
    # The lists' sunset policies (automations.sunset): re-engagement emails and moves to inactive.
    sunset = float(settings.SUNSET_CHECK_SECONDS)
    sender.add_periodic_task(
        sunset, sender.signature("automations.apply_sunset_policy"), name="apply sunset policies", expires=sunset
    )
    # The lists' and segments' stored counts, for the admin at sizes where counting on each view is slow.
    counts = float(settings.AUDIENCE_COUNT_SECONDS)
    sender.add_periodic_task(
        counts, sender.signature("subscribers.refresh_counts"), name="count lists and segments", expires=counts
    )
    # Outgoing webhooks due (outbound.services.deliveries_send_due); the rows hold the retry schedule.
    webhooks = float(settings.OUTBOUND_WEBHOOKS_POLL_SECONDS)
    sender.add_periodic_task(
        webhooks, sender.signature("outbound.deliver_due"), name="send due webhooks", expires=2 * webhooks
    )
