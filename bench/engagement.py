"""The segment form's live count with engagement rules, at scale.

    python -m bench.engagement [--readers 100000] [--sends 10] [--rounds 7]
    BENCH_ENGAGEMENT_READERS=1000000 make bench     # the issue's size: a million readers, ~12 million events

On a throwaway PostgreSQL database (newsroom_bench_engagement, or
BENCH_ENGAGEMENT_DATABASE_NAME; BENCH_ENGAGEMENT_DATABASE_URL overrides the
server), seeded set-based with generate_series: N readers, ``--sends`` sends
over the last month (reader r gets send s when s >= r % 3, so 8 to 10 each), a
delivered event per delivery; a fifth of the readers never open, the others
open a quarter of their sends and click one in twenty (on one of 20 links);
one delivery in ten is opened by Apple's proxy. Then the
readers' engagement fields are worked out with ``engagement_recount`` (timed),
and VACUUM ANALYZE runs, as autovacuum would have by the time an editor counts.

Every reader is on one list with the sunset policy on (after 3 sends), and the
policy's candidate query (automations.sunset) is timed like a rule.

For each rule it takes the median time of the live count (both of its
figures: matching readers, and those a send would reach now) against the
median of a plain ``COUNT(*)`` of active readers (and of the live count with
no rule at all, which is two counts, as the form shows two figures), interleaved in the same run
so that the machine's load falls on both alike, and prints the ratio with the
load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

DATABASE_URL = os.environ.get("BENCH_ENGAGEMENT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# The sends went out every third day over the last month, so that "in N days" rules split the readers.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
LINKS = 20


def _configure() -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="newsroom.settings",
        DATABASE_URL=DATABASE_URL,
        TEST_DATABASE_NAME=os.environ.get("BENCH_ENGAGEMENT_DATABASE_NAME", "newsroom_bench_engagement"),
        CACHE_URL="locmem",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        ANYMAIL_PROVIDER="outbox",
    )
    os.environ.setdefault("SECRET_KEY", "bench-engagement-" + "x" * 50)


def _seed(readers: int, sends: int) -> list[Any]:
    """Readers, sends, deliveries and events, each table in one INSERT ... SELECT."""
    from django.db import connection

    from delivery.engagement import engagement_recount
    from delivery.models import Send, SendStatus
    from issues.models import IssueStatus
    from subscribers.models import MailingList
    from testing.factories import IssueFactory

    issues = [IssueFactory.create(status=IssueStatus.SENT, title=f"Issue {n}") for n in range(sends)]
    made = [
        Send.objects.create(issue=issue, status=SendStatus.DONE, scheduled_at=at, started_at=at, total=readers)
        for n, issue in enumerate(issues)
        for at in [START + timedelta(days=3 * n)]
    ]
    first_send = made[0].pk
    # Every reader is on one list with the sunset policy on, so that its candidate query is timed too.
    daily = MailingList.objects.create(
        name="Daily", slug="daily", sunset_enabled=True, sunset_after_sends=3, sunset_grace_days=14
    )
    for send in made:
        send.lists.add(daily)
    with (
        connection.cursor() as cursor,
        _bulk_load(
            cursor, ["subscribers_subscriber", "delivery_delivery", "delivery_event", "subscribers_subscriber_lists"]
        ),
    ):
        cursor.execute(
            """
            INSERT INTO subscribers_subscriber (email, name, status, source, created_at, soft_bounces, received_count,
                attributes)
            SELECT 'reader' || n || '@example.org', '', CASE WHEN n %% 10 = 9 THEN 'unsubscribed' ELSE 'active' END,
                'form', %(start)s, 0, 0, '{}'
            FROM generate_series(1, %(readers)s) AS n
            """,
            {"start": START, "readers": readers},
        )
        cursor.execute(
            """
            INSERT INTO delivery_delivery (send_id, subscriber_id, email, status, batch, attempts,
                provider_message_id, provider_status, error, sent_at, delivered_at, opened_at, clicked_at,
                machine_opened_at)
            SELECT s.id, r.id, r.email, 'sent', 0, 1, '', '', '', s.started_at, s.started_at,
                CASE WHEN (r.id + s.id) %% 4 = 0 AND r.id %% 5 <> 0 THEN s.started_at + interval '1 hour' END,
                CASE WHEN (r.id + s.id) %% 20 = 0 AND r.id %% 5 <> 0 THEN s.started_at + interval '1 hour' END,
                CASE WHEN (r.id + s.id) %% 10 = 1 THEN s.started_at END
            FROM subscribers_subscriber r CROSS JOIN delivery_send s
            WHERE s.id - %(first)s >= r.id %% 3
            """,
            {"start": START, "first": first_send},
        )
        cursor.execute(
            """
            INSERT INTO delivery_event (dedupe_key, delivery_id, send_id, event_type, at, received_at, recipient,
                message_id, esp_event_id, esp_name, url, reject_reason, description, user_agent, machine, raw,
                uncounted)
            SELECT d.id || ':' || k.kind, d.id, d.send_id, k.kind,
                CASE k.kind WHEN 'delivered' THEN d.delivered_at WHEN 'machine' THEN d.machine_opened_at
                    WHEN 'opened' THEN d.opened_at ELSE d.clicked_at END,
                %(start)s, d.email, '', '', 'bench',
                CASE WHEN k.kind = 'clicked' THEN 'https://example.org/story-' || (d.subscriber_id / 20 %% %(links)s)
                    ELSE '' END,
                '', '', '', CASE WHEN k.kind = 'machine' THEN 'apple_mpp' ELSE '' END, '{}', ''
            FROM delivery_delivery d
            JOIN (VALUES ('delivered'), ('opened'), ('clicked'), ('machine')) AS k(kind)
              ON k.kind = 'delivered'
              OR (k.kind = 'opened' AND d.opened_at IS NOT NULL)
              OR (k.kind = 'clicked' AND d.clicked_at IS NOT NULL)
              OR (k.kind = 'machine' AND d.machine_opened_at IS NOT NULL)
            """,
            {"start": START, "links": LINKS},
        )
        # The machine opens are stored as opens (the kind was only a way to make their rows).
        cursor.execute("UPDATE delivery_event SET event_type = 'opened' WHERE machine <> ''")
        cursor.execute(
            "INSERT INTO subscribers_subscriber_lists (subscriber_id, mailinglist_id) "
            "SELECT id, %s FROM subscribers_subscriber",
            [daily.pk],
        )
    began = time.perf_counter()
    engagement_recount()
    print(f"engagement_recount (every reader's fields from deliveries and events): {time.perf_counter() - began:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return made


@contextmanager
def _bulk_load(cursor: Any, tables: list[str]) -> Iterator[None]:
    """Load as a restore does: no foreign-key triggers, indexes built once at the end, not row by row.

    The indexes and constraints are the migrations' own, read from the catalogue and put back as they were.
    """
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = ANY(%s) AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' ||
            quote_ident(i.indexname))::regclass)
        """,
        [tables],
    )
    indexes = cursor.fetchall()
    cursor.execute("SET synchronous_commit = off")
    cursor.execute("SET session_replication_role = replica")
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)


