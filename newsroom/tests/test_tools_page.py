"""The Tools page lists what its text promises: every Tool of the Day featured in a public issue."""

import re

import pytest
from django.utils import timezone

from issues.models import IssueStatus, SectionKind
from issues.tests.public_helpers import published
from newsroom.models import SitePage
from testing.factories import IssueFactory, SectionFactory, SectionItemFactory

pytestmark = pytest.mark.django_db


def _tool(issue, heading: str, steps: int = 0):
    tool = SectionFactory(issue=issue, kind=SectionKind.TOOL, heading=heading, body=f"<p>{heading} does a thing.</p>")
    for n in range(steps):
        SectionItemFactory(section=tool, position=n, text=f"{heading} step {n + 1}.")
    return tool


def test_the_tools_page_lists_each_featured_tool_once_newest_first_with_its_steps(client):
    SitePage.objects.create(title="Tools", slug="tools", body="<p>Every Tool of the Day we have featured.</p>")
    now = timezone.now()
    old = published(full=False, title="Old issue", when=now - timezone.timedelta(days=9))
    _tool(old, "Minutely", steps=1)
    _tool(published(full=False, title="Middle issue", when=now - timezone.timedelta(days=5)), "Hearth", steps=2)
    _tool(published(full=False, title="New issue", when=now - timezone.timedelta(days=1)), "minutely")
    _tool(IssueFactory(status=IssueStatus.DRAFT), "Secret tool")
    html = client.get("/pages/tools/").content.decode()
    section = re.search(r'<section class="featured-tools".*?</section>', html, re.S).group(0)
    assert re.findall(r"<h3>(?:<a [^>]+>)?([^<]+)", section) == ["minutely", "Hearth"]
    assert "2 tools featured so far" in section
    assert "Tool of the Day in <a" in section and ">New issue</a>" in section
    assert "Hearth step 2." in section
    assert "Secret tool" not in html


def test_other_site_pages_do_not_list_tools(client):
    SitePage.objects.create(title="Support", slug="support", body="<p>Write to us.</p>")
    _tool(published(full=False), "Minutely")
    assert "featured-tools" not in client.get("/pages/support/").content.decode()
