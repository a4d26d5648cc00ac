from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from issues.models import Issue, IssueStatus, IssueTransition
from issues.tests.test_admin_issue import form_data
from testing.factories import IssueFactory, SectionFactory, make_full_issue

pytestmark = pytest.mark.django_db
S = IssueStatus


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _transition_url(issue: Issue) -> str:
    return reverse("admin:issues_issue_transition", args=[issue.pk])


def test_contributor_sees_submit_but_no_approve_button(contributor) -> None:
    issue = IssueFactory.create()
    html = _client(contributor).get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert ">Submit for review</button>" in html
    assert ">Approve</button>" not in html


def test_contributor_crafted_post_to_approve_is_forbidden(contributor) -> None:
    issue = IssueFactory.create(status=S.REVIEW)
    response = _client(contributor).post(_transition_url(issue), {"to_status": S.APPROVED})
    assert response.status_code == 403
    assert Issue.objects.get(pk=issue.pk).status == S.REVIEW
    assert not IssueTransition.objects.exists()


def test_contributor_crafted_post_to_schedule_is_forbidden(contributor) -> None:
    issue = make_full_issue(status=S.APPROVED)
    response = _client(contributor).post(_transition_url(issue), {"to_status": S.SCHEDULED})
    assert response.status_code == 403
    assert Issue.objects.get(pk=issue.pk).status == S.APPROVED


def test_contributor_cannot_set_status_through_the_change_form(contributor) -> None:
    issue = IssueFactory.create()
    client = _client(contributor)
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    data = form_data(client.get(url).content.decode(), "issue_form")
    data["status"] = S.APPROVED
    assert client.post(url, data).status_code == 302
    assert Issue.objects.get(pk=issue.pk).status == S.DRAFT


def test_contributor_submits_with_the_button_and_the_move_is_listed(contributor) -> None:
    issue = IssueFactory.create()
    client = _client(contributor)
    response = client.post(_transition_url(issue), {"to_status": S.REVIEW, "note": "Please look"}, follow=True)
    assert Issue.objects.get(pk=issue.pk).status == S.REVIEW
    html = response.content.decode()
    assert "is now in review" in html
    assert "History of moves" in html and "Please look" in html


def test_contributor_may_view_but_not_edit_an_issue_in_review(contributor) -> None:
    issue = IssueFactory.create(status=S.REVIEW, title="Under review")
    section = SectionFactory.create(issue=issue)
    client = _client(contributor)
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    html = client.get(url).content.decode()
    assert 'name="title"' not in html and "Under review" in html
    assert client.post(url, {"title": "Hijacked"}).status_code == 403
    assert Issue.objects.get(pk=issue.pk).title == "Under review"
    section_url = reverse("admin:issues_section_change", args=[section.pk])
    assert client.post(section_url, {"heading": "Hijacked"}).status_code == 403


def test_editor_approves_from_the_issue_page(editor) -> None:
    issue = IssueFactory.create(status=S.REVIEW)
    client = _client(editor)
    html = client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert ">Approve</button>" in html and ">Back to draft</button>" in html
    response = client.post(_transition_url(issue), {"to_status": S.APPROVED}, follow=True)
    assert Issue.objects.get(pk=issue.pk).status == S.APPROVED
    row = IssueTransition.objects.get(issue=issue)
    assert (row.actor, row.from_status, row.to_status) == (editor, S.REVIEW, S.APPROVED)
    assert "is now approved" in response.content.decode()


def test_a_move_outside_the_workflow_shows_an_error_message(editor) -> None:
    issue = IssueFactory.create(status=S.DRAFT)
    response = _client(editor).post(_transition_url(issue), {"to_status": S.APPROVED}, follow=True)
    assert "cannot move from “Draft” to “Approved”" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).status == S.DRAFT


@pytest.mark.parametrize("target", [S.SCHEDULED, S.SENDING, S.SENT])
def test_an_editor_cannot_schedule_or_send_with_a_bare_status_change(editor, target: str) -> None:
    issue = make_full_issue(status=S.APPROVED)
    response = _client(editor).post(_transition_url(issue), {"to_status": target}, follow=True)
    assert "create a send for it" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).status == S.APPROVED
    assert not IssueTransition.objects.exists()


def test_a_scheduled_issue_offers_no_moves_and_refuses_a_crafted_one(editor) -> None:
    issue = make_full_issue(status=S.SCHEDULED)
    client = _client(editor)
    html = client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert "Cancel the send to edit this issue" in html
    assert 'class="button workflow-button' not in html
    response = client.post(_transition_url(issue), {"to_status": S.APPROVED}, follow=True)
    assert "cancel its send" in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).status == S.SCHEDULED


def test_transition_view_refuses_get(editor) -> None:
    issue = IssueFactory.create(status=S.REVIEW)
    assert _client(editor).get(_transition_url(issue)).status_code == 405


def test_checks_panel_lists_errors_and_warnings_apart(editor) -> None:
    issue = make_full_issue(preheader="", subject="s" * 90)
    html = _client(editor).get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert '<li class="check-error" data-code="preheader_missing">' in html
    assert '<li class="check-warning" data-code="subject_long">' in html
    assert "1 error (block scheduling)" in html


def test_list_view_shows_status_and_filters(editor) -> None:
    IssueFactory.create(title="Alpha issue", status=S.REVIEW)
    IssueFactory.create(title="Beta issue", status=S.DRAFT)
    client = _client(editor)
    html = client.get(reverse("admin:issues_issue_changelist") + "?status__exact=review").content.decode()
    assert "Alpha issue" in html and "Beta issue" not in html
    assert "In review" in html
    html = client.get(reverse("admin:issues_issue_changelist") + "?q=Beta").content.decode()
    assert "Beta issue" in html and "Alpha issue" not in html


def test_contributor_cannot_add_a_section_to_an_issue_in_review_from_the_section_page(contributor, editor) -> None:
    issue = IssueFactory.create(status=S.REVIEW)
    data = {"issue": str(issue.pk), "kind": "lead", "heading": "Sneaked in", "body": "", "analysis": ""}
    data |= {"partner_name": "", "link_url": "", "link_label": ""}
    data |= {"items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0"}
    data |= {"items-MAX_NUM_FORMS": "1000"}
    response = _client(contributor).post(reverse("admin:issues_section_add"), data)
    assert response.status_code == 403
    assert not issue.sections.exists()
    # The same request from an editor is accepted.
    assert _client(editor).post(reverse("admin:issues_section_add"), data).status_code == 302
    assert issue.sections.get().heading == "Sneaked in"
