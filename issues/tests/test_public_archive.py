import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues.models import Issue, IssueStatus, Tag
from issues.search import search_vector_refresh
from issues.tests.public_helpers import published
from testing.factories import IssueFactory, SectionFactory, SectionItemFactory

pytestmark = pytest.mark.django_db


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title"><a href="[^"]+">([^<]+)</a>', html)


def _many(count: int) -> None:
    now = timezone.now()
    for n in range(count):
        published(full=False, title=f"Issue {n:02d}", when=now - timezone.timedelta(days=count - n))


def test_it_lists_public_issues_newest_first_with_card_details(client):
    _many(3)
    IssueFactory(title="A draft nobody sees", status=IssueStatus.DRAFT)
    published(full=False, title="Covered", cover=True, cover_alt="Cover of the covered issue", summary="Its summary.")
    html = client.get("/newsletter/").content.decode()
    assert _titles(html) == ["Covered", "Issue 02", "Issue 01", "Issue 00"]
    assert "A draft nobody sees" not in html
    assert 'alt="Cover of the covered issue"' in html
    assert "Its summary." in html
    assert "• 8 min read" in html
    assert html.count("<h1") == 1


def test_it_paginates_twelve_per_page(client):
    _many(14)
    first = client.get("/newsletter/").content.decode()
    second = client.get("/newsletter/?page=2").content.decode()
    assert len(_titles(first)) == 12 and _titles(first)[0] == "Issue 13"
    assert _titles(second) == ["Issue 01", "Issue 00"]
    assert 'href="?page=2"' in first
    assert "Page 2 of 2" in second


@pytest.mark.parametrize("page", ["3", "0", "abc", "-1", "1.5", "9" * 40, "%00", "٣"])
def test_bad_page_numbers_are_not_found(client, page):
    _many(2)
    assert client.get("/newsletter/", {"page": page}).status_code == 404


def test_an_empty_archive_answers_with_an_empty_page(client):
    response = client.get("/newsletter/")
    assert response.status_code == 200
    assert "No issues yet." in response.content.decode()


def test_search_finds_words_in_titles_summaries_and_sections(client):
    published(full=False, title="Quantum chips arrive")
    published(full=False, title="Other", summary="A note about photonics.")
    deep = published(full=False, title="Deep text")
    section = SectionFactory(issue=deep, body="<p>The glacier melted.</p>")
    SectionItemFactory(section=section, text="Zeppelins return")
    search_vector_refresh(issue_ids=[deep.pk])  # as every save of a section does (issue_refresh_stats)
    published(full=False, title="Nothing relevant")

    def search(q: str) -> list[str]:
        return _titles(client.get("/newsletter/", {"q": q}).content.decode())

    assert search("quantum") == ["Quantum chips arrive"]
    assert search("PHOTONICS") == ["Other"]
    assert search("glacier") == ["Deep text"]
    assert search("zeppelins") == ["Deep text"]
    assert search("glacier quantum") == []


@pytest.mark.parametrize(
    "q",
    [
        "\x00",
        "a\x00b",
        "x" * 100_000,
        "' OR 1=1 --",
        "%_%",
        "\\",
        "😀" * 300,
        "<script>alert(1)</script>",
        "a " * 5000,
        "\u202e\u200b",
    ],
)
def test_absurd_searches_answer_with_a_page(client, q):
    published(full=False, title="Something")
    response = client.get("/newsletter/", {"q": q})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "status"),
    [("q=%ED%A0%80", 200), ("q=%FF%FE", 200), ("q=a&q=b&q=%00", 200), ("page=%FF", 404), ("tag=%FF", 404)],
)
def test_undecodable_query_strings_answer_a_page_or_not_found(client, query, status):
    published(full=False, title="Something")
    assert client.get("/newsletter/?" + query).status_code == status


