"""Issue templates in the admin: save an issue as one, start a draft from one, edit and delete them."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from issues.drafts import issue_template_create
from issues.models import Issue, IssueStatus, IssueTemplate
from testing.factories import make_full_issue

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def template(editor) -> IssueTemplate:
    return issue_template_create(issue=make_full_issue(), name="Daily digest", acting_user=editor)


def test_an_editor_saves_an_issue_as_a_template_from_its_page(editor) -> None:
    issue = make_full_issue()
    client = _client(editor)
    url = reverse("admin:issues_issue_save_as_template", args=[issue.pk])
    assert f'href="{url}"' in client.get(reverse("admin:issues_issue_change", args=[issue.pk])).text

    response = client.post(url, {"name": "Daily digest"})

    template = IssueTemplate.objects.get()
    assert response["Location"] == reverse("admin:issues_issuetemplate_change", args=[template.pk])
    assert len(template.shape["sections"]) == 6 and template.created_by == editor


@pytest.mark.parametrize(
    "name, error", [("", "This field is required."), ("DAILY digest", "A template called “DAILY digest” already")]
)
def test_an_empty_or_taken_name_shows_at_the_field_and_stores_nothing(editor, template, name, error) -> None:
    issue = make_full_issue()
    response = _client(editor).post(reverse("admin:issues_issue_save_as_template", args=[issue.pk]), {"name": name})

    assert response.status_code == 200
    assert error in response.text and 'class="errorlist' in response.text
    assert IssueTemplate.objects.count() == 1


def test_a_contributor_cannot_save_templates(contributor) -> None:
    issue = make_full_issue()
    client = _client(contributor)
    page = client.get(reverse("admin:issues_issue_change", args=[issue.pk])).text
    url = reverse("admin:issues_issue_save_as_template", args=[issue.pk])

    assert url not in page
    assert client.post(url, {"name": "Mine"}).status_code == 403
    assert not IssueTemplate.objects.exists()


def test_a_contributor_starts_a_draft_from_a_template_from_the_issue_list(contributor, template) -> None:
    client = _client(contributor)
    url = reverse("admin:issues_issue_from_template")
    assert f'href="{url}"' in client.get(reverse("admin:issues_issue_changelist")).text
    assert f'href="{url}"' in client.get(reverse("admin:issues_issue_add")).text

    response = client.post(url, {"template": template.pk, "title": "Wednesday's digest"})

    issue = Issue.objects.get(slug="wednesdays-digest")
    assert response["Location"] == reverse("admin:issues_issue_change", args=[issue.pk])
    assert (issue.status, issue.created_by, issue.sections.count()) == (IssueStatus.DRAFT, contributor, 6)


def test_a_templates_page_links_to_a_new_issue_with_it_chosen(editor, template) -> None:
    client = _client(editor)
    url = f"{reverse('admin:issues_issue_from_template')}?template={template.pk}"

    assert f'href="{url}"' in client.get(reverse("admin:issues_issuetemplate_change", args=[template.pk])).text
    assert f'<option value="{template.pk}" selected>' in client.get(url).text


def test_starting_from_a_template_without_a_title_says_so_and_stores_nothing(editor, template) -> None:
    before = Issue.objects.count()
    response = _client(editor).post(reverse("admin:issues_issue_from_template"), {"template": template.pk})

    assert response.status_code == 200 and "This field is required." in response.text
    assert Issue.objects.count() == before


def test_an_editor_edits_a_templates_name_and_shape_and_a_bad_shape_is_refused(editor, template) -> None:
    client = _client(editor)
    url = reverse("admin:issues_issuetemplate_change", args=[template.pk])
    shape = {"sections": [{"kind": "tool", "heading": "Tool of the Day", "items": [{"text": "Open it."}]}]}

    bad = client.post(url, {"name": "Renamed", "shape": json.dumps({"sections": [{"kind": "poem"}]})})
    assert bad.status_code == 200 and "Section 1: “kind” must be one of" in bad.text
    assert IssueTemplate.objects.get().name == "Daily digest"

    good = client.post(url, {"name": "Renamed", "shape": json.dumps(shape)})
    assert good.status_code == 302
    template.refresh_from_db()
    assert template.name == "Renamed" and template.shape["sections"][0]["items"][0]["text"] == "Open it."


def test_an_editor_deletes_a_template_from_the_list(editor, template) -> None:
    client = _client(editor)
    assert "Daily digest" in client.get(reverse("admin:issues_issuetemplate_changelist")).text

    client.post(reverse("admin:issues_issuetemplate_delete", args=[template.pk]), {"post": "yes"})

    assert not IssueTemplate.objects.exists()
