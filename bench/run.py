"""Delivery benchmark: one issue of the reference shape to N readers, end to end.

    python -m bench.run [--sizes 10000,100000] [--naive-sample 1000] [--workers 2] [--repeat 1]

Through PostgreSQL (a throwaway database, newsroom_bench, dropped and migrated
here), Redis (db 9 unless BENCH_REDIS_URL says otherwise), real Celery worker
processes and anymail's Mailgun backend against the fake provider
(testing/fakeprovider.py) in its own process on 127.0.0.1. See docs/benchmarks.md.

The machine may be shared: beside wall-clock seconds the table gives the naive
path's rate measured just before each send (so the ratio compares like with
like) and the CPU seconds the workers and the fake provider spent, which do not
depend on what else runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.floor import measure_floor

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/newsroom_bench")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SENDER_DOMAIN = "mg.newsroom.test"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
    from testing.workers import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "testing.fakeprovider", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def database_cpu_seconds() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the bench database (the server runs on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [row[0] for row in cursor.fetchall()]
    seconds = {}
    for pid in pids:
        try:
            seconds[pid] = cpu_seconds(pid)
        except OSError:  # gone, or not readable
            continue
    return seconds


@dataclass
class Row:
    n: int
    seconds: float
    first_seconds: float
    snapshot_seconds: float
    start_seconds: float
    plain_insert_seconds: float  # one INSERT … SELECT of the same audience, the statement alone
    plain_checked_seconds: float  # the same with its commit (its foreign-key checks run then)
    start_alone_seconds: float  # start_due_sends of the same audience with no worker running
    worker_rss_mb: list[float]
    worker_cpu_seconds: float
    provider_cpu_seconds: float
    database_cpu_seconds: float
    naive_rate: float
    provider_recipients: int
    duplicates: int
    sent: int
    floor_rate: float = 0.0  # bench.floor: the same batches to the same provider, no database, no queue
    load: float = field(default_factory=lambda: os.getloadavg()[0])

    @property
    def rate(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.naive_rate if self.naive_rate else 0.0

    @property
    def of_floor(self) -> float:
        return self.rate / self.floor_rate if self.floor_rate else 0.0

    @property
    def start_ratio(self) -> float:
        """The whole start (no worker running) against one plain INSERT … SELECT of the same audience, committed."""
        return self.start_alone_seconds / self.plain_checked_seconds if self.plain_checked_seconds else 0.0


def fresh_audience(n: int, name: str) -> Any:
    from django.db import connection

    from testing.audience import readers_create
    from testing.factories import MailingListFactory

    mailing_list = MailingListFactory.create(name=f"Bench {name}", slug=f"bench-{name}")
    readers_create(count=n, mailing_list=mailing_list, prefix=f"{name}-r")
    with connection.cursor() as cursor:  # as autovacuum would, given the time a real list takes to grow
        cursor.execute("ANALYZE subscribers_subscriber, subscribers_subscriber_lists")
    return mailing_list


def approved_issue() -> Any:
    from issues.models import IssueStatus
    from testing.factories import make_full_issue

    return make_full_issue(status=IssueStatus.APPROVED)


def new_editor() -> Any:
    from testing.factories import make_editor

    return make_editor(username=f"bench-{uuid.uuid4().hex[:8]}")


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


def start_due_sends_here() -> tuple[float, float]:
    """Run the beat task in this process (no wait for the next poll).

    Returns (seconds of the whole task, seconds of the audience snapshot in it, all its chunks);
    the rest is moving the issue and send along and enqueueing the batch tasks."""
    from delivery import pipeline
    from testing.workers import run_task_here

    timed: list[float] = []
    names = ("snapshot_chunk", "snapshot_materialise", "snapshot_copy")
    originals = {name: getattr(pipeline, name) for name in names}

    def timing(real: Any) -> Any:
        def timed_call(**kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return real(**kwargs)
            finally:
                timed.append(time.perf_counter() - started)

        return timed_call

    for name, real in originals.items():
        setattr(pipeline, name, timing(real))
    try:
        started = time.perf_counter()
        run_task_here("delivery.start_due_sends")
        return time.perf_counter() - started, sum(timed)
    finally:
        for name, real in originals.items():
            setattr(pipeline, name, real)


def forget_deliveries() -> None:
    """Empty the Delivery and Batch tables (the benchmark's floors leave rows there) and the queue."""
    from django.db import connection

    from newsroom.celery import app

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE delivery_event, delivery_batch, delivery_delivery CASCADE")
        cursor.execute("ANALYZE delivery_delivery")
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")


def measure_plain_insert(send: Any) -> tuple[float, float]:
    """One plain ``INSERT … SELECT`` of the send's whole audience into the Delivery table, as the
    floor of the snapshot: (seconds of the statement, seconds with its commit, which runs the
    foreign-key checks any way of storing the rows runs). The rows are then removed."""
    from django.db import connection, transaction

    from delivery import pipeline
    from delivery.models import DeliveryStatus

    sql, params = pipeline.snapshot_audience(send)
    insert = (
        f"INSERT INTO delivery_delivery ({pipeline.INSERT_COLUMNS}) "  # noqa: S608
        "SELECT %s, a.id, a.email, %s, (row_number() OVER (ORDER BY a.id) - 1) / %s, 0, '', '', '' "
        f"FROM ({sql}) a"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(insert, [send.pk, DeliveryStatus.QUEUED, int(os.environ["NEWSROOM_BATCH_SIZE"]), *params])
        statement = time.perf_counter() - started
    committed = time.perf_counter() - started
    forget_deliveries()
    return statement, committed


def measure_start_alone(mailing_list: Any, editor: Any) -> tuple[tuple[float, float], float]:
    """Seconds of start_due_sends for the same audience with no worker sending (nothing else
    competes for the two cores), on a send of its own that is then cancelled and its rows removed;
    first the plain INSERT … SELECT of the same audience (measure_plain_insert)."""
    from delivery.models import Send, SendStatus

    send = create_send(approved_issue(), mailing_list, editor)
    plain = measure_plain_insert(send)
    start, _ = start_due_sends_here()
    forget_deliveries()
    Send.objects.filter(pk=send.pk).update(status=SendStatus.CANCELLED)
    return plain, start


def wait_for_send(send_id: int, n: int, provider: Any, timeout: float) -> None:
    from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
    from testing.workers import wait_until

    def finished() -> bool:
        status = Send.objects.values_list("status", flat=True).get(pk=send_id)
        if status in (SendStatus.DONE, SendStatus.FAILED, SendStatus.CANCELLED):
            return True
        pending = Delivery.objects.filter(
            send_id=send_id, status__in=[DeliveryStatus.QUEUED, DeliveryStatus.CLAIMED]
        ).exists()
        return provider.stats()["recipients"] >= n and not pending

    wait_until(finished, timeout=timeout, interval=0.25, what=f"send {send_id} to finish")


def measure_send(
    n: int,
    *,
    workers_count: int,
    provider: Any,
    provider_pid: int,
    naive_sample: int,
    log_dir: Path,
    concurrency: int = 1,
) -> Row:
    from delivery.models import Delivery, DeliveryStatus
    from testing.workers import Workers, peak_rss_mb, wait_until, worker_env

    naive_rate = measure_naive(naive_sample)
    clear_data()
    mailing_list = fresh_audience(n, f"n{n}")
    issue = approved_issue()
    editor = new_editor()
    provider.reset()
    workers = Workers(
        worker_env(provider_url=provider.url, redis_url=BENCH_REDIS_URL, db_url=BENCH_DATABASE_URL),
        log_dir,
        concurrency=concurrency,
    )
    # Before the workers start (nothing runs beat here), the snapshot's floor and the start alone.
    plain, start_alone = measure_start_alone(mailing_list, editor)
    workers.start(workers_count)
    try:
        # "ready." can come before the pool process is forked
        wait_until(lambda: all(workers.pool_pids(name) for name in workers.procs), timeout=30, what="pools")
        pids = [proc.pid for proc in workers.procs.values()]
        pids += [pid for name in workers.procs for pid in workers.pool_pids(name)]
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        provider_before = cpu_seconds(provider_pid)
        database_before = database_cpu_seconds()
        send = create_send(issue, mailing_list, editor)
        t0 = time.time()
        start, snapshot = start_due_sends_here()
        wait_for_send(send.pk, n, provider, timeout=max(120.0, n / 200))
        stats = provider.stats()
        worker_cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        provider_cpu = cpu_seconds(provider_pid) - provider_before
        database_cpu = sum(s - database_before.get(pid, 0.0) for pid, s in database_cpu_seconds().items())
        rss = [peak_rss_mb(pid) for name in workers.procs for pid in workers.pool_pids(name)]
    finally:
        workers.stop()
    sent = Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count()
    floor = measure_floor(send, workers=workers_count, provider=provider)
    if floor.accepted != n:
        raise RuntimeError(f"the floor run posted {floor.accepted:,} readers of {n:,}")
    return Row(
        n=n,
        seconds=(stats["last_accept_at"] or t0) - t0,
        first_seconds=(stats["first_accept_at"] or t0) - t0,
        snapshot_seconds=snapshot,
        start_seconds=start,
        plain_insert_seconds=plain[0],
        plain_checked_seconds=plain[1],
        start_alone_seconds=start_alone,
        worker_rss_mb=rss,
        worker_cpu_seconds=worker_cpu,
        provider_cpu_seconds=provider_cpu,
        database_cpu_seconds=database_cpu,
        naive_rate=naive_rate,
        provider_recipients=stats["recipients"],
        duplicates=stats["duplicates"],
        sent=sent,
        floor_rate=floor.rate,
    )


def measure_queries_per_batch(batch_size: int) -> tuple[int, int]:
    """Queries of one batch task run in this process: (queries, recipients in the batch).

    The send has three batches; the middle one is measured, as most batches of a
    large send are: the first also renders the issue, the last also finishes the send."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from delivery.models import Delivery
    from newsroom.celery import app
    from testing.workers import run_task_here

    clear_data()
    mailing_list = fresh_audience(3 * batch_size, "qpb")
    send = create_send(approved_issue(), mailing_list, new_editor())
    start_due_sends_here()
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")  # no worker runs; this process sends the batches
    run_task_here("delivery.send_batch", send.pk, 0)
    with CaptureQueriesContext(connection) as queries:
        run_task_here("delivery.send_batch", send.pk, 1)
    run_task_here("delivery.send_batch", send.pk, 2)
    return len(queries), Delivery.objects.filter(send=send, batch=1).count()


def measure_naive(sample: int) -> float:
    """Readers per second sending one EmailMessage per reader, links made per reader."""
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


def print_table(rows: list[Row], queries: tuple[int, int]) -> None:
    print()
    print(
        "| readers | send now → first / last acceptance (s) | readers/s | naive readers/s | x naive "
        "| floor readers/s | of the floor "
        "| snapshot statements (s) | start_due_sends (s) | one INSERT … SELECT: statement / committed (s) "
        "| start_due_sends, no worker running (s) | that / the INSERT committed "
        "| CPU ms / 1,000 readers: workers, PostgreSQL, provider "
        "| worker peak RSS (MB) | sent | provider recipients | duplicates | load |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|")
    for r in rows:
        rss = ", ".join(f"{m:.0f}" for m in r.worker_rss_mb)
        print(
            f"| {r.n:,} | {r.first_seconds:.2f} / {r.seconds:.2f} "
            f"| {r.rate:,.0f} | {r.naive_rate:,.0f} | {r.ratio:.1f}x | {r.floor_rate:,.0f} | {100 * r.of_floor:.0f}% "
            f"| {r.snapshot_seconds:.2f} | {r.start_seconds:.2f} "
            f"| {r.plain_insert_seconds:.2f} / {r.plain_checked_seconds:.2f} | {r.start_alone_seconds:.2f} "
            f"| {r.start_ratio:.2f}x "
            f"| {per_thousand(r)} "
            f"| {rss} | {r.sent:,} | {r.provider_recipients:,} | {r.duplicates} | {r.load:.1f} |"
        )
    print()
    if queries[1]:
        print(f"queries per batch: {queries[0]} for a batch of {queries[1]:,} readers (a middle batch of a send)")
    print_targets(rows)


def per_thousand(r: Row) -> str:
    cpu = (r.worker_cpu_seconds, r.database_cpu_seconds, r.provider_cpu_seconds)
    return ", ".join(f"{1e6 * seconds / r.n:,.0f}" for seconds in cpu)


def print_targets(rows: list[Row]) -> None:
    """The issue's targets against the median of the repeated runs of each size."""
    by_size: dict[int, list[Row]] = {}
    for r in rows:
        by_size.setdefault(r.n, []).append(r)

    def median(n: int, value: Any) -> float:
        return statistics.median(value(r) for r in by_size[n])

    big = max(by_size) if by_size else 0
    small = min(by_size) if by_size else 0
    if not big:
        return
    print(f"targets (median of {len(by_size[big])} run(s) of {big:,} readers):")
    seconds = median(big, lambda r: r.seconds)
    print(f"- {big:,} readers in {seconds:.1f} s (target ≤ {10 * big / 100_000:.0f} s for this size at 10,000/s)")
    print(f"- {median(big, lambda r: r.ratio):.1f}x the naive path (target ≥ 25x)")
    for n in sorted(by_size):
        print(
            f"- {100 * median(n, lambda r: r.of_floor):.0f}% of the floor at {n:,} readers"
            f" ({median(n, lambda r: r.floor_rate):,.0f} readers/s: bench.floor, the same batches, no database"
            " or queue, as many processes as workers; target ≥ 60% at 100,000 with 2 workers)"
        )
    snapshot, start = median(big, lambda r: r.snapshot_seconds), median(big, lambda r: r.start_seconds)
    print(
        f"- snapshot of {big:,} readers: its statements {snapshot:.2f} s, whole start_due_sends (statements, commits"
        f" with their foreign-key checks, enqueueing) {start:.2f} s (target < 3 s at 100,000)"
    )
    plain, checked = median(big, lambda r: r.plain_insert_seconds), median(big, lambda r: r.plain_checked_seconds)
    alone = median(big, lambda r: r.start_alone_seconds)
    print(
        f"- whole start of {big:,} with no worker running: {alone:.2f} s, {alone / checked:.2f}x one plain"
        f" INSERT … SELECT of the same audience committed ({checked:.2f} s; target ≤ 1.3x; {alone / plain:.2f}x"
        f" its statement alone, {plain:.2f} s); while the workers send: {start:.2f} s ({start / checked:.2f}x)"
    )
    if small != big:
        ratio = seconds / median(small, lambda r: r.seconds)
        scale = big / small
        print(
            f"- the send of {big:,} took {ratio:.2f}x the send of {small:,} (target ≤ {1.05 * scale:.1f}x:"
            f" 10.5x for 10 times the readers)"
        )
    peak_big = median(big, lambda r: max(r.worker_rss_mb or [0]))
    print(f"- worker peak RSS {peak_big:.0f} MB at {big:,} (target < 200 MB)")
    if small != big:
        peak_small = median(small, lambda r: max(r.worker_rss_mb or [0]))
        growth = 100 * (peak_big - peak_small) / peak_small if peak_small else 0.0
        print(f"- {growth:+.1f}% peak RSS from {small:,} to {big:,} readers (target ≤ +10%)")


def main() -> None:
    parser = argparse.ArgumentParser(description="Newsroom delivery benchmark")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated audience sizes")
    parser.add_argument("--naive-sample", type=int, default=1000, help="readers sent the naive way before each send")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per worker (prefork)")
    parser.add_argument("--batch-size", type=int, default=1000, help="NEWSROOM_BATCH_SIZE (Mailgun's limit: 1000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each size")
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
    from testing.workers import wait_until

    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    call_command("migrate", verbosity=0)
    provider = FakeProviderClient(provider_url)
    wait_until(lambda: _provider_up(provider), timeout=15, what="the fake provider")
    log_dir = Path(tempfile.mkdtemp(prefix="newsroom-bench-logs-"))
    try:
        queries = measure_queries_per_batch(args.batch_size) if sizes else (0, 0)
        if not sizes:  # --sizes "" measures only the naive path
            print(f"naive path: {measure_naive(args.naive_sample):,.0f} readers/s")
        rows = []
        for _ in range(args.repeat):
            for n in sizes:
                print(f"sending to {n:,} readers …", flush=True)
                rows.append(
                    measure_send(
                        n,
                        workers_count=args.workers,
                        concurrency=args.concurrency,
                        provider=provider,
                        provider_pid=provider_proc.pid,
                        naive_sample=args.naive_sample,
                        log_dir=log_dir,
                    )
                )
        print_table(rows, queries)
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
