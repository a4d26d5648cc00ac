"""Each engagement rule reads an index, never every delivery or event (EXPLAIN on seeded PostgreSQL data).

20,000 readers, 10 sends to all of them (200,000 deliveries, a quarter opened,
one in twenty clicked, with an event for each open and click: 60,000), seeded
set-based in one test, as the seeding is most of its time. The plans are
PostgreSQL's own choice with fresh statistics (ANALYZE), not forced.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from delivery.models import Send, SendStatus
from issues.models import IssueStatus
from subscribers.models import Subscriber, SubscriberStatus
from subscribers.selectors import SegmentRules, rules_filter, sendable_subscribers
from testing import factories

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

READERS = 20_000
SENDS = 10
START = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)


def seed() -> list[Send]:
    Subscriber.objects.bulk_create(
        Subscriber(email=f"r{n}@example.org", status=SubscriberStatus.ACTIVE) for n in range(READERS)
    )
    issues = [factories.IssueFactory.create(status=IssueStatus.SENT) for _ in range(SENDS)]
    sends = [
        factories.SendFactory.create(issue=issue, status=SendStatus.DONE, scheduled_at=START, started_at=START)
        for issue in issues
    ]
    with connection.cursor() as cursor:
        # Every reader gets every send; reader r opens send s when (r + s) % 4 == 0 and clicks when % 20 == 0.
        cursor.execute(
            """
            INSERT INTO delivery_delivery (send_id, subscriber_id, email, status, batch, attempts,
                provider_message_id, provider_status, error, sent_at, delivered_at, opened_at, clicked_at)
            SELECT s.id, r.id, r.email, 'sent', 0, 1, '', '', '', %(at)s, %(at)s,
                CASE WHEN (r.id + s.id) %% 4 = 0 THEN %(at)s END,
                CASE WHEN (r.id + s.id) %% 20 = 0 THEN %(at)s END
            FROM subscribers_subscriber r CROSS JOIN delivery_send s
            """,
            {"at": START},
        )
        # An event per open and per click (on one of 20 links).
        cursor.execute(
            """
            INSERT INTO delivery_event (dedupe_key, delivery_id, send_id, event_type, at, received_at, recipient,
                message_id, esp_event_id, esp_name, url, reject_reason, description, user_agent, machine, uncounted,
                raw)
            SELECT d.id || ':' || k.kind, d.id, d.send_id, k.kind, %(at)s, %(at)s, d.email, '', '', 'seed',
                CASE WHEN k.kind = 'clicked' THEN 'https://example.org/story-' || (d.id %% 20) ELSE '' END,
                '', '', '', '', '', '{}'
            FROM delivery_delivery d
            JOIN (VALUES ('opened'), ('clicked')) AS k(kind)
              ON (k.kind = 'opened' AND d.opened_at IS NOT NULL) OR (k.kind = 'clicked' AND d.clicked_at IS NOT NULL)
            """,
            {"at": START},
        )
        cursor.execute("ANALYZE subscribers_subscriber, delivery_delivery, delivery_event, delivery_send")
    return sends


def plan(queryset: object) -> str:
    sql, params = queryset.values("pk").query.sql_with_params()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN SELECT COUNT(*) FROM ({sql}) AS matching", params)  # noqa: S608 (our own SQL)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture(scope="module")
def _skip_unless_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")


@pytest.mark.usefixtures("_skip_unless_postgres")
def test_every_engagement_rule_uses_an_index_not_a_scan_of_deliveries_or_events() -> None:
    sends = seed()
    rules = {
        "clicked_issue": (SegmentRules(clicked_issue=sends[0].issue_id), "delivery_clicked"),
        "clicked_url": (SegmentRules(clicked_url="https://example.org/story-7"), "event_person_click_url"),
    }
    for name, (rule, index) in rules.items():
        for queryset in (
            Subscriber.objects.filter(rules_filter(rule)),
            sendable_subscribers().filter(rules_filter(rule)),
        ):
            shown = plan(queryset)
            assert index in shown, f"{name} does not use {index}:\n{shown}"
            assert "Seq Scan on delivery_delivery" not in shown, f"{name}:\n{shown}"
            assert "Seq Scan on delivery_event" not in shown, f"{name}:\n{shown}"
    # The rules that the reader's own fields answer read no delivery or event at all.
    for rule in (
        SegmentRules(opened_in_last_sends=3),
        SegmentRules(clicked_in_last_sends=3),
        SegmentRules(never_opened=True),
        SegmentRules(received_at_least=5),
        SegmentRules(inactive_for_days=30),
        SegmentRules(engaged_within_days=7),
    ):
        shown = plan(Subscriber.objects.filter(rules_filter(rule)))
        assert "delivery_" not in shown, shown