def test_the_old_tag_filter_address_leads_to_the_tag_page(client):
    tag = Tag.objects.create(name="Robotics", slug="robotics")
    tagged = published(full=False, title="Tagged one")
    tagged.tags.add(tag)
    published(full=False, title="Untagged one")
    response = client.get("/newsletter/", {"tag": "robotics"})
    assert response.status_code == 301 and response["Location"] == "/tag/robotics/"
    assert client.get("/newsletter/", {"tag": "robotics", "page": "2"})["Location"] == "/tag/robotics/?page=2"
    html = client.get("/newsletter/", {"tag": "robotics"}, follow=True).content.decode()
    assert _titles(html) == ["Tagged one"]


@pytest.mark.parametrize("tag", ["no-such-tag", "x\x00" * 500, "robotics'--", "\u0440\u043e", "a" * 500, "%"])
def test_an_unknown_tag_is_not_found(client, tag):
    Tag.objects.create(name="Robotics", slug="robotics")
    assert client.get("/newsletter/", {"tag": tag}).status_code == 404


def test_the_tag_list_offers_tags_of_public_issues_with_counts(client):
    robotics = Tag.objects.create(name="Robotics", slug="robotics")
    drafts_only = Tag.objects.create(name="Secret", slug="secret")
    for n in range(2):
        published(full=False, title=f"R{n}").tags.add(robotics)
    IssueFactory(status=IssueStatus.DRAFT).tags.add(drafts_only)
    html = client.get("/newsletter/").content.decode()
    filters = re.search(r'<nav class="tag-filter".*?</nav>', html, re.S).group(0)
    assert re.findall(r'href="([^"]+)"', filters) == ["/newsletter/", "/tag/robotics/"]
    assert "Secret" not in filters
    assert re.sub(r"<[^>]+>", "", filters).split() == ["All", "issues", "Robotics,", "2", "issues"]
    chosen = client.get("/newsletter/", {"tag": "robotics", "q": "R1"}).content.decode()
    assert 'href="/newsletter/?tag=robotics&amp;q=R1" aria-current="page"' in chosen


def test_the_canonical_address_keeps_the_page_but_not_the_search(client, settings):
    settings.SITE_URL = "https://news.example.org"
    tag = Tag.objects.create(name="Robotics", slug="robotics")
    _many(14)
    for issue in Issue.objects.all():
        issue.tags.add(tag)

    def canonical(params: dict[str, str]) -> str:
        html = client.get("/newsletter/", params).content.decode()
        return re.search(r'<link rel="canonical" href="([^"]+)">', html).group(1)

    assert canonical({}) == "https://news.example.org/newsletter/"
    assert canonical({"page": "2"}) == "https://news.example.org/newsletter/?page=2"
    assert canonical({"q": "Issue"}) == "https://news.example.org/newsletter/"
    assert canonical({"q": "Issue", "tag": "robotics"}) == "https://news.example.org/tag/robotics/"


def test_search_and_tag_pages_keep_their_filters_in_the_page_links(client):
    tag = Tag.objects.create(name="Robotics", slug="robotics")
    _many(14)
    for issue in Issue.objects.all():
        issue.tags.add(tag)
    html = client.get("/newsletter/", {"q": "Issue", "tag": "robotics"}).content.decode()
    assert 'href="?q=Issue&amp;tag=robotics&amp;page=2"' in html
    assert "14 issues tagged Robotics matching “Issue”, best matches first." in html


def test_the_archive_makes_the_same_number_of_queries_for_any_number_of_issues(client, settings):
    settings.PAGE_CACHE_SECONDS = 0
    tag = Tag.objects.create(name="T", slug="t")
    published(full=False).tags.add(tag)
    client.get("/newsletter/")
    with CaptureQueriesContext(connection) as few:
        client.get("/newsletter/")
    for _ in range(15):
        published(full=False).tags.add(tag)
    with CaptureQueriesContext(connection) as many:
        client.get("/newsletter/")
    assert len(many) == len(few)
