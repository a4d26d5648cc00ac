"""Tag pages (/tag/<slug>/): the tag's public issues, paginated with page
links, canonical addresses, listed in the sitemap, cached for readers and
cleared on publish."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues.models import Issue, IssueStatus, Tag
from issues.services import issue_transition
from issues.tests.public_helpers import published
from testing.factories import IssueFactory

pytestmark = pytest.mark.django_db


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title"><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def robotics():
    return Tag.objects.create(name="Robotics", slug="robotics")


def _tagged(tag: Tag, count: int) -> None:
    now = timezone.now()
    for n in range(count):
        published(full=False, title=f"Robot {n:02d}", when=now - timezone.timedelta(days=count - n)).tags.add(tag)


def test_a_tag_page_lists_the_tags_public_issues_newest_first(client, robotics):
    _tagged(robotics, 2)
    published(full=False, title="Untagged")
    IssueFactory(title="Tagged draft", status=IssueStatus.DRAFT).tags.add(robotics)
    html = client.get("/tag/robotics/").content.decode()
    assert _titles(html) == ["Robot 01", "Robot 00"]
    assert '<h1 class="tag-title">Robotics</h1>' in html
    assert "2 issues of" in html
    assert "<title>Robotics · " in html


def test_tag_links_on_cards_and_issue_pages_lead_to_the_tag_page(client, robotics):
    issue = published(full=False, title="Tagged", slug="tagged")
    issue.tags.add(robotics)
    for path in ("/newsletter/", "/newsletter/tagged/"):
        assert 'href="/tag/robotics/"' in client.get(path).content.decode(), path


def test_a_tag_page_is_paginated_with_numbered_links_and_rel_prev_next(client, robotics, settings):
    settings.SITE_URL = "https://news.example.org"
    _tagged(robotics, 40)  # four pages of twelve
    first = client.get("/tag/robotics/").content.decode()
    assert len(_titles(first)) == 12 and _titles(first)[0] == "Robot 39"
    assert '<link rel="canonical" href="https://news.example.org/tag/robotics/">' in first
    assert '<link rel="next" href="?page=2">' in first and 'rel="prev"' not in first
    numbers = re.findall(
        r'<a href="([^"]+)"( aria-current="page")?><span class="visually-hidden">Page </span>(\d+)', first
    )
    assert [(n, bool(cur)) for _, cur, n in numbers] == [("1", True), ("2", False), ("3", False), ("4", False)]
    third = client.get("/tag/robotics/", {"page": "3"}).content.decode()
    assert '<link rel="canonical" href="https://news.example.org/tag/robotics/?page=3">' in third
    assert '<link rel="prev" href="?page=2">' in third and '<link rel="next" href="?page=4">' in third
    assert "Page 3 of 4" in third
    last = client.get("/tag/robotics/", {"page": "4"}).content.decode()
    assert _titles(last) == ["Robot 03", "Robot 02", "Robot 01", "Robot 00"]
    assert client.get("/tag/robotics/", {"page": "5"}).status_code == 404


def test_page_links_leave_a_gap_far_from_the_current_page(client):
    now = timezone.now()
    Issue.objects.bulk_create(
        Issue(title=f"I{n}", slug=f"i-{n}", status=IssueStatus.SENT, publish_date=now - timezone.timedelta(hours=n))
        for n in range(12 * 10)
    )
    html = client.get("/newsletter/", {"page": "5"}).content.decode()
    shown = re.findall(r'<span class="visually-hidden">Page </span>(\d+)</a>|<li class="gap"', html)
    assert shown == ["1", "", "3", "4", "5", "6", "7", "", "10"]


@pytest.mark.parametrize("slug", ["no-such-tag", "x" * 500, "robotics'--", "%00"])
def test_an_unknown_tag_has_no_page(client, robotics, slug):
    _tagged(robotics, 1)
    assert client.get(f"/tag/{slug}/").status_code == 404


def test_a_tag_on_no_public_issue_has_no_page(client, robotics):
    IssueFactory(status=IssueStatus.DRAFT).tags.add(robotics)
    assert client.get("/tag/robotics/").status_code == 404


def test_the_sitemap_lists_tag_pages_of_public_issues_only(client, robotics, settings):
    settings.SITE_URL = "https://news.example.org"
    _tagged(robotics, 1)
    Tag.objects.create(name="Empty", slug="empty")
    xml = client.get("/sitemap.xml").content.decode()
    assert "<loc>https://news.example.org/tag/robotics/</loc>" in xml
    assert "/tag/empty/" not in xml


def test_a_tag_page_is_cached_for_readers_but_not_for_made_up_query_strings(
    client, robotics, settings, django_assert_num_queries
):
    settings.PAGE_CACHE_SECONDS = 300
    _tagged(robotics, 1)
    client.get("/tag/robotics/")
    with django_assert_num_queries(0):
        assert client.get("/tag/robotics/").status_code == 200
    client.get("/tag/robotics/?utm_source=x")
    with CaptureQueriesContext(connection) as made_up:
        assert client.get("/tag/robotics/?utm_source=x").status_code == 200
    assert len(made_up.captured_queries) > 0  # built again by the view: such an address is never stored


def test_publishing_an_issue_with_the_tag_shows_it_on_the_cached_tag_page(
    client, robotics, settings, django_capture_on_commit_callbacks
):
    settings.PAGE_CACHE_SECONDS = 300
    _tagged(robotics, 1)
    assert "Fresh robots" not in client.get("/tag/robotics/").content.decode()
    fresh = IssueFactory.create(title="Fresh robots", status=IssueStatus.SENDING, publish_date=timezone.now())
    fresh.tags.add(robotics)
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue=fresh, to_status=IssueStatus.SENT)
    assert _titles(client.get("/tag/robotics/").content.decode())[0] == "Fresh robots"
