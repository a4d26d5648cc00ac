"""The shared rate limit across real worker processes, counted by the fake provider's clock."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.models import DeliveryStatus, SendStatus
from testing.fakeprovider import FakeProviderClient
from testing.workers import delivery_counts, kick_due_sends, send_to_new_list, wait_for_send_end

pytestmark = pytest.mark.integration

CAP, BATCH, READERS = 50, 10, 300


def busiest_second(accepts: list[tuple[float, int]]) -> int:
    """The most recipients the provider accepted in any one-second window (starting at an acceptance)."""
    times = sorted(accepts)
    return max(sum(n for t, n in times if start <= t < start + 1.0) for start, _ in times)


def test_three_workers_share_one_budget(worker_processes: Any, fake_provider: FakeProviderClient) -> None:
    send = send_to_new_list(READERS)
    workers = worker_processes(count=3, NEWSROOM_BATCH_SIZE=str(BATCH), SEND_RATE_PER_SECOND=str(CAP))

    kick_due_sends()
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert status == SendStatus.DONE
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: READERS}
    assert (stats["unique_recipients"], stats["duplicates"]) == (READERS, 0)
    # Three processes sending at once, and never more than the cap plus one batch in a second.
    assert busiest_second(stats["accepts"]) <= CAP + BATCH
    # The first batch goes at once; each later one waits for its share of the budget.
    first, last = stats["accepts"][0][0], stats["accepts"][-1][0]
    assert last - first >= (READERS - BATCH) / CAP * 0.95
    assert all("delivery.send_batch" in workers.procs[name].log_text() for name in ("w1", "w2", "w3"))
