"""Putting work on the task queue after a commit, so that a broker outage is an answer, not a 500.

Every web request that queues a task should do it through ``enqueue_on_commit``:
the task is published only once the rows it needs are committed (a worker
never looks for a row that is not there yet, and a rolled-back request queues
nothing), and if the broker (Redis) cannot be reached the caller gets
``TaskQueueUnavailable`` to turn into a clear message, after ``on_failure`` has
recorded in the database that nothing was queued.
"""

from __future__ import annotations

from collections.abc import Callable

import kombu.exceptions
import redis.exceptions
from django.db import transaction

# How Celery reports a broker it cannot reach when publishing: kombu wraps
# connection failures in its OperationalError; redis-py's own errors can
# surface from the Redis transport as they are.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class TaskQueueUnavailable(ConnectionError):
    """The task queue (the Celery broker) could not be reached: nothing was queued.

    Django has no exception for 503; this is the built-in ConnectionError it stands for."""


NOT_QUEUED_MESSAGE = "The task queue could not be reached; nothing was queued."


def enqueue(
    publish: Callable[[], object],
    *,
    on_failure: Callable[[], object] | None = None,
    message: str = NOT_QUEUED_MESSAGE,
) -> None:
    """Call ``publish`` (which puts a task on the queue) now.

    If the broker cannot be reached, call ``on_failure`` (to record that the
    work was not queued) and raise TaskQueueUnavailable with ``message`` (for a
    caller that shows the error as it is).
    """
    try:
        publish()
    except BROKER_ERRORS as exc:
        if on_failure is not None:
            on_failure()
        raise TaskQueueUnavailable(message) from exc


def enqueue_on_commit(
    publish: Callable[[], object],
    *,
    on_failure: Callable[[], object] | None = None,
    message: str = NOT_QUEUED_MESSAGE,
) -> None:
    """``enqueue`` once the current transaction commits (at once outside a transaction).

    TaskQueueUnavailable then comes out of the outermost ``transaction.atomic()``
    block, after the commit: the rows are stored, and ``on_failure`` runs in
    autocommit to say the work was not queued. Nothing is published if the
    transaction rolls back.
    """
    transaction.on_commit(lambda: enqueue(publish, on_failure=on_failure, message=message))
