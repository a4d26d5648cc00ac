"""Every page bench/scale.py times makes as many queries at ten times the data (testing/scale.py on PostgreSQL).

The same publication is built at two sizes in one test (readers, list and tag memberships,
issues, sends, deliveries, events, an import), each page is fetched once at each size with
its cache cold, and the queries each page makes are counted: a page whose count grows with
the data (a query per row, per reader, per send) fails here, whatever the machine.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from testing import factories
from testing.scale import Publication, Size, publication_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SMALL = Size(readers=500, issues=30, sends=5, events=3_000, import_rows=200)
LARGE = Size(readers=5_000, issues=60, sends=10, events=30_000, import_rows=2_000)


def pages(built: Publication) -> dict[str, str]:
    lists, tags, send = built.list_ids, built.tag_ids, built.send_ids[len(built.send_ids) // 2]
    reader = _a_reader_id()
    changelist = "/admin/subscribers/subscriber/"
    return {
        "subscribers": changelist,
        "subscribers by list": f"{changelist}?lists__id__exact={lists[1]}",
        "subscribers by tag": f"{changelist}?tags__id__exact={tags[0]}",
        "subscribers by status": f"{changelist}?status__exact=active",
        "subscribers by segment": f"{changelist}?segment={built.export_segment_id}",
        "subscribers searched": f"{changelist}?q=reader1",
        "a subscriber": f"{changelist}{reader}/change/",
        "segment live count": f"/admin/subscribers/segment/count/?lists={lists[0]}&tags={tags[1]}&status=active",
        "issues": "/admin/issues/issue/",
        "sends": "/admin/delivery/send/",
        "a send": f"/admin/delivery/send/{send}/change/",
        "a send's progress": f"/admin/delivery/send/{send}/progress/",
        "per-send analytics": f"/admin/analytics/send/{send}/",
        "audience analytics": "/admin/analytics/audience/",
        "import report": f"/admin/subscribers/importjob/{built.import_job_id}/change/",
        "home": "/",
        "archive": "/newsletter/",
        "archive page 2": "/newsletter/?page=2",
        "an issue": "/newsletter/issue-3/",
        "search": "/newsletter/?q=quantum",
        "rss": "/newsletter/feed/rss/",
        "atom": "/newsletter/feed/atom/",
        "sitemap": "/sitemap.xml",
    }


def _a_reader_id() -> int:
    from subscribers.models import Subscriber

    return int(Subscriber.objects.order_by("pk").values_list("pk", flat=True)[10])


def query_counts(client: Client, built: Publication) -> dict[str, int]:
    counts = {}
    for name, path in pages(built).items():
        cache.clear()  # each page as its first reader (or editor) after a change finds it
        client.get(path)  # the session's and the permissions' first reads
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200, f"{name}: {path} answered {response.status_code}"
        counts[name] = len(queries.captured_queries)
    return counts


def empty_publication() -> None:
    tables = [
        "subscribers_subscriber",
        "subscribers_mailinglist",
        "subscribers_subscribertag",
        "subscribers_customfield",
        "subscribers_segment",
        "subscribers_importjob",
        "issues_issue",
        "issues_tag",
        "issues_author",
        "delivery_send",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the pending deferred checks first
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


@pytest.fixture
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the data set is built with PostgreSQL's generate_series")


@pytest.mark.usefixtures("_postgres_only")
def test_each_page_makes_as_many_queries_at_ten_times_the_readers_sends_and_events(settings: Any) -> None:
    settings.PAGE_CACHE_SECONDS = 300
    client = Client()
    client.force_login(factories.make_editor())
    small = query_counts(client, publication_create(size=SMALL))
    empty_publication()
    built = publication_create(size=LARGE)
    assert built.counts["readers"] == LARGE.readers and built.counts["events"] > 20_000
    large = query_counts(client, built)
    grown = {name: (small[name], large[name]) for name in small if large[name] != small[name]}
    assert not grown, f"queries per page (small, ten times larger): {grown}"
