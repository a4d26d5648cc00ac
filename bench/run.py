"""Delivery benchmark: one issue of the reference shape to N readers, end to end.

    python -m bench.run [--sizes 10000,100000] [--naive-sample 1000] [--workers 2]

Through PostgreSQL (a throwaway database, newsroom_bench, dropped and migrated
here), Redis (db 9 unless BENCH_REDIS_URL says otherwise), real Celery worker
processes and anymail's Mailgun backend against the fake provider
(bench/fakeprovider.py) in its own process on 127.0.0.1. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsroom_bench")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SENDER_DOMAIN = "mg.newsroom.test"


def configure(provider_url: str) -> None:
    """Settings for this process, before Django starts: the same as the workers get."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "newsroom.settings",
            "DATABASE_URL": BENCH_DATABASE_URL,
            "REDIS_URL": BENCH_REDIS_URL,
            "CACHE_URL": "locmem",
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + uuid.uuid4().hex * 2,
            "SECURE_SSL_REDIRECT": "0",
            "ANYMAIL_PROVIDER": "mailgun",
            "ANYMAIL_API_KEY": "key-fake",
            "ANYMAIL_SENDER_DOMAIN": SENDER_DOMAIN,
            "ANYMAIL_API_URL": provider_url + "/v3",
            "DEFAULT_FROM_EMAIL": f"The Newsroom Daily <news@{SENDER_DOMAIN}>",
            "NEWSROOM_VAR_DIR": tempfile.mkdtemp(prefix="newsroom-bench-"),
        }
    )


def recreate_database() -> None:
    import psycopg

    name = BENCH_DATABASE_URL.rsplit("/", 1)[1]
    admin_url = BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_provider() -> tuple[subprocess.Popen[bytes], str]:
    from newsroom.testing.workers import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fakeprovider", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


@dataclass
class Row:
    n: int
    seconds: float
    snapshot_seconds: float
    worker_rss_mb: list[float]
    provider_recipients: int
    duplicates: int
    sent: int

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0


def fresh_audience(n: int, name: str) -> Any:
    from bench.audience import readers_create
    from newsroom.testing.factories import MailingListFactory

    mailing_list = MailingListFactory.create(name=f"Bench {name}", slug=f"bench-{name}")
    readers_create(count=n, mailing_list=mailing_list, prefix=f"{name}-r")
    return mailing_list


def approved_issue() -> Any:
    from issues.models import IssueStatus
    from newsroom.testing.factories import make_full_issue

    return make_full_issue(status=IssueStatus.APPROVED)


def clear_data() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE delivery_event, delivery_delivery, delivery_send_lists, delivery_send, "
            "subscribers_subscriber_lists, subscribers_consent, subscribers_subscriber CASCADE"
        )


def create_send(issue: Any, mailing_list: Any, editor: Any) -> Any:
    from django.utils import timezone

    from delivery.services import send_create

    return send_create(issue=issue, lists=[mailing_list], segment=None, at=timezone.now(), acting_user=editor)


def start_due_sends_here() -> float:
    """Run the beat task in this process (no wait for the next poll); returns its seconds.

    It snapshots the audience into Delivery rows and enqueues the batch tasks,
    so its duration is the snapshot time plus enqueueing."""
    from newsroom.testing.workers import run_task_here

    started = time.perf_counter()
    run_task_here("delivery.start_due_sends")
    return time.perf_counter() - started


def wait_for_send(send_id: int, n: int, provider: Any, timeout: float) -> None:
    from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
    from newsroom.testing.workers import wait_until

    def finished() -> bool:
        status = Send.objects.values_list("status", flat=True).get(pk=send_id)
        if status in (SendStatus.DONE, SendStatus.FAILED, SendStatus.CANCELLED):
            return True
        pending = Delivery.objects.filter(
            send_id=send_id, status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED]
        ).exists()
        return provider.stats()["recipients"] >= n and not pending

    wait_until(finished, timeout=timeout, interval=0.25, what=f"send {send_id} to finish")


def measure_send(n: int, *, workers_count: int, provider: Any, log_dir: Path) -> Row:
    from delivery.models import Delivery, DeliveryStatus
    from newsroom.testing.factories import make_editor
    from newsroom.testing.workers import Workers, peak_rss_mb, worker_env

    clear_data()
    mailing_list = fresh_audience(n, f"n{n}")
    issue = approved_issue()
    editor = make_editor(username=f"bench{n}")
    provider.reset()
    workers = Workers(
        worker_env(provider_url=provider.url, redis_url=BENCH_REDIS_URL, db_url=BENCH_DATABASE_URL), log_dir
    )
    workers.start(workers_count)
    try:
        t0 = time.time()
        send = create_send(issue, mailing_list, editor)
        snapshot = start_due_sends_here()
        wait_for_send(send.pk, n, provider, timeout=max(120.0, n / 200))
        stats = provider.stats()
        rss = [peak_rss_mb(pid) for name in workers.procs for pid in workers.pool_pids(name)]
    finally:
        workers.stop()
    sent = Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count()
    return Row(
        n=n,
        seconds=(stats["last_accept_at"] or t0) - t0,
        snapshot_seconds=snapshot,
        worker_rss_mb=rss,
        provider_recipients=stats["recipients"],
        duplicates=stats["duplicates"],
        sent=sent,
    )


