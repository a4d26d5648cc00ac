import xml.etree.ElementTree as ET

import feedparser
import pytest
from django.utils import timezone

from issues.models import IssueStatus
from issues.tests.public_helpers import published
from newsroom.models import SitePage
from testing.factories import IssueFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issues(settings):
    settings.SITE_URL = "https://news.example.org"
    now = timezone.now()
    older = published(
        full=False, title="Older issue", slug="older", summary="Old summary.", when=now.replace(year=2025)
    )
    newer = published(full=False, title="Newer issue", slug="newer", summary="New summary.")
    IssueFactory(title="Still a draft", slug="draft-one", status=IssueStatus.DRAFT)
    return newer, older


@pytest.mark.parametrize("url", ["/newsletter/feed/rss/", "/newsletter/feed/atom/"])
def test_the_feeds_list_public_issues_newest_first(client, issues, url):
    response = client.get(url)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert [e.title for e in feed.entries] == ["Newer issue", "Older issue"]
    assert feed.entries[0].link == "https://news.example.org/newsletter/newer/"
    assert feed.entries[0].summary == "New summary."
    assert feed.entries[1].published_parsed.tm_year == 2025
    assert feed.feed.title


def test_the_sitemap_lists_every_public_issue_and_no_draft(client, issues):
    SitePage.objects.create(title="Privacy Policy", slug="privacy")
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {el.text for el in ET.fromstring(response.content).findall("s:url/s:loc", ns)}  # noqa: S314 - our own output
    assert locs == {
        "https://news.example.org/",
        "https://news.example.org/newsletter/",
        "https://news.example.org/newsletter/newer/",
        "https://news.example.org/newsletter/older/",
        "https://news.example.org/pages/privacy/",
    }


def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_out_of_admin(client, settings):
    settings.SITE_URL = "https://news.example.org"
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "Disallow: /admin/" in lines
    assert "Disallow: /dev/" in lines
    # Links from emails carry a reader's token: they are no page for a search engine.
    assert {"Disallow: /subscribe/confirm/", "Disallow: /subscription/", "Disallow: /unsubscribe/"} <= set(lines)
    assert "Sitemap: https://news.example.org/sitemap.xml" in lines
