"""The send path's floor: the same batches posted to the same fake provider, no database, no queue.

    python -m bench.floor [--sizes 100000] [--workers 2]      (bench.run with its floor column)

After each send, bench.run calls ``measure_floor`` on the send it just measured. Before the
clock starts it reads what the workers would read from the database and the cache: the send's
rows by batch (Delivery id, subscriber id, address, name), the issue rendered once for the
provider, its custom-field tags and its tracked links. Then, clock running, ``workers``
processes split the batches as the Celery workers do and, for each, build the same readers'
merge values and links (``delivery.recipients.reader_values``), the same recipients with
their tokens, List-Unsubscribe and Message-ID (``recipients_from``), the same batch key, and
post the same request through the same anymail backend (``delivery.posting.send_in_one_call``)
to the same fake provider. What Newsroom does beyond this (claiming and recording the rows,
the batch lock, the budget, the task queue, the snapshot) is what the fraction measures.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Floor:
    readers: int
    seconds: float  # from the fork of the first process to the provider's last acceptance
    accepted: int  # readers the posts returned as sent

    @property
    def rate(self) -> float:
        return self.readers / self.seconds if self.seconds else 0.0


def batches_of(send: Any) -> dict[int, list[Any]]:
    """The send's rows by batch number, as delivery.claims.batch_claim returns them (set-up, not timed)."""
    from delivery.claims import NAME_FALLBACK, Row
    from delivery.models import Delivery

    batches: dict[int, list[Any]] = {}
    rows = Delivery.objects.filter(send=send).order_by("batch", "pk")
    for pk, batch, subscriber_id, email, name in rows.values_list(
        "pk", "batch", "subscriber_id", "email", "subscriber__name"
    ).iterator(chunk_size=10_000):
        batches.setdefault(batch, []).append(Row(pk, subscriber_id, email, name or NAME_FALLBACK))
    return batches


def _post_batches(send: Any, context: dict[str, Any], batches: list[list[Any]], numbers: list[int], out: Any) -> None:
    """One floor worker: build and post its batches; puts how many readers the provider took."""
    from delivery import posting
    from delivery.recipients import reader_values, recipients_from
    from subscribers.links import ReaderLinks

    strategy, rendered = context["strategy"], context["rendered"]
    accepted = 0
    for number, rows in zip(numbers, batches, strict=True):
        values = reader_values(rows, links=ReaderLinks(), tags=context["tags"], attributes={})
        readers = recipients_from(send, rows, values, links=context["links"], domain=context["domain"])
        key = posting.batch_key(send.pk, number, readers)
        results = posting.send_in_one_call(strategy, rendered, readers, send_id=send.pk, key=key)
        accepted += len(results.sent)
    out.put(accepted)


def measure_floor(send: Any, *, workers: int, provider: Any) -> Floor:
    """Post the send's batches again the floor's way; the provider is reset first."""
    from django.db import connections

    from core.mail import sender_domain
    from delivery import recipients
    from delivery.models import TrackedLink
    from delivery.providers import provider_check
    from subscribers.models import CustomField

    strategy = provider_check()
    by_batch = batches_of(send)
    context = {
        "strategy": strategy,
        "rendered": recipients.rendered_for(send, strategy.merge_tag),
        "tags": recipients.field_tags_for(send, strategy.merge_tag) if CustomField.objects.exists() else {},
        "links": TrackedLink.objects.filter(send_id=send.pk).count() if send.track_clicks else 0,
        "domain": sender_domain(),
    }
    readers = sum(len(rows) for rows in by_batch.values())
    numbers = sorted(by_batch)
    connections.close_all()  # the forked processes use no database
    provider.reset()
    fork = multiprocessing.get_context("fork")
    out = fork.Queue()
    shares = [numbers[i::workers] for i in range(workers)]
    procs = [
        fork.Process(target=_post_batches, args=(send, context, [by_batch[n] for n in share], share, out))
        for share in shares
    ]
    t0 = time.time()
    for proc in procs:
        proc.start()
    accepted = sum(out.get() for _ in procs)
    for proc in procs:
        proc.join()
    stats = provider.stats()
    return Floor(readers=readers, seconds=(stats["last_accept_at"] or t0) - t0, accepted=accepted)


if __name__ == "__main__":
    from bench import run

    if not any(arg.startswith("--sizes") for arg in sys.argv[1:]):
        sys.argv[1:1] = ["--sizes", "100000"]
    run.main()
