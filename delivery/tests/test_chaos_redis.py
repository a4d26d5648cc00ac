"""Redis, the broker, goes away and comes back in the middle of a send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from delivery.models import DeliveryStatus, SendStatus
from testing.fakeprovider import FakeProviderClient
from testing.workers import RedisServer, delivery_counts, send_to_new_list, wait_for_send_end, wait_until

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
