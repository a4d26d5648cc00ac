import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from issues.models import Issue, IssueStatus, SectionKind
from issues.tests.public_helpers import published
from testing.factories import IssueFactory, SectionFactory, SectionItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def _get(client: Client, issue: Issue) -> str:
    response = client.get(f"/newsletter/{issue.slug}/")
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_breadcrumb_date_reading_time_and_title(client, settings):
    settings.TIME_ZONE = "UTC"
    issue = published(
        slug="ai-daily-42", title="Robots learn to read", when=datetime(2026, 3, 31, 9, tzinfo=ZoneInfo("UTC"))
    )
    html = _get(client, issue)
    crumb = re.search(r'<nav class="breadcrumb".*?</nav>', html, re.S).group(0)
    assert re.sub(r"<[^>]+>", " ", crumb).split() == ["Home", "/", "Newsletter", "/", "ai-daily-42"]
    assert '<a href="/newsletter/">Newsletter</a>' in crumb
    assert ">Mar 31</time> • 8 min read" in html
    assert html.count("<h1") == 1
    assert '<h1 id="issue-title">Robots learn to read</h1>' in html


def test_it_shows_the_sections_in_order_with_the_sponsored_label(client):
    issue = published(slug="ordered")
    html = _get(client, issue)
    positions = [html.index(f"Lead story {n}: a lab ships a model") for n in (1, 2, 3)]
    assert positions == sorted(positions)
    assert positions[-1] < html.index("Sponsored") < html.index("Summariser") < html.index("Quick item 7.")
    assert "from our partner Partner Co" in html


def test_it_links_the_original_article_and_share_targets(client, settings):
    settings.SITE_URL = "https://news.example.org"
    issue = published(slug="share-me", title="Share me", canonical_url="https://source.example.com/post")
    html = _get(client, issue)
    assert '<a href="https://source.example.com/post" rel="noopener">Read original article</a>' in html
    page_url = "https%3A%2F%2Fnews.example.org%2Fnewsletter%2Fshare-me%2F"
    assert f"https://x.com/intent/tweet?url={page_url}" in html
    assert f"https://www.linkedin.com/sharing/share-offsite/?url={page_url}" in html
    assert "mailto:?subject=Share%20me&amp;body=Share%20me%20" + page_url in html
    assert 'data-copy-url="https://news.example.org/newsletter/share-me/"' in html
    # Only our own scripts (sharing, the reading bar, the subscribe form's time zone): no third-party hosts.
    assert re.findall(r'<script[^>]+src="([^"]+)"', html) == [
        "/static/js/share.js",
        "/static/js/reading-progress.js",
        "/static/subscribers/time_zone.js",
    ]


def test_it_omits_the_original_link_without_canonical_url(client):
    assert "Read original article" not in _get(client, published(slug="no-source", canonical_url=""))


def test_it_has_canonical_open_graph_twitter_and_cover_alt(client, settings):
    settings.SITE_URL = "https://news.example.org"
    issue = published(slug="covered", cover=True, cover_alt="A robot reading a paper")
    html = _get(client, issue)
    cover = issue.cover_image.url
    assert '<link rel="canonical" href="https://news.example.org/newsletter/covered/">' in html
    assert f'<meta property="og:image" content="https://news.example.org{cover}">' in html
    assert f'<meta name="twitter:image" content="https://news.example.org{cover}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert f'<img class="cover" src="{cover}" alt="A robot reading a paper"' in html


def test_its_json_ld_is_a_news_article(client, settings):
    settings.SITE_URL = "https://news.example.org"
    issue = published(slug="structured", title="Tags </script><b>& more", summary="Sum")
    html = _get(client, issue)
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    assert "</script>" not in raw
    data = json.loads(raw)
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == "Tags </script><b>& more"
    assert data["url"] == "https://news.example.org/newsletter/structured/"
    assert data["datePublished"].startswith(str(issue.publish_date.date()))
    assert data["mainEntityOfPage"] == data["url"]
    assert data["publisher"] == {
        "@type": "Organization",
        "name": settings.PUBLISHER_NAME,
        "url": "https://news.example.org/",
    }


