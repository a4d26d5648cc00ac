"""Duplicate in the admin: the button on the issue page and the list action."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from issues.models import Issue, IssueStatus
from testing.factories import make_full_issue

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_button_on_the_issue_page_makes_a_draft_and_opens_it(editor) -> None:
    source = make_full_issue(status=IssueStatus.APPROVED)
    client = _client(editor)
    url = reverse("admin:issues_issue_duplicate", args=[source.pk])
    assert f'action="{url}"' in client.get(reverse("admin:issues_issue_change", args=[source.pk])).text

    response = client.post(url, follow=True)

    copy = Issue.objects.get(slug=f"{source.slug}-copy")
    assert response.redirect_chain[-1][0] == reverse("admin:issues_issue_change", args=[copy.pk])
    assert f"“{copy.title}” is a new draft copied from “{source.title}”" in response.text
    assert copy.status == IssueStatus.DRAFT and copy.sections.count() == 6
    assert LogEntry.objects.get(object_id=str(copy.pk)).change_message == f"Duplicated from “{source.title}”."


def test_a_contributor_duplicates_from_the_list_and_gets_their_own_draft(contributor) -> None:
    first, second = make_full_issue(status=IssueStatus.SENT), make_full_issue()
    response = _client(contributor).post(
        reverse("admin:issues_issue_changelist"),
        {"action": "duplicate_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    copies = Issue.objects.filter(slug__endswith="-copy").order_by("pk")
    assert [c.slug for c in copies] == [f"{first.slug}-copy", f"{second.slug}-copy"]
    assert {(c.status, c.created_by) for c in copies} == {(IssueStatus.DRAFT, contributor)}
    assert "2 new drafts:" in response.text


def test_duplicating_one_issue_from_the_list_opens_the_copy(editor) -> None:
    source = make_full_issue()
    response = _client(editor).post(
        reverse("admin:issues_issue_changelist"), {"action": "duplicate_selected", "_selected_action": [source.pk]}
    )

    copy = Issue.objects.get(slug=f"{source.slug}-copy")
    assert response.status_code == 302 and response["Location"] == reverse("admin:issues_issue_change", args=[copy.pk])


def test_the_duplicate_address_takes_only_posts(editor) -> None:
    source = make_full_issue()
    response = _client(editor).get(reverse("admin:issues_issue_duplicate", args=[source.pk]))
    assert response.status_code == 405
    assert Issue.objects.count() == 1
