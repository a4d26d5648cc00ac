"""The segment form's live count reads indexes alone (EXPLAIN on PostgreSQL).

For lists, tags and a status (subscribers.selectors._membership_counts) the members come from
the two membership indexes and are matched with the partial index subscriber_unsendable (the
readers a send skips: not active, paused or suppressed), never with each reader's row or the
covering index: at a million readers 290 → 81 ms median in-process (docs/benchmarks.md). With
another rule the ORM's query looks up each member instead. At the
60,000 readers seeded here (outside a transaction, so vacuumed and analysed as autovacuum
leaves a real table) PostgreSQL would rightly read the whole small table, so the test turns
table scans off for its queries and checks what the plans at scale rely on. The queries are
the ones the count view sends, captured and explained.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from subscribers.models import Subscriber
from testing import factories
from testing.scale import Size, publication_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SIZE = Size(readers=60_000, issues=25, sends=5, events=500, import_rows=100)


@pytest.fixture
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")


def _plan(sql: str) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _count(client: Client, query: str) -> tuple[dict, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/subscribers/segment/count/?{query}")
    assert response.status_code == 200
    sql = next(q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper())
    return response.json(), sql


@pytest.mark.usefixtures("_postgres_only")
def test_the_live_count_reads_the_members_and_the_covering_index_alone_and_stays_exact() -> None:
    built = publication_create(size=SIZE)
    client = Client()
    client.force_login(factories.make_editor())
    # Lists, tags and a status: the membership indexes and the partial index of unsendable readers.
    figures, sql = _count(client, f"lists={built.list_ids[1]}&tags={built.tag_ids[0]}&status=active")
    shown = _plan(sql)
    assert "subscriber_lists_by_list" in shown and "subscriber_tags_by_tag" in shown, shown
    assert "Index Only Scan using subscriber_unsendable" in shown, shown
    assert "subscribers_subscriber_pkey" not in shown and "subscriber_sendable_cover" not in shown, shown
    # The figure is exact: the same as counting the readers through the ORM's joins.
    members = Subscriber.objects.filter(lists=built.list_ids[1], tags=built.tag_ids[0], status="active")
    assert figures["matching"] == members.count() > 0
    # With a rule on the reader's own row (never opened): the ORM's query, still led by the memberships.
    figures, sql = _count(client, f"lists={built.list_ids[1]}&tags={built.tag_ids[0]}&status=active&never_opened=on")
    shown = _plan(sql)
    assert "subscriber_lists_by_list" in shown and "subscriber_tags_by_tag" in shown, shown
    assert "subscriber_unsendable" not in shown, shown
    assert figures["matching"] == members.filter(last_engaged_at=None).count()
