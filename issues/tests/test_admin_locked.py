"""While a send is planned or running an issue is read-only in the admin (its
fields, sections and items); a sent issue may be corrected for the web archive."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from reversion.models import Version

from delivery.models import SendStatus
from issues.models import Issue, IssueStatus, Section, SectionItem, SectionKind
from issues.services import issue_save, section_save
from issues.tests.test_admin_issue import form_data
from testing.factories import SendFactory, make_full_issue

pytestmark = pytest.mark.django_db
S = IssueStatus


@pytest.fixture
def editor_client(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def _issue_with_send(status: str, send_status: str = SendStatus.SCHEDULED) -> tuple[Issue, int]:
    issue = make_full_issue(status=status)
    send = SendFactory.create(issue=issue, status=send_status)
    return issue, send.pk


def _stale_pages(client: Client, issue: Issue) -> tuple[dict[str, str], dict[str, str], Section]:
    """The issue and lead-section forms as an editor loaded them while the issue was approved."""
    lead = issue.sections.filter(kind=SectionKind.LEAD).order_by("position").first()
    assert lead is not None
    saved = issue.status
    Issue.objects.filter(pk=issue.pk).update(status=S.APPROVED)
    issue_page = client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    section_page = client.get(reverse("admin:issues_section_change", args=[lead.pk])).content.decode()
    Issue.objects.filter(pk=issue.pk).update(status=saved)
    return form_data(issue_page, "issue_form"), form_data(section_page, "section_form"), lead


@pytest.mark.parametrize("status", [S.SCHEDULED, S.SENDING])
def test_a_scheduled_or_sending_issue_page_is_read_only_and_says_why(editor_client, status: str) -> None:
    issue, send_pk = _issue_with_send(status, SendStatus.SCHEDULED if status == S.SCHEDULED else SendStatus.SENDING)
    html = editor_client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert 'id="issue-edit-notice"' in html and "Read-only:" in html
    assert f'href="{reverse("admin:delivery_send_change", args=[send_pk])}" id="locked-send-link"' in html
    if status == S.SCHEDULED:
        assert "Cancel the send to edit this issue" in html
    else:
        assert "Once it has been sent you may correct the web archive" in html
    assert 'name="_save"' not in html and 'name="title"' not in html
    assert 'name="sections-0-heading"' not in html  # the sections table is read-only too
    assert "Preview email, web page and text" in html  # preview and test sends stay available


@pytest.mark.parametrize("status", [S.SCHEDULED, S.SENDING])
def test_a_crafted_post_to_a_locked_issue_saves_nothing(editor_client, status: str) -> None:
    issue, _ = _issue_with_send(status)
    issue_data, _, _lead = _stale_pages(editor_client, issue)
    issue_data["title"] = "Changed after scheduling"
    issue_data["sections-0-heading"] = "Changed heading"
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    response = editor_client.post(url, issue_data, follow=True)
    assert "Nothing was saved." in response.content.decode()
    issue.refresh_from_db()
    assert issue.title != "Changed after scheduling" and issue.status == status
    assert not Section.objects.filter(issue=issue, heading="Changed heading").exists()


def test_a_crafted_post_to_a_locked_issues_section_saves_nothing(editor_client) -> None:
    issue, _ = _issue_with_send(S.SCHEDULED)
    _, section_data, lead = _stale_pages(editor_client, issue)
    before = list(lead.items.values_list("text", flat=True))
    section_data["heading"] = "Sneaky heading"
    section_data["items-0-text"] = "Sneaky detail."
    url = reverse("admin:issues_section_change", args=[lead.pk])
    response = editor_client.post(url, section_data, follow=True)
    assert "Nothing was saved." in response.content.decode()
    assert "cancel the send to edit this issue" in response.content.decode()
    lead.refresh_from_db()
    assert lead.heading != "Sneaky heading"
    assert list(lead.items.values_list("text", flat=True)) == before


def test_a_locked_issues_section_page_is_read_only_and_sections_cannot_be_deleted(editor_client) -> None:
    issue, send_pk = _issue_with_send(S.SCHEDULED)
    lead = issue.sections.filter(kind=SectionKind.LEAD).first()
    html = editor_client.get(reverse("admin:issues_section_change", args=[lead.pk])).content.decode()
    assert "Cancel the send to edit this issue" in html
    assert reverse("admin:delivery_send_change", args=[send_pk]) in html
    assert 'name="_save"' not in html and 'name="items-0-text"' not in html
    items = SectionItem.objects.filter(section=lead).count()
    response = editor_client.post(reverse("admin:issues_section_delete", args=[lead.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Section.objects.filter(pk=lead.pk).exists() and lead.items.count() == items


def test_a_section_cannot_be_added_to_a_locked_issue_from_the_section_page(editor_client) -> None:
    issue, _ = _issue_with_send(S.SCHEDULED)
    count = issue.sections.count()
    data = {"issue": issue.pk, "kind": "lead", "heading": "Late addition", "position": "9"}
    data |= {"items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0"}
    response = editor_client.post(reverse("admin:issues_section_add"), data)
    assert response.status_code == 200
    assert "cancel the send to edit this issue" in response.content.decode()
    assert issue.sections.count() == count


def test_restoring_an_old_version_of_a_locked_issue_is_refused(editor_client, editor) -> None:
    issue = make_full_issue(status=S.APPROVED)
    issue_save(issue=issue, acting_user=editor)
    version = Version.objects.get_for_object(issue).first()
    issue.title = "Approved title"
    issue_save(issue=issue, acting_user=editor)
    SendFactory.create(issue=issue)
    Issue.objects.filter(pk=issue.pk).update(status=S.SCHEDULED)
    url = reverse("admin:issues_issue_revision", args=[issue.pk, version.pk])
    page = editor_client.get(url).content.decode()
    assert 'id="restore-refused"' in page and 'name="_save"' not in page
    Issue.objects.filter(pk=issue.pk).update(status=S.APPROVED)
    data = form_data(editor_client.get(url).content.decode(), "issue_form")
    Issue.objects.filter(pk=issue.pk).update(status=S.SCHEDULED)
    response = editor_client.post(url, data, follow=True)
    assert "Nothing was saved." in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).title == "Approved title"


def test_the_services_refuse_to_change_a_locked_issue(editor) -> None:
    issue, _ = _issue_with_send(S.SCHEDULED)
    issue.title = "Changed"
    with pytest.raises(PermissionDenied, match="cancel the send"):
        issue_save(issue=issue, acting_user=editor)
    section = issue.sections.first()
    assert section is not None
    section.heading = "Changed"
    with pytest.raises(PermissionDenied, match="cancel the send"):
        section_save(section=section, acting_user=editor)
    assert Issue.objects.get(pk=issue.pk).title != "Changed"


def test_a_sent_issue_stays_editable_and_says_edits_reach_the_web_archive_only(editor_client) -> None:
    issue, _ = _issue_with_send(S.SENT, SendStatus.DONE)
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    html = editor_client.get(url).content.decode()
    assert "edits change the web archive only, not the emails already sent" in html
    data = form_data(html, "issue_form")
    data["title"] = "Corrected title"
    assert editor_client.post(url, data).status_code == 302
    assert Issue.objects.get(pk=issue.pk).title == "Corrected title"
    lead = issue.sections.filter(kind=SectionKind.LEAD).first()
    section_html = editor_client.get(reverse("admin:issues_section_change", args=[lead.pk])).content.decode()
    assert "not the emails already sent" in section_html and 'name="_save"' in section_html


def test_cancelling_the_send_makes_the_issue_editable_again(editor_client, editor) -> None:
    from delivery.services import send_cancel

    issue, send_pk = _issue_with_send(S.SCHEDULED)
    send_cancel(send=issue.sends.get(pk=send_pk), acting_user=editor)
    html = editor_client.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert 'name="_save"' in html and 'id="issue-edit-notice"' not in html
