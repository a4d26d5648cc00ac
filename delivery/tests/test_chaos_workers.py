"""Several real worker processes on one Send, and a worker killed in the middle of it."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.models import Delivery, DeliveryStatus, SendStatus
from testing.fakeprovider import FakeProviderClient
from testing.workers import (
    delivery_counts,
    kick_due_sends,
    provider_settles,
    send_to_new_list,
    wait_for_send_end,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_two_workers_send_every_reader_exactly_once(worker_processes: Any, fake_provider: FakeProviderClient) -> None:
    send = send_to_new_list(3000)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="100")

    kick_due_sends()
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert status == SendStatus.DONE
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 3000}
    assert (stats["recipients"], stats["unique_recipients"], stats["duplicates"]) == (3000, 3000, 0)
    assert stats["messages"] == 30  # one provider call per batch of 100
    # Both processes took part: each wrote its hostname into its log as it ran batches.
    assert all("delivery.send_batch" in workers.procs[name].log_text() for name in ("w1", "w2"))


def test_a_worker_killed_mid_send_sends_no_one_twice_and_loses_no_one(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    readers, batch_size = 20_000, 500
    send = send_to_new_list(readers)
    # Every answer comes a little after the provider accepted the batch, so a
    # kill is likely to land in the window between acceptance and the commit.
    fake_provider.set_mode(slow_seconds=0.3, requests=10**6)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE=str(batch_size))
    kick_due_sends()

    def just_accepted_after(count: int) -> bool:
        return bool(fake_provider.stats()["messages"] > count)

    wait_until(lambda: just_accepted_after(4), timeout=60, interval=0.02, what="a few batches to be accepted")
    killed = [workers.kill_pool_child("w1"), workers.kill_pool_child("w2")]
    assert len(set(killed)) == 2
    workers.restart("w1")
    status = wait_for_send_end(send.pk, timeout=150, workers=workers)

    stats = fake_provider.stats()
    counts = delivery_counts(send.pk)
    assert status == SendStatus.DONE
    assert stats["duplicates"] == 0, stats["duplicate_addresses"]
    assert counts.get(DeliveryStatus.SENT, 0) + counts.get(DeliveryStatus.UNCERTAIN, 0) == readers, counts
    # at most one batch per killed process is left uncertain
    assert counts.get(DeliveryStatus.UNCERTAIN, 0) <= 3 * batch_size
    accepted = set(fake_provider.accepted())
    sent = set(Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).values_list("email", flat=True))
    assert sent <= accepted  # a row marked sent was really accepted by the provider


def test_two_workers_on_postmark_send_every_reader_exactly_once(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    send = send_to_new_list(600)
    postmark = {
        "ANYMAIL_PROVIDER": "postmark",
        "ANYMAIL_API_KEY": "pm-test",
        "ANYMAIL_API_URL": fake_provider.url,
        "NEWSROOM_BATCH_SIZE": "100",
    }
    workers = worker_processes(count=2, **postmark)

    kick_due_sends()
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert status == SendStatus.DONE
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 600}
    # Postmark takes each reader's own message, a batch of them in one request (/email/batch): 6 of 100.
    assert (stats["requests"], stats["unique_recipients"], stats["duplicates"]) == (6, 600, 0)
    ids = Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True)
    assert len(set(ids)) == 600
    assert all("delivery.send_batch" in workers.procs[name].log_text() for name in ("w1", "w2"))


def test_workers_killed_outright_mid_send_are_recovered_a_grace_later_and_only_posting_batches_are_uncertain(
    worker_processes: Any, fake_provider: FakeProviderClient, settings: Any
) -> None:
    """Both worker machines die at once (SIGKILL of the worker and its pool): the batches they
    held stay unacknowledged in Redis for the visibility timeout (an hour). Recovery, at its
    latest run after the fault, enqueues them again; a batch that had not begun its provider
    call is sent, only one that had is uncertain."""
    from datetime import timedelta

    from django.utils import timezone

    from delivery import pipeline
    from delivery.models import Batch, BatchStatus

    readers, batch_size = 10_000, 500
    send = send_to_new_list(readers)
    fake_provider.set_mode(slow_seconds=0.3, requests=10**6)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE=str(batch_size))
    kick_due_sends()
    wait_until(lambda: fake_provider.stats()["messages"] >= 3, timeout=60, what="a few batches to be accepted")

    workers.kill("w1")
    workers.kill("w2")
    fault_at = timezone.now()
    dead = dict(
        Batch.objects.filter(send=send, status__in=[BatchStatus.CLAIMED, BatchStatus.POSTING]).values_list(
            "number", "status"
        )
    )
    workers.restart("w1")
    # The restarted worker sends what is still in the queue. The batches the dead workers
    # held, started or only reserved (those are still "queued"), are waiting for recovery:
    # wait until the provider hears nothing more.
    provider_settles(fake_provider, seconds=3.0)

    latest_run = fault_at + timedelta(seconds=1.5 * settings.SEND_RECOVERY_GRACE_SECONDS)
    pipeline.sends_recover_stalled(now=latest_run)
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert status == SendStatus.DONE
    assert stats["duplicates"] == 0, stats["duplicate_addresses"]
    uncertain = set(Delivery.objects.filter(send=send, status=DeliveryStatus.UNCERTAIN).values_list("batch", flat=True))
    assert uncertain <= {n for n, s in dead.items() if s == BatchStatus.POSTING}  # never one that had not posted
    counts = delivery_counts(send.pk)
    assert counts.get(DeliveryStatus.SENT, 0) + counts.get(DeliveryStatus.UNCERTAIN, 0) == readers, counts
    sent = set(Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).values_list("email", flat=True))
    assert sent <= set(fake_provider.accepted())
