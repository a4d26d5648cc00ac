"""A worker keeps its database connection from one task to the next (a batch each), and drops
one that broke or outlived DB_CONN_MAX_AGE, as Django does between requests."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from celery.signals import task_postrun
from django.db import connection

from newsroom.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


def task_ran(*, eager: bool = False) -> None:
    """What a worker's pool process signals after each task."""
    task_postrun.send(sender=None, task=SimpleNamespace(request=SimpleNamespace(is_eager=eager)))


def test_celery_closes_connections_only_every_thousand_tasks() -> None:
    assert app.conf.get("CELERY_DB_REUSE_MAX") == 500  # the fix-up closes every 2 x 500 tasks, not each


def test_a_connection_is_kept_across_tasks_until_its_age_is_up(settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite reconnects for every task (CONN_MAX_AGE 0)")
    connection.ensure_connection()
    first = connection.connection
    task_ran()
    assert connection.connection is first  # kept: the next task's queries go on it
    connection.close_at = time.monotonic() - 1  # it outlived DB_CONN_MAX_AGE
    task_ran()
    assert connection.connection is None  # closed: the next task connects afresh


def test_a_connection_that_broke_is_dropped_after_the_task() -> None:
    connection.ensure_connection()
    connection.errors_occurred = True
    connection.connection.close()  # the server went away under it
    task_ran()
    assert connection.connection is None


def test_an_eager_task_inside_a_transaction_keeps_its_callers_connection() -> None:
    connection.ensure_connection()
    first = connection.connection
    connection.close_at = time.monotonic() - 1
    task_ran(eager=True)
    assert connection.connection is first
