"""Each provider added for batching (SendGrid, SparkPost, Mailjet, Unisender Go, Resend,
Mandrill, MailerSend, Postal, Scaleway, Mailtrap), end to end on real worker processes: two
workers configured from the environment as an operator would, PostgreSQL, Redis, and the fake
provider answering that provider's API. Postmark and Mailgun have theirs in test_chaos_workers.py."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.models import Delivery, DeliveryStatus, SendStatus
from testing.fakeprovider import FakeProviderClient
from testing.workers import delivery_counts, kick_due_sends, send_to_new_list, wait_for_send_end

pytestmark = pytest.mark.integration

READERS = 300
BATCH = 100

# provider: (the path under the fake provider's URL its API is reached at, extra settings, calls for 300 readers)
PROVIDERS: dict[str, tuple[str, dict[str, str], int]] = {
    "sendgrid": ("v3/", {}, 3),  # one call per batch, merged by the provider
    "sparkpost": ("api/v1/", {}, 3),
    # Mailjet takes 50 messages a call (a larger batch size stops start-up): batches of 50, a call each.
    "mailjet": ("v3.1/", {"ANYMAIL_SECRET_KEY": "mj-secret", "NEWSROOM_BATCH_SIZE": "50"}, READERS // 50),
    "unisender_go": ("en/transactional/api/v1/", {}, 3),
    "resend": ("", {}, READERS // 100),  # each reader's message, 100 in one call
    "mandrill": ("api/1.0/", {}, READERS),  # one message per reader (no per-reader headers)
    "mailersend": ("v1/", {}, READERS),
    "postal": ("", {}, READERS),
    "scaleway": (
        "transactional-email/v1alpha1/regions/{region}/",
        {"ANYMAIL_PROJECT_ID": "00000000-0000-4000-8000-000000000000"},
        READERS,
    ),
    "mailtrap": ("api/", {}, READERS),
}


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_two_workers_on_the_provider_send_every_reader_exactly_once(
    name: str, worker_processes: Any, fake_provider: FakeProviderClient
) -> None:
    path, extra, calls = PROVIDERS[name]
    send = send_to_new_list(READERS)
    workers = worker_processes(
        count=2,
        ANYMAIL_PROVIDER=name,
        ANYMAIL_API_KEY="test-key",
        ANYMAIL_API_URL=fake_provider.url.rstrip("/") + "/" + path,
        **{"NEWSROOM_BATCH_SIZE": str(BATCH), **extra},
    )

    kick_due_sends()
    status = wait_for_send_end(send.pk, timeout=120, workers=workers)

    stats = fake_provider.stats()
    assert status == SendStatus.DONE
    assert delivery_counts(send.pk) == {DeliveryStatus.SENT: READERS}
    assert (stats["unique_recipients"], stats["duplicates"]) == (READERS, 0)
    assert stats["requests"] == calls
    ids = Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True)
    assert "" not in set(ids)  # every reader's row holds the provider's answer for it
