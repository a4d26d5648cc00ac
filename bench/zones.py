"""The snapshot of a send at each reader's local time against the ordinary snapshot, same audience.

    python -m bench.zones [--readers 100000] [--rounds 3]

On a throwaway PostgreSQL database (newsroom_bench_zones; BENCH_ZONES_DATABASE_URL
overrides the server), N readers in one list, a third with no zone, a third in New
York, a third in Tokyo. Each round stores the audience of an ordinary send
(pipeline.snapshot_next, chunk by chunk) and of a send at 00:00 in each reader's zone
(delivery.zones.snapshot_by_zone, every zone already due, so both enqueue every
batch; the tasks are not sent), interleaved so the machine's load falls on both
alike; it prints the median of each, their ratio and the load average."""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from typing import Any

DATABASE_URL = os.environ.get("BENCH_ZONES_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _configure() -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="newsroom.settings",
        DATABASE_URL=DATABASE_URL,
        TEST_DATABASE_NAME="newsroom_bench_zones",
        CACHE_URL="locmem",
        REDIS_URL="",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        ANYMAIL_PROVIDER="outbox",
    )
    os.environ.setdefault("SECRET_KEY", "bench-zones-" + "x" * 50)


def _seed(readers: int) -> Any:
    from subscribers.models import Subscriber
    from testing.audience import readers_create
    from testing.factories import MailingListFactory

    daily = MailingListFactory.create(name="Daily")
    readers_create(count=readers, mailing_list=daily)
    from django.db.models import F, Value
    from django.db.models.functions import Mod

    rows = Subscriber.objects.annotate(k=Mod(F("id"), Value(3)))
    rows.filter(k=1).update(time_zone="America/New_York")
    rows.filter(k=2).update(time_zone="Asia/Tokyo")
    return daily


def _send(daily: Any, *, local: bool) -> Any:
    from django.utils import timezone

    from delivery.models import Send, SendStatus
    from issues.models import IssueStatus
    from testing.factories import make_full_issue

    today = timezone.now().date()
    send = Send.objects.create(
        issue=make_full_issue(status=IssueStatus.APPROVED),
        scheduled_at=timezone.now(),
        status=SendStatus.SNAPSHOTTING,
        started_at=timezone.now(),
        local_date=today if local else None,
        local_time=datetime.time(0, 0) if local else None,
    )
    send.lists.set([daily])
    return send


def _time_plain(daily: Any) -> float:
    from delivery import pipeline

    send = _send(daily, local=False)
    began = time.perf_counter()
    chunk = pipeline.FIRST_CHUNK_BATCHES
    while pipeline.snapshot_next(send.pk, chunk):
        chunk = min(max(pipeline.CHUNK_BATCHES, 2 * chunk), pipeline.MAX_CHUNK_BATCHES)
    took = time.perf_counter() - began
    send.delete()
    return took


def _time_zoned(daily: Any) -> float:
    from delivery import pipeline, zones

    send = _send(daily, local=True)
    began = time.perf_counter()
    zones.snapshot_by_zone(send_id=send.pk, enqueue=pipeline.enqueue_batches)
    took = time.perf_counter() - began
    assert send.deliveries.count() == send.lists.get().subscribers.count()
    send.delete()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=int(os.environ.get("BENCH_ZONES_READERS", "100000")))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _configure()
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from delivery import tasks

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    tasks.send_batch.delay = lambda *_args, **_kwargs: None  # type: ignore[method-assign,assignment]
    try:
        daily = _seed(args.readers)
        plain, zoned = [], []
        for _ in range(args.rounds):
            plain.append(_time_plain(daily))
            zoned.append(_time_zoned(daily))
        p, z = statistics.median(plain), statistics.median(zoned)
        print(
            f"Snapshot of {args.readers:,} readers in 3 zones: ordinary {p:.2f} s, by zone {z:.2f} s, "
            f"ratio {z / p:.2f} (median of {args.rounds}); load average {os.getloadavg()}"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
