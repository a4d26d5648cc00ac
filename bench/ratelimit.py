"""Pacing and tracking benchmark.

    python -m bench.ratelimit [--workers 4] [--caps 2000:20000:500,50:500:10] [--tracking-readers 2000]

1. **The shared rate limit.** For each ``cap:readers:batch``, one send through real
   worker processes (Mailgun's API on the fake provider) with SEND_RATE_PER_SECOND=cap.
   From the provider's own acceptance times: the most recipients accepted in any
   one-second window (target: at most the cap plus one batch) and the whole send's
   time against the cap's time, readers / cap (target: within 5%).
2. **First-party tracking's CPU per reader.** In this process, the same issue's
   batches are built (recipients with their merge values, the one batch message)
   for the same readers with and without first-party click tracking; the ratio of
   CPU seconds is the cost of the tracking rewrite (target: small, since links
   are rewritten once per send and per reader only tokens are signed).

Like bench.run: a throwaway PostgreSQL database, Redis db 9, the load average beside
each figure (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run import (
    BENCH_DATABASE_URL,
    BENCH_REDIS_URL,
    _provider_up,
    approved_issue,
    clear_data,
    configure,
    create_send,
    fresh_audience,
    new_editor,
    recreate_database,
    start_due_sends_here,
    start_provider,
    wait_for_send,
)


@dataclass
class PaceRow:
    cap: int
    readers: int
    batch: int
    busiest_second: int
    seconds: float
    load: float

    @property
    def cap_seconds(self) -> float:
        return self.readers / self.cap

    @property
    def ratio(self) -> float:
        return self.seconds / self.cap_seconds


def busiest_second(accepts: list[tuple[float, int]]) -> int:
    """The most recipients accepted in a one-second window starting at any acceptance."""
    times = sorted(accepts)
    best, end, inside = 0, 0, 0
    for start_index, (start, _) in enumerate(times):
        while end < len(times) and times[end][0] < start + 1.0:
            inside += times[end][1]
            end += 1
        best = max(best, inside)
        inside -= times[start_index][1]
    return best


def measure_pace(cap: int, readers: int, batch: int, *, workers_count: int, provider: Any, log_dir: Path) -> PaceRow:
    import redis
    from django.conf import settings

    from testing.workers import Workers, wait_until, worker_env

    clear_data()
    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    mailing_list = fresh_audience(readers, f"cap{cap}")
    provider.reset()
    env = worker_env(provider_url=provider.url, redis_url=BENCH_REDIS_URL, db_url=BENCH_DATABASE_URL)
    env.update({"SEND_RATE_PER_SECOND": str(cap), "NEWSROOM_BATCH_SIZE": str(batch)})
    workers = Workers(env, log_dir)
    workers.start(workers_count)
    try:
        wait_until(lambda: all(workers.pool_pids(name) for name in workers.procs), timeout=30, what="pools")
        # The snapshot runs here: it numbers the batches with the workers' batch size.
        settings.SEND_RATE_PER_SECOND, settings.NEWSROOM_BATCH_SIZE = cap, batch
        send = create_send(approved_issue(), mailing_list, new_editor())
        start_due_sends_here()
        wait_for_send(send.pk, readers, provider, timeout=max(120.0, 3 * readers / cap))
        stats = provider.stats()
    finally:
        workers.stop()
    accepts = [(float(t), int(n)) for t, n in stats["accepts"]]
    return PaceRow(
        cap=cap,
        readers=readers,
        batch=batch,
        busiest_second=busiest_second(accepts),
        seconds=accepts[-1][0] - accepts[0][0] if accepts else 0.0,
        load=os.getloadavg()[0],
    )


def tracking_cpu(readers: int, batch: int) -> tuple[float, float, float]:
    """CPU seconds to build every batch of one send untracked and tracked, and the load average."""
    from django.core.cache import cache
    from django.utils import timezone

    from delivery import recipients
    from delivery.claims import Row
    from delivery.models import Delivery, Send
    from delivery.providers import strategy_for
    from delivery.recipients import common_headers, common_metadata

    clear_data()
    mailing_list = fresh_audience(readers, "track")
    issue = approved_issue()
    strategy = strategy_for("mailgun")
    timings = []
    for tracked in (False, True):
        send = Send.objects.create(
            issue=issue, scheduled_at=timezone.now(), status="sending", track_clicks=tracked, track_opens=tracked
        )
        Delivery.objects.bulk_create(
            [
                Delivery(send=send, subscriber_id=pk, email=email, batch=n // batch)
                for n, (pk, email) in enumerate(mailing_list.subscribers.values_list("pk", "email"))
            ]
        )
        rows = [
            Row(d.pk, d.subscriber_id, d.email, "Reader")
            for d in Delivery.objects.filter(send=send).order_by("pk").only("pk", "subscriber_id", "email")
        ]
        cache.clear()
        recipients.rendered_for(send, strategy.merge_tag)  # once per send, not per reader
        started = time.process_time()
        for at in range(0, len(rows), batch):
            rendered = recipients.rendered_for(send, strategy.merge_tag)
            readers_of_batch = recipients.recipients_for(send, rows[at : at + batch], strategy)
            strategy.build_batch(
                rendered, readers_of_batch, key="bench", headers=common_headers(), metadata=common_metadata(send.pk)
            )
        timings.append(time.process_time() - started)
    return timings[0], timings[1], os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description="Newsroom pacing and tracking benchmark")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--caps", default="2000:20000:500,50:500:10", help="cap:readers:batch, comma-separated")
    parser.add_argument("--tracking-readers", type=int, default=2000)
    args = parser.parse_args()
    runs = [tuple(int(x) for x in spec.split(":")) for spec in args.caps.split(",") if spec.strip()]

    provider_proc, provider_url = start_provider()
    configure(provider_url)
    recreate_database()

    import django

    django.setup()
    from django.core.management import call_command

    from testing.fakeprovider import FakeProviderClient
    from testing.workers import wait_until

    call_command("migrate", verbosity=0)
    provider = FakeProviderClient(provider_url)
    wait_until(lambda: _provider_up(provider), timeout=15, what="the fake provider")
    log_dir = Path(tempfile.mkdtemp(prefix="newsroom-bench-pace-"))
    try:
        untracked, tracked, load = tracking_cpu(args.tracking_readers, 1000)
        rows = []
        for cap, readers, batch in runs:
            print(f"sending {readers:,} readers at a cap of {cap:,}/s …", flush=True)
            rows.append(
                measure_pace(cap, readers, batch, workers_count=args.workers, provider=provider, log_dir=log_dir)
            )
    finally:
        provider_proc.terminate()
        provider_proc.wait(timeout=10)
    print()
    print(
        "| cap/s | readers | batch | workers | busiest 1 s window | cap + one batch | send (s) | cap's time (s) "
        "| ratio | load |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.cap:,} | {r.readers:,} | {r.batch} | {args.workers} | {r.busiest_second:,} | {r.cap + r.batch:,} "
            f"| {r.seconds:.2f} | {r.cap_seconds:.2f} | {r.ratio:.3f} | {r.load:.1f} |"
        )
    for r in rows:
        within = r.busiest_second <= r.cap + r.batch
        close = abs(r.ratio - 1) <= 0.05
        print(
            f"- cap {r.cap:,}/s: busiest second {r.busiest_second:,} ≤ {r.cap + r.batch:,}: "
            f"{'yes' if within else 'NO'}; "
            f"send {r.ratio:.3f}x the cap's time (target within 5%): {'yes' if close else 'NO'}"
        )
    per_reader = 1e6 / args.tracking_readers
    print(
        f"- tracking rewrite: {tracked * per_reader:,.1f} µs CPU per reader tracked vs {untracked * per_reader:,.1f} "
        f"untracked ({tracked / untracked if untracked else 0:.2f}x, load {load:.1f}), building batches of 1,000"
    )


if __name__ == "__main__":
    main()
