"""The segment form's live count can check its readers from one index alone (EXPLAIN on PostgreSQL).

At a million readers PostgreSQL probes subscriber_sendable_cover for each reader the list and
tag indexes name (bench.scale, docs/benchmarks.md: 559 → 208 ms median in-process). At the
60,000 readers seeded here (outside a transaction, so vacuumed and analysed as autovacuum
leaves a real table) it rightly hashes the whole (small) table instead, so the test turns
table scans off for its query and checks what the plan at scale relies on: the members come
from the membership indexes and every column the live count reads is in the covering index
(an index-only scan, not the primary key and the table). A condition on a column left out of
the index would fail it. The query is the one the count view sends for "in list 2, tagged 1,
active" (the benchmark's segment), captured and explained.
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


@pytest.mark.usefixtures("_postgres_only")
def test_the_live_count_reads_the_members_and_the_covering_index_alone_and_stays_exact() -> None:
    built = publication_create(size=SIZE)
    client = Client()
    client.force_login(factories.make_editor())
    query = f"lists={built.list_ids[1]}&tags={built.tag_ids[0]}&status=active"
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/subscribers/segment/count/?{query}")
    assert response.status_code == 200
    sql = next(q["sql"] for q in queries.captured_queries if '"sendable"' in q["sql"])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        shown = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using subscriber_sendable_cover" in shown, shown
    assert "subscriber_lists_by_list" in shown and "subscriber_tags_by_tag" in shown, shown
    assert "subscribers_subscriber_pkey" not in shown, shown
    # The figure is exact: the same as counting the readers through the ORM's joins.
    members = Subscriber.objects.filter(lists=built.list_ids[1], tags=built.tag_ids[0], status="active")
    assert response.json()["matching"] == members.count() > 0
