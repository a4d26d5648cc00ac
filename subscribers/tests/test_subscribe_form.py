"""The subscribe form on every public page: what it costs and where the header's button leads."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from newsroom.testing.factories import MailingListFactory, make_full_issue

pytestmark = pytest.mark.django_db


def list_queries(client: Client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    sql = [query["sql"] for query in captured.captured_queries]
    return sum("subscribers_mailinglist" in q for q in sql), sql


def test_the_form_reads_the_lists_once_and_then_from_the_cache() -> None:
    MailingListFactory(name="Daily digest", default=True)
    MailingListFactory(name="Weekly tools")
    MailingListFactory(name="Staff only", public=False)
    issue = make_full_issue(status="sent")
    client = Client()
    first, _sql = list_queries(client, "/")
    assert first == 1
    for url in ["/", "/subscribe/", "/newsletter/", issue.get_absolute_url()]:
        count, sql = list_queries(client, url)
        assert count == 0, (url, sql)
    # A cached hit of the home page runs no query at all.
    assert list_queries(client, "/")[1] == []
    html = client.get("/").content.decode()
    assert "Daily digest" in html and "Weekly tools" in html and "Staff only" not in html
    assert html.count("checked") == 1, "the default list is ticked"


def test_with_the_page_cache_off_the_form_still_reads_the_lists_in_one_query(settings: object) -> None:
    settings.PAGE_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    MailingListFactory(name="Daily digest")
    client = Client()
    for _ in range(2):
        assert list_queries(client, "/subscribe/")[0] == 1
