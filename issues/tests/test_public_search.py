"""Archive search: PostgreSQL full-text search ranked by where the words are
(title over headings over body), word stems and prefixes, kept up to date by
the services that save an issue; the substring search where there is none."""

import re

import pytest
from django.db import connection

from issues import search
from issues.models import Section, SectionKind
from issues.services import section_save
from issues.tests.public_helpers import published
from testing.factories import SectionFactory

pytestmark = pytest.mark.django_db

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search needs PostgreSQL")


def _titles(client, q: str) -> list[str]:
    html = client.get("/newsletter/", {"q": q}).content.decode()
    return re.findall(r'<h2 class="card-title"><a href="[^"]+">([^<]+)</a>', html)


def _with_section(title: str, *, heading: str = "", body: str = "", days_ago: int = 1):
    from django.utils import timezone

    issue = published(full=False, title=title, when=timezone.now() - timezone.timedelta(days=days_ago))
    SectionFactory(issue=issue, kind=SectionKind.LEAD, heading=heading, body=body)
    search.search_vector_refresh(issue_ids=[issue.pk])
    return issue


@needs_postgres
def test_a_word_in_the_title_ranks_above_one_in_a_heading_above_one_in_the_body(client):
    # The newest issue has the word only in its body, the oldest in its title.
    _with_section("Glaciers in retreat", days_ago=3)
    _with_section("Weekly notes", heading="What the glacier told us", days_ago=2)
    _with_section("Other notes", body="<p>We walked past a glacier.</p>", days_ago=1)
    _with_section("Nothing about ice", body="<p>Deserts.</p>")
    assert _titles(client, "glacier") == ["Glaciers in retreat", "Weekly notes", "Other notes"]


@needs_postgres
def test_it_matches_word_stems_and_the_start_of_a_word(client):
    _with_section("Robots run the warehouse", body="<p>Running totals.</p>")
    assert _titles(client, "robot") == ["Robots run the warehouse"]
    assert _titles(client, "warehou") == ["Robots run the warehouse"]
    assert _titles(client, "runs") == ["Robots run the warehouse"]
    assert _titles(client, "robot desert") == []


@needs_postgres
def test_markup_in_the_section_text_is_not_searchable(client):
    _with_section("Plain", body='<p><strong class="x">Bold</strong> words</p>')
    assert _titles(client, "strong") == []
    assert _titles(client, "bold") == ["Plain"]


@needs_postgres
def test_saving_a_section_through_the_service_updates_the_search(client):
    issue = published(full=False, title="A quiet issue")
    assert _titles(client, "zeppelin") == []
    section = Section(issue=issue, kind=SectionKind.LEAD, heading="Zeppelins return", position=0)
    section_save(section=section, items=[])
    assert _titles(client, "zeppelin") == ["A quiet issue"]
    section.heading = "Balloons return"
    section_save(section=section, items=[])
    assert _titles(client, "zeppelin") == []


@needs_postgres
def test_the_vector_is_indexed_with_gin():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'issues_issue_search_gin'")
        (definition,) = cursor.fetchone()
    assert "USING gin (search_vector)" in definition


@pytest.mark.parametrize("q", ["%_%", "&|!:*", "' OR 1=1 --", "(", "a:* | b"])
def test_query_syntax_typed_into_the_search_finds_nothing_and_does_not_fail(client, q):
    published(full=False, title="The issue")
    response = client.get("/newsletter/", {"q": q})
    assert response.status_code == 200
    assert _titles(client, q) == []


def test_without_full_text_search_every_word_must_appear_somewhere(client, monkeypatch):
    monkeypatch.setattr(search, "full_text_available", lambda: False)
    _with_section("Quantum chips", body="<p>Made of glass.</p>")
    _with_section("Glass houses")
    assert _titles(client, "glass") == ["Glass houses", "Quantum chips"]
    assert _titles(client, "quantum glass") == ["Quantum chips"]
    assert search.search_vector_refresh() == 0


@needs_postgres
def test_a_save_of_the_whole_issue_keeps_its_search_vector(client):
    issue = _with_section("Zeppelins return", body="<p>Slowly.</p>")
    stale = type(issue).objects.get(pk=issue.pk)
    stale.search_vector = None
    stale.save()  # as the admin or a cover upload saves the row
    assert _titles(client, "zeppelin") == ["Zeppelins return"]
