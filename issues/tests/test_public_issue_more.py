"""The issue page around the article: the byline with avatars, the previous
and next issue, and related issues by tag."""

import re

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from issues.models import Author, IssueStatus, Tag
from issues.tests.public_helpers import png_bytes, published
from testing.factories import IssueFactory

pytestmark = pytest.mark.django_db


def _page(client, issue) -> str:
    response = client.get(issue.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def _days_ago(days: int, **kwargs):
    return published(full=False, when=timezone.now() - timezone.timedelta(days=days), **kwargs)


def test_the_byline_names_each_author_with_their_avatar_at_a_fixed_size(client):
    issue = _days_ago(1, title="Bylined")
    ada = Author.objects.create(name="Ada Writer", slug="ada")
    ada.avatar.save("ada.png", ContentFile(png_bytes()), save=True)
    issue.authors.add(ada, Author.objects.create(name="Ben Editor", slug="ben"))
    byline = re.search(r'<div class="byline">.*?</div>', _page(client, issue), re.S).group(0)
    images = re.findall(r"<img [^>]+>", byline)
    assert len(images) == 1  # Ben has no avatar: his name alone
    assert f'src="{ada.avatar.url}"' in images[0] and 'width="40" height="40"' in images[0]
    assert 'alt=""' in images[0]  # the name beside it says who it is
    assert re.sub(r"<[^>]+>", "", byline) == "By Ada Writer and Ben Editor"


def test_the_page_links_the_previous_and_the_next_public_issue(client):
    older = _days_ago(3, title="Older one")
    _days_ago(2, title="Draft between", status=IssueStatus.DRAFT)
    middle = _days_ago(2, title="Middle one")
    newer = _days_ago(1, title="Newer one")
    html = _page(client, middle)
    nav = re.search(r'<nav class="issue-nav".*?</nav>', html, re.S).group(0)
    assert f'rel="prev" href="{older.get_absolute_url()}"' in nav and "Older one" in nav
    assert f'rel="next" href="{newer.get_absolute_url()}"' in nav and "Newer one" in nav
    assert "Draft between" not in nav
    first = re.search(r'<nav class="issue-nav".*?</nav>', _page(client, older), re.S).group(0)
    assert 'rel="prev"' not in first and "Middle one" in first
    assert 'rel="next"' not in re.search(r'<nav class="issue-nav".*?</nav>', _page(client, newer), re.S).group(0)


def test_an_only_issue_has_no_previous_or_next(client):
    assert 'class="issue-nav"' not in _page(client, _days_ago(1, title="Alone"))


def test_related_issues_share_tags_the_most_in_common_first(client):
    robots, health, policy = (Tag.objects.create(name=n, slug=n.lower()) for n in ("Robots", "Health", "Policy"))
    issue = _days_ago(1, title="This one")
    issue.tags.add(robots, health)
    both = _days_ago(9, title="Shares two")
    both.tags.add(robots, health, policy)
    one_new = _days_ago(2, title="Shares one, newer")
    one_new.tags.add(robots)
    one_old = _days_ago(5, title="Shares one, older")
    one_old.tags.add(health)
    _days_ago(3, title="Shares none").tags.add(policy)
    _days_ago(4, title="Shares one, oldest").tags.add(robots)
    IssueFactory(title="Draft sharing", status=IssueStatus.DRAFT).tags.add(robots, health)
    section = re.search(r'<section class="related".*?</section>', _page(client, issue), re.S).group(0)
    titles = re.findall(r'<h3 class="card-title"><a href="[^"]+">([^<]+)</a>', section)
    assert titles == ["Shares two", "Shares one, newer", "Shares one, oldest"]


def test_an_untagged_issue_shows_no_related_section(client):
    _days_ago(2, title="Other")
    assert 'class="related"' not in _page(client, _days_ago(1, title="Untagged"))


def test_the_issue_page_makes_the_same_number_of_queries_with_more_related_issues(client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PAGE_CACHE_SECONDS = 0
    tag = Tag.objects.create(name="T", slug="t")
    issue = _days_ago(1, title="Counted")
    issue.tags.add(tag)
    _days_ago(2).tags.add(tag)
    _page(client, issue)  # the site's navigation and lists are cached from here on
    with CaptureQueriesContext(connection) as few:
        _page(client, issue)
    for n in range(5):
        _days_ago(3 + n).tags.add(tag)
    with CaptureQueriesContext(connection) as many:
        _page(client, issue)
    assert len(many) == len(few)
