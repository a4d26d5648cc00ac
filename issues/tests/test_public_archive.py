import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues.models import IssueStatus, Tag
from issues.tests.public_helpers import published
from newsroom.testing.factories import IssueFactory, SectionFactory, SectionItemFactory

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
    published(full=False, title="Nothing relevant")

    def search(q: str) -> list[str]:
        return _titles(client.get("/newsletter/", {"q": q}).content.decode())

    assert search("quantum") == ["Quantum chips arrive"]
    assert search("PHOTONICS") == ["Other"]
    assert search("glacier") == ["Deep text"]
    assert search("zeppelins") == ["Deep text"]
    assert search("glacier quantum") == []


@pytest.mark.parametrize(
    "q", ["\x00", "a\x00b", "x" * 100_000, "' OR 1=1 --", "%_%", "\\", "😀" * 300, "<script>alert(1)</script>"]
)
def test_absurd_searches_answer_with_a_page(client, q):
    published(full=False, title="Something")
    response = client.get("/newsletter/", {"q": q})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_tag_filter_lists_only_tagged_issues(client):
    tag = Tag.objects.create(name="Robotics", slug="robotics")
    tagged = published(full=False, title="Tagged one")
    tagged.tags.add(tag)
    published(full=False, title="Untagged one")
    html = client.get("/newsletter/", {"tag": "robotics"}).content.decode()
    assert _titles(html) == ["Tagged one"]
    assert "Newsletter archive: Robotics" in html


def test_an_unknown_tag_is_not_found(client):
    assert client.get("/newsletter/", {"tag": "no-such-tag"}).status_code == 404
    assert client.get("/newsletter/", {"tag": "x\x00" * 500}).status_code == 404


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
