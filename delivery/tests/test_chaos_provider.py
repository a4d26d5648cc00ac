"""The provider fails: an outage, a rejected batch, an answer that never comes."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.models import Delivery, DeliveryStatus, SendStatus
from testing.audience import reader_address
from testing.fakeprovider import FakeProviderClient
from testing.workers import delivery_counts, kick_due_sends, send_to_new_list, wait_for_send_end

pytestmark = pytest.mark.integration

QUICK_RETRIES = {"SEND_RETRY_BACKOFF_SECONDS": "1", "SEND_MAX_RETRIES": "8"}


def test_an_outage_then_recovery_loses_no_one_and_doubles_no_one(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    send = send_to_new_list(2000)
    # The next 6 requests fail, however long the workers take to start on a busy machine.
    fake_provider.set_mode(status=503, requests=6)
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="200", **QUICK_RETRIES)

    kick_due_sends()
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert stats["failed_requests"] == {"503": 6}  # the outage was felt
    assert status == SendStatus.DONE
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 2000}
    assert (stats["unique_recipients"], stats["duplicates"]) == (2000, 0)


def test_a_rejected_batch_fails_with_the_providers_reason_and_the_rest_is_sent(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    send = send_to_new_list(1000)
    bad = reader_address(777)
    fake_provider.set_mode(reject_address=bad, message=f"to parameter is not a valid address: {bad}")
    workers = worker_processes(count=2, NEWSROOM_BATCH_SIZE="100", **QUICK_RETRIES)

    kick_due_sends()
    wait_for_send_end(send.pk, timeout=120, workers=workers)

    failed = Delivery.objects.filter(send=send, status=DeliveryStatus.FAILED)
    assert failed.count() == 100
    assert bad in set(failed.values_list("email", flat=True))
    assert all(f"not a valid address: {bad}" in error for error in failed.values_list("error", flat=True))
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 900, DeliveryStatus.FAILED: 100}
    accepted = set(fake_provider.accepted())
    assert len(accepted) == 900
    assert accepted.isdisjoint(failed.values_list("email", flat=True))
    assert fake_provider.stats()["failed_requests"] == {"400": 1}  # a 400 is not retried


def test_no_answer_after_the_provider_accepted_leaves_the_batch_uncertain_and_unsent_twice(
    worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    send = send_to_new_list(500)
    fake_provider.set_mode(slow_seconds=6, requests=1)
    workers = worker_processes(count=1, NEWSROOM_BATCH_SIZE="100", ANYMAIL_REQUESTS_TIMEOUT="2", **QUICK_RETRIES)

    kick_due_sends()
    wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: 400, DeliveryStatus.UNCERTAIN: 100}
    assert (stats["unique_recipients"], stats["duplicates"]) == (500, 0)
