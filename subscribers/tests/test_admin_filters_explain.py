"""Each filter of the readers' list reads an index, not the table (EXPLAIN on seeded PostgreSQL data).

60,000 readers of testing/scale.py (five lists, twelve tags, five statuses, three sources,
five years of sign-ups), analysed, so the plans are PostgreSQL's own choice with fresh
statistics, not forced. The queries are those the admin runs: captured from a GET of the
changelist, then explained.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from testing import factories
from testing.scale import Size, publication_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SIZE = Size(readers=60_000, issues=25, sends=5, events=500, import_rows=100)
CHANGELIST = "/admin/subscribers/subscriber/"


def admin_queries(client: Client, query: str) -> tuple[str, str]:
    """The changelist's page query (its rows) and its count, as the admin sent them."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries if 'FROM "subscribers_subscriber"' in q["sql"]]
    # The page: newest first, LIMIT 100 (no LIMIT when every match fits on it).
    page = next((s for s in sql if s.rstrip().endswith(("LIMIT 100", '"id" DESC'))), "")
    count = next((s for s in sql if "COUNT(*)" in s), "")
    assert page and count, f"{query}: no page or no count query among {[s[-150:] for s in sql]}"
    return page, count


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")


@pytest.mark.usefixtures("_postgres_only")
def test_every_filter_and_the_address_search_read_an_index_and_the_count_stops_at_its_cap() -> None:
    built = publication_create(size=SIZE)
    client = Client()
    client.force_login(factories.make_editor())
    filters = {
        # Rare enough that walking the sign-up dates would read many rows for a page.
        "by status": ("?status__exact=complained", "subscriber_status_newest"),
        "by list": (f"?lists__id__exact={built.list_ids[2]}", "subscribers_subscriber_l"),
        "by tag": (f"?tags__id__exact={built.tag_ids[1]}", "subscribers_subscriber_t"),
        "by source": ("?source__exact=api", "subscribers_subscriber_created_at"),
        "joined this year": ("?created_at__gte=2026-01-01&created_at__lt=2027-01-01", "created_at"),
        "by segment": (f"?segment={built.export_segment_id}", "subscribers_subscriber_l"),
        "searched by address fragment": ("?q=er4242", "subscriber_email_trgm"),
        "searched by domain": ("?q=firma.exa", "subscribers_subscriber"),
    }
    for name, (query, index) in filters.items():
        page, count = admin_queries(client, query)
        shown = explain(page)
        assert index in shown, f"{name}: the page does not use {index}:\n{shown}"
        assert "Seq Scan on subscribers_subscriber " not in shown, f"{name}:\n{shown}"
        assert "Seq Scan on subscribers_subscriber_lists" not in shown, f"{name}:\n{shown}"
        assert "Seq Scan on subscribers_subscriber_tags" not in shown, f"{name}:\n{shown}"
        assert "DISTINCT" not in page.upper().split(" FROM ")[0], f"{name}: the changelist sorts out duplicates"
        # The count reads at most cap + 1 matching rows, however many match.
        assert "LIMIT 2001" in count, f"{name}: the count is not capped: {count}"
        assert explain(count).splitlines()[1].lstrip(" ->").startswith("Limit"), f"{name}:\n{explain(count)}"


@pytest.mark.usefixtures("_postgres_only")
def test_the_unfiltered_list_shows_the_tables_estimate_without_counting_it() -> None:
    publication_create(size=Size(readers=120_000, issues=25, sends=5, events=500, import_rows=100))
    client = Client()
    client.force_login(factories.make_editor())
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert not counts, counts
    shown = re.search(r"About ([\d,]+)\s+subscribers", response.content.decode())
    assert shown, "the list does not say its count is an estimate"
    assert abs(int(shown.group(1).replace(",", "")) - 120_000) < 12_000, shown.group(0)