def measure_queries_per_batch(batch_size: int) -> tuple[int, int]:
    """Queries of one batch task run in this process: (queries, recipients in the batch)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from delivery.models import Delivery
    from newsroom.celery import app
    from newsroom.testing.factories import make_editor
    from newsroom.testing.workers import run_task_here

    clear_data()
    mailing_list = fresh_audience(batch_size, "qpb")
    send = create_send(approved_issue(), mailing_list, make_editor(username="benchq"))
    start_due_sends_here()
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")  # no worker runs; this process sends the batch
    batch = Delivery.objects.filter(send=send).order_by("batch").values_list("batch", flat=True).first()
    assert batch is not None, "the snapshot made no Delivery rows"
    with CaptureQueriesContext(connection) as queries:
        run_task_here("delivery.send_batch", send.pk, batch)
    return len(queries), Delivery.objects.filter(send=send, batch=batch).count()


def measure_naive(sample: int) -> float:
    """Readers per second sending one EmailMessage per reader, links rendered per reader."""
    from django.core.mail import EmailMultiAlternatives, get_connection

    from issues.rendering import MERGE_KEYS, mailgun_tag, render_email
    from subscribers.links import links_for
    from subscribers.models import Subscriber

    clear_data()
    fresh_audience(sample, "naive")
    issue = approved_issue()
    rendered = render_email(issue)
    readers = list(Subscriber.objects.values_list("pk", "email", "name"))
    connection = get_connection()
    started = time.perf_counter()
    connection.open()
    for pk, email, name in readers:
        values = {**links_for(subscriber_id=pk, email=email), "name": name, "web_url": issue.get_absolute_url()}
        html, text = rendered.html, rendered.text
        for key in MERGE_KEYS:
            html = html.replace(mailgun_tag(key), str(values.get(key, "")))
            text = text.replace(mailgun_tag(key), str(values.get(key, "")))
        message = EmailMultiAlternatives(rendered.subject, text, to=[email], connection=connection)
        message.attach_alternative(html, "text/html")
        message.send()
    connection.close()
    return len(readers) / (time.perf_counter() - started)


def print_table(rows: list[Row], naive_rate: float, queries: tuple[int, int]) -> None:
    print()
    print("| readers | send now → last acceptance (s) | readers/s | x naive | snapshot+enqueue (s) |", end="")
    print(" worker peak RSS (MB) | sent | provider recipients | duplicates |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        rss = ", ".join(f"{m:.0f}" for m in r.worker_rss_mb)
        ratio = r.rate / naive_rate if naive_rate else 0.0
        print(
            f"| {r.n:,} | {r.seconds:.2f} | {r.rate:,.0f} | {ratio:.1f}x | {r.snapshot_seconds:.2f} | {rss} |"
            f" {r.sent:,} | {r.provider_recipients:,} | {r.duplicates} |"
        )
    print()
    print(f"naive path (one EmailMessage per reader, same Mailgun backend): {naive_rate:,.0f} readers/s")
    if queries[1]:
        print(f"queries per batch: {queries[0]} for a batch of {queries[1]:,} readers")


def main() -> None:
    parser = argparse.ArgumentParser(description="Newsroom delivery benchmark")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated audience sizes")
    parser.add_argument("--naive-sample", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000, help="NEWSROOM_BATCH_SIZE (Mailgun's limit: 1000)")
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

    from bench.fakeprovider import FakeProviderClient
    from newsroom.testing.workers import wait_until

    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    call_command("migrate", verbosity=0)
    provider = FakeProviderClient(provider_url)
    wait_until(lambda: _provider_up(provider), timeout=15, what="the fake provider")
    log_dir = Path(tempfile.mkdtemp(prefix="newsroom-bench-logs-"))
    try:
        # --sizes "" measures only the naive path (it needs no delivery code)
        queries = measure_queries_per_batch(args.batch_size) if sizes else (0, 0)
        naive_rate = measure_naive(args.naive_sample)
        rows = []
        for n in sizes:
            print(f"sending to {n:,} readers …", flush=True)
            rows.append(measure_send(n, workers_count=args.workers, provider=provider, log_dir=log_dir))
        print_table(rows, naive_rate, queries)
        print(f"worker logs: {log_dir}")
    finally:
        provider_proc.terminate()
        provider_proc.wait(timeout=10)


def _provider_up(provider: Any) -> bool:
    try:
        provider.stats()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
