from __future__ import annotations

import pytest
from django.db import transaction

from core.mail import send_email_task
from core.queue import TaskQueueUnavailable, enqueue, enqueue_on_commit
from testing.fixtures import BrokerOutage


def publish() -> None:
    send_email_task.delay(kind="confirm", to=["a@example.org"], context={})


def test_a_broker_that_is_down_raises_task_queue_unavailable_after_on_failure(broker_down: BrokerOutage) -> None:
    failures: list[str] = []
    with pytest.raises(TaskQueueUnavailable):
        enqueue(publish, on_failure=lambda: failures.append("recorded"))
    assert failures == ["recorded"]


@pytest.mark.django_db(transaction=True)
def test_on_commit_the_error_comes_out_of_the_atomic_block_after_the_commit(broker_down: BrokerOutage) -> None:
    from django.contrib.auth.models import Group

    failures: list[int] = []
    with pytest.raises(TaskQueueUnavailable), transaction.atomic():
        group = Group.objects.create(name="stored")
        enqueue_on_commit(publish, on_failure=lambda: failures.append(Group.objects.filter(name="stored").count()))
    assert Group.objects.filter(pk=group.pk).exists()
    assert failures == [1], "on_failure runs after the commit and sees the stored row"


@pytest.mark.django_db(transaction=True)
def test_nothing_is_published_when_the_transaction_rolls_back(broker_down: BrokerOutage) -> None:
    published: list[bool] = []
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(lambda: published.append(True))
        raise RuntimeError("rolled back")
    assert published == []
