"""Rows a worker had claimed one by one before the claim moved to the batch row (migration 0009)
become their batch's claim: queued again, and settled by the batch's status on the next attempt."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("delivery", "0008_sendinglimit_provider_mailersend_postal_scaleway_mailtrap")]
AFTER = [("delivery", "0009_batch_claimed_upto")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_rows_left_claimed_become_the_claim_of_their_batch(django_capture_on_commit_callbacks: Any) -> None:
    from delivery import pipeline, services
    from issues.models import IssueStatus

    daily = MailingListFactory.create(name="Daily")
    for _ in range(3):
        SubscriberFactory.create(lists=[daily])
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.sends_start_due()
    ids = list(Delivery.objects.filter(send=send).order_by("pk").values_list("pk", flat=True))
    Batch.objects.filter(send=send).delete()  # a batch of a release before Batch rows said how far it got

    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:  # the old release's claim of the first two readers
            cursor.execute("UPDATE delivery_delivery SET status = 'claimed' WHERE id = ANY(%s)", [ids[:2]])
    finally:
        migrate(AFTER)

    assert list(Delivery.objects.filter(send=send).values_list("status", flat=True).distinct()) == [
        DeliveryStatus.QUEUED
    ]
    batch = Batch.objects.get(send=send, number=0)
    # No status said whether the call had begun: it counts as begun, so they are never sent twice.
    assert (batch.status, batch.claimed_upto) == (BatchStatus.POSTING, ids[1])

    with django_capture_on_commit_callbacks(execute=True):
        pipeline.send_batch_process(send_id=send.pk, batch=0)  # the batch's task, delivered again
    statuses = dict(Delivery.objects.filter(send=send).values_list("pk", "status"))
    assert statuses == {ids[0]: DeliveryStatus.UNCERTAIN, ids[1]: DeliveryStatus.UNCERTAIN, ids[2]: DeliveryStatus.SENT}
