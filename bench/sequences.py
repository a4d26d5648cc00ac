"""Sequence benchmark: find and send the due steps of N readers, against an issue send of the
same audience in the same run.

    python -m bench.sequences [--sizes 100000] [--workers 2] [--batch-size 1000]

Same set-up as bench.run (a throwaway PostgreSQL database, Redis, real worker processes,
anymail's Mailgun backend against the fake provider). For each size, in one run on the
same workers: an issue sent to N readers (send now → last acceptance), then N readers
whose sequence step is due (seeded runs, one bulk INSERT) sent by one poll
(automations.send_due_steps, run here) → last acceptance. The ratio is sequence
seconds / issue seconds, with the load average at the end of each measurement."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.run import (
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


def seed_due_runs(mailing_list: Any) -> Any:
    """A one-step sequence on the list and an active run, due now, for each reader."""
    from django.db import connection
    from django.utils import timezone

    from automations.models import DelayUnit, Run, Sequence, Step
    from automations.services import step_versions_sync

    Sequence.objects.filter(replaces_welcome=True).delete()
    sequence = Sequence.objects.create(name=f"Bench {mailing_list.slug}", trigger_list=mailing_list)
    step = Step.objects.create(
        sequence=sequence, subject="Welcome aboard", body="<p>Hello and welcome.</p>", delay_unit=DelayUnit.MINUTES
    )
    step_versions_sync(sequence=sequence)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Run._meta.db_table} (sequence_id, subscriber_id, current_step_id, next_due_at, status, "  # noqa: S608
            "exit_reason, entered_at) SELECT %s, subscriber_id, %s, %s, 'active', '', %s "
            "FROM subscribers_subscriber_lists WHERE mailinglist_id = %s",
            [sequence.pk, step.pk, now, now, mailing_list.pk],
        )
        cursor.execute(f"ANALYZE {Run._meta.db_table}")
    return sequence


def wait_for_steps(n: int, provider: Any, timeout: float) -> None:
    from automations.models import StepDelivery
    from delivery.models import DeliveryStatus
    from testing.workers import wait_until

    def finished() -> bool:
        open_rows = StepDelivery.objects.filter(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED]).exists()
        return provider.stats()["recipients"] >= n and not open_rows

    wait_until(finished, timeout=timeout, interval=0.25, what="the steps to be sent")


def measure(n: int, provider: Any) -> dict[str, float]:
    from automations import pipeline
    from automations.models import StepDelivery
    from delivery.models import DeliveryStatus

    clear_data()
    mailing_list = fresh_audience(n, f"issue{n}")
    send = create_send(approved_issue(), mailing_list, new_editor())
    provider.reset()
    t0 = time.time()
    start_due_sends_here()
    wait_for_send(send.pk, n, provider, timeout=max(120.0, n / 200))
    issue_seconds = (provider.stats()["last_accept_at"] or t0) - t0
    issue_load = os.getloadavg()[0]

    clear_data()
    mailing_list = fresh_audience(n, f"seq{n}")
    seed_due_runs(mailing_list)
    provider.reset()
    t0 = time.time()
    started = time.perf_counter()
    pipeline.steps_send_due()
    poll_seconds = time.perf_counter() - started
    wait_for_steps(n, provider, timeout=max(120.0, n / 200))
    stats = provider.stats()
    return {
        "issue": issue_seconds,
        "issue_load": issue_load,
        "sequence": (stats["last_accept_at"] or t0) - t0,
        "poll": poll_seconds,
        "load": os.getloadavg()[0],
        "sent": StepDelivery.objects.filter(status=DeliveryStatus.SENT).count(),
        "duplicates": stats["duplicates"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Newsroom sequence benchmark")
    parser.add_argument("--sizes", default="100000", help="comma-separated audience sizes")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (one pool process each)")
    parser.add_argument("--batch-size", type=int, default=1000, help="NEWSROOM_BATCH_SIZE")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    provider_proc, provider_url = start_provider()
    configure(provider_url)
    os.environ["NEWSROOM_BATCH_SIZE"] = str(args.batch_size)
    recreate_database()
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from testing.fakeprovider import FakeProviderClient
    from testing.workers import Workers, wait_until, worker_env

    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    call_command("migrate", verbosity=0)
    provider = FakeProviderClient(provider_url)
    wait_until(lambda: _provider_up(provider), timeout=15, what="the fake provider")
    log_dir = Path(tempfile.mkdtemp(prefix="newsroom-bench-seq-"))
    env = worker_env(provider_url=provider_url, redis_url=BENCH_REDIS_URL, db_url=os.environ["DATABASE_URL"])
    workers = Workers(env, log_dir).start(args.workers)
    rows = []
    try:
        for n in sizes:
            print(f"issue and sequence step to {n:,} readers …", flush=True)
            rows.append((n, measure(n, provider)))
    finally:
        workers.stop()
        provider_proc.terminate()
        provider_proc.wait(timeout=10)
    print()
    print(
        "| readers | issue send (s) | due steps: find + send (s) | of which the poll (s) | ratio sequence / issue "
        "| sent | duplicates | load (issue, sequence) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for n, r in rows:
        ratio = r["sequence"] / r["issue"] if r["issue"] else 0.0
        print(
            f"| {n:,} | {r['issue']:.1f} | {r['sequence']:.1f} | {r['poll']:.1f} | {ratio:.2f} "
            f"| {r['sent']:,} | {r['duplicates']} | {r['issue_load']:.1f}, {r['load']:.1f} |"
        )
    print(f"worker logs: {log_dir}")


if __name__ == "__main__":
    main()