def test_its_json_ld_names_the_cover_and_authors(client, settings):
    from issues.models import Author

    settings.SITE_URL = "https://news.example.org"
    issue = published(slug="authored", cover=True, cover_alt="A cover", canonical_url="https://source.example.com/x")
    issue.authors.add(Author.objects.create(name="Ada Writer"))
    html = _get(client, issue)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert data["image"] == [f"https://news.example.org{issue.cover_image.url}"]
    assert data["author"] == [{"@type": "Person", "name": "Ada Writer"}]
    assert data["isBasedOn"] == "https://source.example.com/x"
    assert data["wordCount"] == issue.word_count


@pytest.mark.parametrize("status", [IssueStatus.DRAFT, IssueStatus.REVIEW, IssueStatus.APPROVED])
def test_an_unpublished_issue_is_not_found_for_the_public(client, status):
    issue = IssueFactory(slug="secret", status=status, publish_date=None)
    assert client.get(f"/newsletter/{issue.slug}/").status_code == 404


def test_an_approved_issue_with_a_past_publish_date_is_public(client):
    issue = published(slug="approved-live", status=IssueStatus.APPROVED)
    assert client.get(f"/newsletter/{issue.slug}/").status_code == 200
    future = published(slug="later", status=IssueStatus.SCHEDULED, when=timezone.now() + timezone.timedelta(days=1))
    assert client.get(f"/newsletter/{future.slug}/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/newsletter/no-such-issue/",
        "/newsletter/" + "a" * 5000 + "/",
        "/newsletter/%00/",
        "/newsletter/a%00b/",
        "/newsletter/caf%C3%A9/",
        "/newsletter/%ED%A0%80/",
        "/newsletter/' OR 1=1 --/",
        "/newsletter/..%2F..%2Fetc%2Fpasswd/",
    ],
)
def test_an_unknown_or_absurd_slug_is_not_found(client, path):
    published(slug="real-one")
    assert client.get(path).status_code == 404


def test_staff_with_view_permission_preview_an_unpublished_issue(client):
    published(slug="draft-preview", status=IssueStatus.DRAFT, publish_date=None)
    user = UserFactory(username="staffer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_issue"))
    client.force_login(user)
    response = client.get("/newsletter/draft-preview/")
    assert response.status_code == 200
    assert "Preview — not published." in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"


def test_staff_without_view_permission_and_plain_users_get_404(client):
    IssueFactory(slug="hidden", status=IssueStatus.REVIEW)
    client.force_login(UserFactory(username="nostaff", is_staff=True))
    assert client.get("/newsletter/hidden/").status_code == 404
    client.force_login(UserFactory(username="reader"))
    assert client.get("/newsletter/hidden/").status_code == 404


def test_a_published_issue_shows_no_preview_banner(client, editor):
    client.force_login(editor)
    assert "Preview — not published" not in _get(client, published(slug="live"))


def test_the_subscribe_form_is_on_the_issue_page(client):
    html = _get(client, published(slug="with-form"))
    assert 'id="subscribe"' in html


def _grow(issue: Issue, sections: int, items: int) -> None:
    for s in range(sections):
        section = SectionFactory(issue=issue, kind=SectionKind.LEAD, position=100 + s)
        for i in range(items):
            SectionItemFactory(section=section, position=i, label="L", text=f"t{i}")


def test_the_issue_page_makes_the_same_number_of_queries_for_any_size(client, settings, django_assert_num_queries):
    settings.PAGE_CACHE_SECONDS = 0
    small = published(slug="small", full=False)
    _grow(small, sections=1, items=1)
    large = published(slug="large")
    _grow(large, sections=15, items=10)
    client.get("/newsletter/small/")  # warms the header/footer cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small_queries:
        assert client.get(f"/newsletter/{small.slug}/").status_code == 200
    with django_assert_num_queries(len(small_queries)):
        assert client.get(f"/newsletter/{large.slug}/").status_code == 200
    # issue, tags, authors, sections, items; the rest belong to the site frame (subscribe form's lists).
    assert len(small_queries) <= 8, [q["sql"][:150] for q in small_queries]
