"""Recovery benchmark: how long after a fault a send finishes, against the same send without one.

    python -m bench.chaos [--readers 20000] [--workers 2] [--batch-size 1000]

The same set-up as bench.run (a throwaway PostgreSQL database, Redis, real worker
processes, Mailgun's backend against the fake provider), with Celery beat running
so that recover_stalled_sends runs at its normal period (every half
SEND_RECOVERY_GRACE_SECONDS). Three sends of the same audience size:

- fault-free: send now → last acceptance;
- lost queue: once a quarter of the readers are accepted, the Redis queue is
  purged, as a Redis restart without persistence loses it;
- workers killed: at the same point both workers are SIGKILLed with their pools
  (their held batches stay unacknowledged for the visibility timeout) and one is
  started again.

For each fault it prints fault → last acceptance in seconds and as a ratio to the
fault-free send time, with the load average; the target is the send finishing
within two minutes of the fault on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import run


def _purge_queue(workers: Any) -> None:
    from newsroom.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")


def _kill_workers(workers: Any) -> None:
    from delivery.models import Batch, BatchStatus
    from testing.workers import wait_until

    in_flight = Batch.objects.filter(status__in=[BatchStatus.CLAIMED, BatchStatus.POSTING])
    # Killed while holding batches, whose messages then wait for the visibility timeout.
    wait_until(in_flight.exists, timeout=60, interval=0.01, what="a batch being sent")
    for name in [n for n in workers.procs if n.startswith("w")]:
        workers.kill(name)
    print(f"  killed holding batches {sorted(in_flight.values_list('number', flat=True))}", flush=True)
    workers.restart("w1")


def measure(n: int, *, workers_count: int, provider: Any, log_dir: Path, fault: Callable[[Any], None] | None) -> float:
    """Seconds from the fault (or from send now, without one) to the provider's last acceptance."""
    from testing.workers import Workers, wait_until, worker_env

    run.clear_data()
    mailing_list = run.fresh_audience(n, f"c{n}")
    issue, editor = run.approved_issue(), run.new_editor()
    provider.reset()
    env = worker_env(provider_url=provider.url, redis_url=run.BENCH_REDIS_URL, db_url=run.BENCH_DATABASE_URL)
    workers = Workers(env, log_dir).start(workers_count, beat=True)
    try:
        pools = [name for name in workers.procs if name != "beat"]
        wait_until(lambda: all(workers.pool_pids(name) for name in pools), timeout=30, what="pools")
        started = time.time()
        send = run.create_send(issue, mailing_list, editor)
        run.start_due_sends_here()
        if fault is not None:
            wait_until(lambda: provider.stats()["recipients"] >= n // 4, timeout=120, interval=0.05, what="a quarter")
            fault(workers)
            started = time.time()
        run.wait_for_send(send.pk, n, provider, timeout=600)
        stats = provider.stats()
    finally:
        workers.stop()
    assert stats["duplicates"] == 0, "a reader got the issue twice"
    return float(stats["last_accept_at"] or started) - started


def main() -> None:
    parser = argparse.ArgumentParser(description="Newsroom recovery benchmark")
    parser.add_argument("--readers", type=int, default=20_000, help="audience size of each send")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (one pool process each)")
    parser.add_argument("--batch-size", type=int, default=1000, help="NEWSROOM_BATCH_SIZE")
    args = parser.parse_args()

    provider_proc, provider_url = run.start_provider()
    run.configure(provider_url)
    os.environ["NEWSROOM_BATCH_SIZE"] = str(args.batch_size)
    run.recreate_database()

    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command

    from testing.fakeprovider import FakeProviderClient
    from testing.workers import wait_until

    redis.Redis.from_url(run.BENCH_REDIS_URL).flushdb()
    call_command("migrate", verbosity=0)
    provider = FakeProviderClient(provider_url)
    # Each batch is a little slow at the provider, so that the send is still going at the fault.
    wait_until(lambda: run._provider_up(provider), timeout=15, what="the fake provider")
    log_dir = Path(tempfile.mkdtemp(prefix="newsroom-chaos-logs-"))
    try:
        results = {}
        for name, fault in (("fault-free", None), ("lost queue", _purge_queue), ("workers killed", _kill_workers)):
            print(f"{name}: sending to {args.readers:,} readers …", flush=True)
            provider.set_mode(slow_seconds=0.05, requests=10**7)
            results[name] = (
                measure(args.readers, workers_count=args.workers, provider=provider, log_dir=log_dir, fault=fault),
                os.getloadavg()[0],
            )
        base = results["fault-free"][0]
        print(f"\nrecovery grace {settings.SEND_RECOVERY_GRACE_SECONDS} s, {args.readers:,} readers")
        print("| run | seconds (from send now, or from the fault) | x fault-free send | load |")
        print("|---|---:|---:|---:|")
        for name, (seconds, load) in results.items():
            print(f"| {name} | {seconds:.1f} | {seconds / base if base else 0:.1f}x | {load:.1f} |")
        print(f"worker logs: {log_dir}")
    finally:
        provider_proc.terminate()
        provider_proc.wait(timeout=10)


if __name__ == "__main__":
    main()
