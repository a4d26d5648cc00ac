"""A cancel that arrives while a worker is claiming a batch: the claim is written on the Batch
row, whose lock the cancel takes before it skips queued rows, so the cancel waits for the claim
and leaves the readers being sent queued for their answer (and the issue sent), never skipping
readers the provider is about to get."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from delivery import claims, pipeline, services
from delivery.models import Batch, Delivery, DeliveryStatus, Send, SendStatus
from issues.models import Issue, IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_a_cancel_during_a_claim_waits_for_it_and_skips_only_the_rest(
    django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks between two connections need PostgreSQL")
    daily = MailingListFactory.create(name="Daily")
    for _ in range(4):
        SubscriberFactory.create(lists=[daily])
    editor = make_editor()
    send = services.send_create(
        issue=make_full_issue(status=IssueStatus.APPROVED), lists=[daily], segment=None, at=None, acting_user=editor
    )
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.sends_start_due()  # stored and sending; its batch task never runs
    assert Send.objects.get(pk=send.pk).status == SendStatus.SENDING

    locked, go_on = threading.Event(), threading.Event()
    settle = claims._settle_left_claimed
    pids: dict[str, int] = {}
    taken: list[claims.Row] = []

    def paused_settle(*args: Any) -> None:  # the claim holds its batch's lock here
        settle(*args)
        locked.set()
        assert go_on.wait(timeout=30)

    monkeypatch.setattr(claims, "_settle_left_claimed", paused_settle)

    def claim() -> None:
        try:
            taken.extend(claims.batch_claim(send_id=send.pk, batch=0, limit=3))
        finally:
            connection.close()

    def cancel() -> None:
        try:
            connection.ensure_connection()
            pids["cancel"] = connection.connection.info.backend_pid
            services.send_cancel(send=Send.objects.get(pk=send.pk), acting_user=editor)
        finally:
            connection.close()

    claimer, canceller = threading.Thread(target=claim), threading.Thread(target=cancel)
    claimer.start()
    assert locked.wait(timeout=30)
    canceller.start()
    deadline = time.monotonic() + 30
    while not ("cancel" in pids and waiting_on_a_lock(pids["cancel"])):  # the cancel waits for the claim
        assert time.monotonic() < deadline, "the cancel did not wait for the claim's lock"
        time.sleep(0.02)
    go_on.set()
    claimer.join(timeout=30)
    canceller.join(timeout=30)

    assert len(taken) == 3  # the claim saw the send still sending
    statuses = dict(Delivery.objects.filter(send=send).values_list("pk", "status"))
    assert sorted(statuses.values()) == [DeliveryStatus.QUEUED] * 3 + [DeliveryStatus.SKIPPED]
    assert {pk for pk, status in statuses.items() if status == DeliveryStatus.QUEUED} == {r.delivery_id for r in taken}
    assert Batch.objects.filter(claims.IN_FLIGHT, send=send).exists()
    # Readers may be getting it: the issue is sent, never approved to be sent again.
    assert Issue.objects.get(pk=send.issue_id).status == IssueStatus.SENT
    assert Send.objects.get(pk=send.pk).status == SendStatus.CANCELLED
