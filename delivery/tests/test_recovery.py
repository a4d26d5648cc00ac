"""sends_recover_stalled: a batch whose task is lost is enqueued again once it is
SEND_RECOVERY_GRACE_SECONDS past due, and not before; the clock is moved, never waited for."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests
import time_machine
from anymail.exceptions import AnymailRequestsAPIError
from anymail.signals import pre_send
from django.db import connection
from django.utils import timezone

from delivery import claims, pipeline, services
from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus, Send, SendStatus
from delivery.tasks import send_batch
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_mailgun(settings: Any) -> None:
    settings.EMAIL_PROVIDER = "mailgun"
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "The Newsroom Daily <news@mg.newsroom.test>"
    settings.NEWSROOM_BATCH_SIZE = 2
    settings.SEND_RECOVERY_GRACE_SECONDS = 60


@pytest.fixture
def enqueued(monkeypatch: Any) -> list[tuple[int, int]]:
    """The batch tasks recovery enqueues, in order (none is run)."""
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(send_batch, "delay", lambda send_id, batch: seen.append((send_id, batch)))
    return seen


def lost_send(readers: int, capture: Any) -> Send:
    """A send whose audience is stored and whose batch tasks were lost (never run)."""
    daily = MailingListFactory.create(name="Daily")
    for _ in range(readers):
        SubscriberFactory.create(lists=[daily])
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    with capture(execute=False):
        pipeline.sends_start_due()
    return send


def recover(capture: Any, *, after: float) -> int:
    """Run recovery ``after`` seconds from now on a moved clock."""
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=after), tick=False), capture(execute=True):
        return pipeline.sends_recover_stalled()


def test_a_lost_batch_is_enqueued_again_once_past_due_by_the_grace_and_not_before(
    as_mailgun: None, enqueued: list[tuple[int, int]], django_capture_on_commit_callbacks: Any
) -> None:
    send = lost_send(4, django_capture_on_commit_callbacks)

    assert recover(django_capture_on_commit_callbacks, after=59) == 0
    assert enqueued == []
    assert recover(django_capture_on_commit_callbacks, after=61) == 1
    assert enqueued == [(send.pk, 0), (send.pk, 1)]

    with django_capture_on_commit_callbacks(execute=True):
        for send_id, number in enqueued:
            pipeline.send_batch_process(send_id=send_id, batch=number)
    send.refresh_from_db()
    assert send.status == SendStatus.DONE
    assert set(Delivery.objects.filter(send=send).values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_batch_enqueued_again_is_not_enqueued_again_until_it_is_late_once_more(
    as_mailgun: None, enqueued: list[tuple[int, int]], django_capture_on_commit_callbacks: Any
) -> None:
    lost_send(2, django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.sends_recover_stalled()
        assert len(enqueued) == 1
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.sends_recover_stalled()  # the next period: its new task is due now
    assert len(enqueued) == 1


def test_in_a_moving_queue_only_a_batch_passed_over_is_enqueued_again(
    as_mailgun: None, enqueued: list[tuple[int, int]], django_capture_on_commit_callbacks: Any
) -> None:
    first = lost_send(2, django_capture_on_commit_callbacks)
    second = lost_send(4, django_capture_on_commit_callbacks)
    t0 = timezone.now()
    Batch.objects.filter(send=first).update(due_at=t0)
    Batch.objects.filter(send=second).update(due_at=t0 + datetime.timedelta(seconds=30))
    # A worker took the second send's batch 0 (queued after the first send's) a moment ago.
    Batch.objects.filter(send=second, number=0).update(
        status=BatchStatus.DONE, started_at=t0 + datetime.timedelta(seconds=90)
    )

    with (
        time_machine.travel(t0 + datetime.timedelta(seconds=100), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        pipeline.sends_recover_stalled()

    # The first send's batch was passed over: lost. The second's batch 1 waits its turn.
    assert enqueued == [(first.pk, 0)]


def api_error(status: int) -> AnymailRequestsAPIError:
    response = requests.Response()
    response.status_code, response.reason, response._content = status, "Unavailable", b"Unavailable"
    return AnymailRequestsAPIError("Unavailable", response=response)


@pytest.fixture
def provider_unavailable() -> Iterator[None]:
    def answer(sender: Any, message: Any, esp_name: str, **kwargs: Any) -> None:
        message.anymail_test_response = api_error(503)

    pre_send.connect(answer, weak=False)
    yield
    pre_send.disconnect(answer)


class Retried(Exception):
    pass


def test_a_retry_waiting_for_its_countdown_is_not_enqueued_again_before_it_is_due(
    as_mailgun: None,
    provider_unavailable: None,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:
    send = lost_send(2, django_capture_on_commit_callbacks)
    monkeypatch.setattr(pipeline, "retry_delay", lambda *, attempt: 300.0)
    countdowns: list[float] = []

    def retry(**kwargs: Any) -> Exception:
        countdowns.append(kwargs["countdown"])
        return Retried()

    monkeypatch.setattr(send_batch, "retry", retry)
    with pytest.raises(Retried):
        send_batch(send.pk, 0)  # the provider answered 503: the task retries in 300 s
    assert countdowns == [300.0]
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(send_batch, "delay", lambda send_id, batch: seen.append((send_id, batch)))

    recover(django_capture_on_commit_callbacks, after=200)
    assert seen == []  # its retry is waiting, not lost
    recover(django_capture_on_commit_callbacks, after=300 + 61)
    assert seen == [(send.pk, 0)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the batch lock is PostgreSQL's")
def test_a_batch_held_by_a_live_worker_is_left_alone_and_one_whose_worker_died_is_enqueued_again(
    as_mailgun: None, enqueued: list[tuple[int, int]], django_capture_on_commit_callbacks: Any
) -> None:
    send = lost_send(2, django_capture_on_commit_callbacks)
    Batch.objects.filter(send=send).update(status=BatchStatus.POSTING, started_at=timezone.now())
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as worker:
        worker.execute("SELECT pg_advisory_lock(%s)", [claims.batch_lock_key(send.pk, 0)])
        recover(django_capture_on_commit_callbacks, after=61)
        assert enqueued == []  # a worker is on it (a slow provider call)
    # its connection ended, as a killed worker's does: PostgreSQL dropped the lock
    recover(django_capture_on_commit_callbacks, after=61)
    assert enqueued == [(send.pk, 0)]
