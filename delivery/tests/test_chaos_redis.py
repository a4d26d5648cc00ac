"""Redis, the broker, goes away and comes back in the middle of a send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from delivery.models import DeliveryStatus, SendStatus
from testing.fakeprovider import FakeProviderClient
from testing.workers import (
    RedisServer,
    delivery_counts,
    send_status,
    send_to_new_list,
    wait_for_send_end,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone: the shared one is never restarted."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def test_the_send_completes_when_redis_restarts_mid_send(
    worker_processes: Any, fake_provider: FakeProviderClient, private_redis: RedisServer
) -> None:
    readers = 5000
    send = send_to_new_list(readers)
    fake_provider.set_mode(slow_seconds=0.1, requests=10**6)
    # beat starts the send: it and the workers only know the private Redis
    workers = worker_processes(count=2, beat=True, redis_url=private_redis.url, NEWSROOM_BATCH_SIZE="100")
    wait_until(lambda: fake_provider.stats()["recipients"] >= 1000, timeout=60, what="the send to get going")

    private_redis.restart(down_seconds=2)
    status = wait_for_send_end(send.pk, timeout=150, workers=workers)

    stats = fake_provider.stats()
    counts = delivery_counts(send.pk)
    assert status == SendStatus.DONE
    assert stats["duplicates"] == 0, stats["duplicate_addresses"]
    assert counts.get(DeliveryStatus.SENT, 0) + counts.get(DeliveryStatus.UNCERTAIN, 0) == readers, counts
    assert stats["unique_recipients"] >= counts.get(DeliveryStatus.SENT, 0)
    assert all(proc.alive() for proc in workers.procs.values())


def test_a_queue_lost_mid_send_is_sent_once_recovery_runs_a_grace_after_the_fault(
    worker_processes: Any, fake_provider: FakeProviderClient, settings: Any
) -> None:
    """Redis restarted without persistence: every queued batch task is gone. Recovery, at its
    latest run after the fault (1.5 grace: it runs every half grace), enqueues them again."""
    from datetime import timedelta

    from django.utils import timezone

    from delivery import pipeline
    from delivery.models import Batch, BatchStatus
    from newsroom.celery import app
    from testing.workers import kick_due_sends

    readers = 3000
    send = send_to_new_list(readers)
    fake_provider.set_mode(slow_seconds=0.2, requests=10**6)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="100")
    kick_due_sends()
    wait_until(lambda: fake_provider.stats()["recipients"] >= 500, timeout=60, what="the send to get going")

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
    fault_at = timezone.now()
    in_flight = [BatchStatus.CLAIMED, BatchStatus.POSTING]
    wait_until(
        lambda: not Batch.objects.filter(send=send, status__in=in_flight).exists(),
        timeout=60,
        what="the batches being sent at the fault to finish",
    )
    assert Batch.objects.filter(send=send, status=BatchStatus.QUEUED).exists()  # their tasks are lost
    assert send_status(send.pk) == SendStatus.SENDING

    latest_run = fault_at + timedelta(seconds=1.5 * settings.SEND_RECOVERY_GRACE_SECONDS)
    assert pipeline.sends_recover_stalled(now=latest_run) == 1
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert status == SendStatus.DONE
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: readers}
    assert (stats["unique_recipients"], stats["duplicates"]) == (readers, 0)
