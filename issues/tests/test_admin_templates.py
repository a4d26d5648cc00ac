"""Issue templates in the admin: save an issue as one, start a draft from one, edit and delete them."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from issues.drafts import issue_template_create
from issues.models import Author, Issue, IssueStatus, IssueTemplate
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


def _form(template: IssueTemplate, **changes) -> dict:
    """The template page's form as the browser posts it (the section editor fills ``shape``)."""
    data = {
        "name": template.name,
        "subject": template.subject,
        "preheader": template.preheader,
        "authors": [a.pk for a in template.authors.all()],
        "tags": [t.pk for t in template.tags.all()],
        "shape": json.dumps(template.shape),
    }
    return data | changes


def test_an_editor_edits_a_templates_name_texts_and_sections(editor, template) -> None:
    client = _client(editor)
    url = reverse("admin:issues_issuetemplate_change", args=[template.pk])
    author = Author.objects.create(name="Ada Writer", slug="ada-writer")
    shape = {"sections": [{"kind": "tool", "heading": "Tool of the Day", "items": [{"text": "Open <b>it</b>."}]}]}

    page = client.get(url).text
    assert 'id="composer-state"' in page and '"mode": "template"' in page

    good = client.post(url, _form(template, name="Renamed", subject="Daily: the news", authors=[author.pk],
                                  shape=json.dumps(shape)))  # fmt: skip
    assert good.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.subject, list(template.authors.all())) == ("Renamed", "Daily: the news", [author])
    assert template.shape["sections"][0]["items"][0]["text"] == "Open <b>it</b>."


@pytest.mark.parametrize(
    "shape, summary, in_place",
    [
        ({"sections": [{"kind": "poem"}]}, "Section 1: kind: Choose one of the kinds", {"kind"}),
        (
            {"sections": [{"kind": "lead", "heading": "Fine"}, {"kind": "tool", "items": [{"text": ""}]}]},
            "Section 2, item 1: text: This field cannot be blank.",
            {"items.0.text"},
        ),
        ({"sections": []}, "A template needs at least one section.", None),
        ("not json", "The sections did not arrive", None),
    ],
)
def test_a_bad_section_is_shown_in_place_and_nothing_of_the_template_is_stored(
    editor, template, shape, summary, in_place
) -> None:
    client = _client(editor)
    url = reverse("admin:issues_issuetemplate_change", args=[template.pk])
    before = (template.name, template.subject, template.shape)

    bad = client.post(url, _form(template, name="Renamed", subject="Changed too",
                                 shape=shape if isinstance(shape, str) else json.dumps(shape)))  # fmt: skip

    assert bad.status_code == 200 and summary in bad.text
    state = bad.context["composer_state"]
    if in_place:
        # The sections come back as the editor left them, the bad one's error at its field.
        refused = [s for s in state["sections"] if s["errors"]]
        assert len(state["sections"]) == len(shape["sections"]) and set(refused[0]["errors"]) == in_place
    template.refresh_from_db()
    assert (template.name, template.subject, template.shape) == before


def test_a_subject_over_its_limit_is_refused_at_its_field(editor, template) -> None:
    response = _client(editor).post(
        reverse("admin:issues_issuetemplate_change", args=[template.pk]), _form(template, subject="x" * 201)
    )
    assert response.status_code == 200 and "at most 200 characters" in response.text
    template.refresh_from_db()
    assert template.subject == ""


def test_an_editor_adds_a_template_on_its_own_page(editor) -> None:
    client = _client(editor)
    shape = {"sections": [{"kind": "quick_links", "heading": "Light Bytes", "items": []}]}
    assert client.get(reverse("admin:issues_issuetemplate_add")).status_code == 200

    response = client.post(
        reverse("admin:issues_issuetemplate_add"),
        {"name": "Links only", "subject": "", "preheader": "Five links", "shape": json.dumps(shape)},
    )

    assert response.status_code == 302
    template = IssueTemplate.objects.get()
    assert (template.preheader, template.created_by, template.sections[0]["heading"]) == (
        "Five links", editor, "Light Bytes",
    )  # fmt: skip


def test_an_editor_deletes_a_template_from_the_list(editor, template) -> None:
    client = _client(editor)
    assert "Daily digest" in client.get(reverse("admin:issues_issuetemplate_changelist")).text

    client.post(reverse("admin:issues_issuetemplate_delete", args=[template.pk]), {"post": "yes"})

    assert not IssueTemplate.objects.exists()


def test_a_contributor_sees_a_template_read_only_and_cannot_change_it(contributor, template) -> None:
    client = _client(contributor)
    url = reverse("admin:issues_issuetemplate_change", args=[template.pk])

    page = client.get(url)
    assert page.status_code == 200 and page.context["composer_state"]["editable"] is False
    assert "Shape:" not in page.text and 'name="shape"' not in page.text
    assert client.post(url, _form(template, name="Mine")).status_code == 403
    template.refresh_from_db()
    assert template.name == "Daily digest"
