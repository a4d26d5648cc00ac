"""A worker that dies in the middle of a batch: whether its claimed readers are sent again
or left uncertain depends on whether the provider call had begun (the batch's status)."""

from __future__ import annotations

from typing import Any

import pytest
from anymail.signals import pre_send
from django.core import mail

from delivery import claims, pipeline, recipients, services
from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus, Send
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_mailgun(settings: Any) -> None:
    settings.EMAIL_PROVIDER = "mailgun"
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "The Newsroom Daily <news@mg.newsroom.test>"


def stored_send(readers: int, capture: Any) -> Send:
    """A send whose audience is stored and whose batch tasks were never run."""
    daily = MailingListFactory.create(name="Daily")
    for _ in range(readers):
        SubscriberFactory.create(lists=[daily])
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    with capture(execute=False):
        pipeline.sends_start_due()
    return send


def statuses(send: Send) -> set[str]:
    return set(Delivery.objects.filter(send=send).values_list("status", flat=True))


def test_a_batch_whose_worker_died_before_the_provider_call_is_sent_again(
    as_mailgun: None, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    send = stored_send(2, django_capture_on_commit_callbacks)
    real = recipients.recipients_for

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("the worker was killed")  # after the claim, before the provider call

    # The issue is rendered before the claim; building the readers' copies comes after it.
    monkeypatch.setattr(recipients, "recipients_for", killed)
    with pytest.raises(SystemExit):
        pipeline.send_batch_process(send_id=send.pk, batch=0)
    # The claim is on the batch: its rows wait, queued, for an answer.
    assert statuses(send) == {DeliveryStatus.QUEUED}
    left = Batch.objects.get(send=send, number=0)
    assert (left.status, left.claimed_upto) == (BatchStatus.CLAIMED, max(Delivery.objects.values_list("pk", flat=True)))
    monkeypatch.setattr(recipients, "recipients_for", real)

    with django_capture_on_commit_callbacks(execute=True):
        pipeline.send_batch_process(send_id=send.pk, batch=0)  # its task, delivered again

    assert statuses(send) == {DeliveryStatus.SENT}
    assert len(mail.outbox) == 1 and len(mail.outbox[0].to) == 2  # one call, each reader once
    assert Batch.objects.get(send=send, number=0).status == BatchStatus.DONE


def test_a_batch_whose_worker_died_during_the_provider_call_is_left_uncertain(
    as_mailgun: None, django_capture_on_commit_callbacks: Any
) -> None:
    send = stored_send(2, django_capture_on_commit_callbacks)

    def killed(sender: Any, message: Any, esp_name: str, **kwargs: Any) -> None:
        assert Batch.objects.get(send=send, number=0).status == BatchStatus.POSTING  # said before the call
        raise SystemExit("the worker was killed")

    pre_send.connect(killed, weak=False)
    try:
        with pytest.raises(SystemExit):
            pipeline.send_batch_process(send_id=send.pk, batch=0)
    finally:
        pre_send.disconnect(killed)

    with django_capture_on_commit_callbacks(execute=True):
        pipeline.send_batch_process(send_id=send.pk, batch=0)

    assert statuses(send) == {DeliveryStatus.UNCERTAIN}
    assert set(Delivery.objects.filter(send=send).values_list("error", flat=True)) == {claims.WORKER_STOPPED}
    assert mail.outbox == []  # never sent again