def _median(rounds: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if index:  # the first round warms the caches
                timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=int(os.environ.get("BENCH_ENGAGEMENT_READERS", "100000")))
    parser.add_argument("--sends", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    _configure()
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    # The test runner's database creation turns on autocommit handling that VACUUM needs.
    connection.set_autocommit(True)
    try:
        _run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _run(args: argparse.Namespace) -> None:
    from automations.sunset import sunset_candidates
    from delivery.models import Delivery, Event
    from subscribers.models import MailingList, Subscriber, SubscriberStatus
    from subscribers.selectors import SegmentRules, segment_counts

    began = time.perf_counter()
    sends = _seed(args.readers, args.sends)
    seeded = time.perf_counter() - began
    deliveries, events = Delivery.objects.count(), Event.objects.count()
    print(
        f"Seeded {args.readers:,} readers, {deliveries:,} deliveries and {events:,} events "
        f"in {seeded:.0f} s; load average {os.getloadavg()}"
    )
    rules = {
        "opened any of the last 3 sends": SegmentRules(opened_in_last_sends=3),
        "clicked in any of the last 3 sends": SegmentRules(clicked_in_last_sends=3),
        "clicked a link": SegmentRules(clicked_url="https://example.org/story-7"),
        "clicked any link of an issue": SegmentRules(clicked_issue=sends[-1].issue_id),
        "never opened": SegmentRules(never_opened=True),
        "no open or click in 30 days": SegmentRules(inactive_for_days=30),
        "received at least 9 issues": SegmentRules(received_at_least=9),
        "opened of last 3 and received >= 9": SegmentRules(opened_in_last_sends=3, received_at_least=9),
    }
    runs: dict[str, Callable[[], object]] = {
        "baseline": lambda: Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).count(),
        "no rules": lambda: counts.__setitem__("no rules", segment_counts(SegmentRules())),
    }
    counts: dict[str, dict[str, int]] = {}
    for name, rule in rules.items():
        runs[name] = lambda rule=rule, name=name: counts.__setitem__(name, segment_counts(rule))  # type: ignore[misc]
    # The sunset policy's hourly query (automations.sunset): readers of the list who received each of
    # its last 3 sends and opened or clicked none of them.
    daily = MailingList.objects.get(slug="daily")
    sunset_name = "sunset candidates (no open or click in the list's last 3 sends)"

    def sunset_count() -> None:
        condition = sunset_candidates(daily)
        found = Subscriber.objects.filter(condition).count() if condition is not None else 0
        counts[sunset_name] = {"matching": found, "sendable": found}

    runs[sunset_name] = sunset_count
    medians = _median(args.rounds, runs)
    base = medians["baseline"]
    print(f"Live count of the segment form (median of {args.rounds}), against COUNT(*) of active readers:")
    print("| rule | matching | sendable | ms | x COUNT(*) of active readers |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| COUNT(*) of active readers (baseline) | | | {base * 1000:.1f} | 1.0 |")
    for name in ["no rules", *rules, sunset_name]:
        found = counts[name]
        ms = medians[name] * 1000
        print(f"| {name} | {found['matching']:,} | {found['sendable']:,} | {ms:.1f} | {medians[name] / base:.1f} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
