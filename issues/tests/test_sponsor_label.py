"""The sponsored block's label: a field on the highlight section, blank = SPONSOR_LABEL_DEFAULT,
used alike by the web page, the email and the plain text."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from issues.models import Section, SectionKind
from issues.rendering import render_email, render_web_sections
from testing.factories import make_full_issue

pytestmark = pytest.mark.django_db


def _highlight(issue) -> Section:
    return issue.sections.get(kind=SectionKind.HIGHLIGHT)


def test_a_highlight_shows_its_own_label_on_the_web_in_the_email_and_in_the_text() -> None:
    issue = make_full_issue()
    Section.objects.filter(pk=_highlight(issue).pk).update(sponsor_label="Special highlight from our network")

    web = str(render_web_sections(issue))
    email = render_email(issue)

    assert '<p class="sponsored-label">Special highlight from our network · from our partner Partner Co</p>' in web
    assert "SPECIAL HIGHLIGHT FROM OUR NETWORK · Partner Co" in email.html
    assert "## SPECIAL HIGHLIGHT FROM OUR NETWORK by Partner Co:" in email.text
    assert "Sponsored" not in web and "SPONSORED" not in email.html + email.text


def test_a_blank_label_shows_the_site_default_everywhere(settings) -> None:
    settings.SPONSOR_LABEL_DEFAULT = "Partner content"
    issue = make_full_issue()

    email = render_email(issue)

    assert '<p class="sponsored-label">Partner content · from our partner Partner Co</p>' in str(
        render_web_sections(issue)
    )
    assert "PARTNER CONTENT · Partner Co" in email.html
    assert "## PARTNER CONTENT by Partner Co:" in email.text


def test_an_editor_sets_the_label_on_the_section_page_which_shows_the_default_when_blank(editor, settings) -> None:
    settings.SPONSOR_LABEL_DEFAULT = "Partner content"
    highlight = _highlight(make_full_issue())
    client = Client()
    client.force_login(editor)
    url = reverse("admin:issues_section_change", args=[highlight.pk])

    page = client.get(url).text
    assert 'name="sponsor_label"' in page and 'placeholder="Partner content"' in page
    data = {
        "kind": "highlight",
        "heading": highlight.heading,
        "sponsor_label": "Special highlight from our network",
        "partner_name": highlight.partner_name,
        "body": highlight.body,
        "link_url": highlight.link_url,
        "link_label": highlight.link_label,
    }
    response = client.post(url, data)

    assert response.status_code == 302
    highlight.refresh_from_db()
    assert highlight.sponsor_label == "Special highlight from our network"
