"""The byline: the admin's preview frame and the public page show the same article, authors included."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from issues.models import Author, IssueStatus
from testing.factories import make_full_issue

pytestmark = pytest.mark.django_db
ARTICLE = re.compile(r"<article .*?</article>", re.S)


def _article(html: str) -> str:
    found = ARTICLE.search(html)
    assert found, "no <article> on the page"
    return found.group(0)


def test_the_preview_frame_and_the_public_page_show_the_same_byline(editor) -> None:
    issue = make_full_issue(status=IssueStatus.SENT)
    issue.authors.add(
        Author.objects.create(name="Ada Writer", slug="ada"), Author.objects.create(name="Ben Editor", slug="ben")
    )
    staff = Client()
    staff.force_login(editor)

    public = _article(Client().get(issue.get_absolute_url()).text)
    preview = _article(staff.get(reverse("admin:issues_issue_preview_web", args=[issue.pk])).text)

    assert '<p>By <span class="author">Ada Writer</span> and <span class="author">Ben Editor</span></p>' in public
    assert preview == public


def test_an_issue_without_authors_has_no_byline_in_either() -> None:
    issue = make_full_issue(status=IssueStatus.SENT)

    assert 'class="byline"' not in Client().get(issue.get_absolute_url()).text
