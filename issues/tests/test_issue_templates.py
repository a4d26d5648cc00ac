"""Issue templates: saving an issue's shape, and starting a new draft from one."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from reversion.models import Version

from issues.drafts import issue_create_from_template, issue_template_create, issue_template_save
from issues.models import Author, Issue, IssueStatus, IssueTemplate, Section, SectionKind, Tag
from issues.shapes import ShapeInvalid, shape_clean
from testing.factories import make_full_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def shaped_issue() -> Issue:
    issue = make_full_issue(status=IssueStatus.SENT)
    Section.objects.filter(issue=issue, kind=SectionKind.HIGHLIGHT).update(
        sponsor_label="Special highlight from our network"
    )
    Section.objects.filter(issue=issue, kind=SectionKind.LEAD).update(link_label="Read the source")
    return issue


def test_a_template_keeps_the_sections_in_order_with_their_fixed_texts_but_not_the_days_words(
    shaped_issue, editor
) -> None:
    template = issue_template_create(issue=shaped_issue, name="Daily digest", acting_user=editor)

    sections = template.shape["sections"]
    assert [s["kind"] for s in sections] == ["lead", "lead", "lead", "highlight", "tool", "quick_links"]
    highlight = sections[3]
    assert (highlight["sponsor_label"], highlight["partner_name"]) == (
        "Special highlight from our network",
        "Partner Co",
    )
    assert sections[0]["link_label"] == "Read the source" and sections[5]["heading"] == "Light Bytes"
    assert all(s["body"] == s["analysis"] == s["link_url"] == "" and s["items"] == [] for s in sections)
    assert template.created_by == editor
    assert Version.objects.get_for_object(template).get().revision.comment == f"Saved from “{shaped_issue}”"


def test_a_template_keeps_the_issue_level_fields_and_a_new_issue_starts_with_them(shaped_issue, editor) -> None:
    ada, tools = Author.objects.create(name="Ada", slug="ada"), Tag.objects.create(name="Tools", slug="tools")
    Issue.objects.filter(pk=shaped_issue.pk).update(subject="The daily: AI news", preheader="Three stories, one tool")
    shaped_issue.refresh_from_db()
    shaped_issue.authors.set([ada])
    shaped_issue.tags.set([tools])

    template = issue_template_create(issue=shaped_issue, name="Daily digest", acting_user=editor)
    issue = issue_create_from_template(template=template, acting_user=editor, title="Thursday")

    for made in (template, issue):
        assert (made.subject, made.preheader) == ("The daily: AI news", "Three stories, one tool")
        assert (list(made.authors.all()), list(made.tags.all())) == ([ada], [tools])
    # The new issue's one revision holds them too (History shows them).
    fields = Version.objects.get_for_object(issue).get().field_dict
    assert fields["subject"] == "The daily: AI news" and list(fields["authors"]) == [ada.pk]


def test_a_template_may_keep_the_items_as_fixed_text(shaped_issue, editor) -> None:
    template = issue_template_create(issue=shaped_issue, name="With links", acting_user=editor, keep_items=True)

    quick_links = template.shape["sections"][5]["items"]
    assert len(quick_links) == 8 and quick_links[0] == {
        "label": "",
        "text": "Quick item 0.",
        "url": "https://news.example.com/0",
    }


def test_a_new_issue_from_a_template_is_a_draft_with_its_sections_and_one_revision(shaped_issue, editor, contributor):
    template = issue_template_create(issue=shaped_issue, name="Daily digest", acting_user=editor, keep_items=True)

    issue = issue_create_from_template(template=template, acting_user=contributor, title="Tuesday's digest")

    assert (issue.title, issue.slug, issue.status, issue.created_by) == (
        "Tuesday's digest", "tuesdays-digest", IssueStatus.DRAFT, contributor,
    )  # fmt: skip
    sections = list(issue.sections.order_by("position"))
    assert [s.kind for s in sections] == [s["kind"] for s in template.shape["sections"]]
    assert sections[3].sponsor_label == "Special highlight from our network"
    assert sections[5].items.count() == 8
    revision = Version.objects.get_for_object(issue).get().revision
    assert revision.comment == "Started from the template “Daily digest”"
    assert revision.version_set.filter(content_type__model="section").count() == 6


@pytest.mark.parametrize(
    "name, message",
    [("   ", "Give the template a name."), ("daily DIGEST", "A template called “daily DIGEST” already exists")],
)
def test_an_empty_or_taken_name_is_refused_and_nothing_is_stored(shaped_issue, editor, name, message) -> None:
    issue_template_create(issue=shaped_issue, name="Daily digest", acting_user=editor)

    with pytest.raises(ValidationError) as caught:
        issue_template_create(issue=shaped_issue, name=name, acting_user=editor)

    assert message in caught.value.message_dict["name"][0]
    assert IssueTemplate.objects.count() == 1


def test_a_contributor_may_not_save_a_template(shaped_issue, contributor) -> None:
    with pytest.raises(PermissionDenied):
        issue_template_create(issue=shaped_issue, name="Mine", acting_user=contributor)
    assert not IssueTemplate.objects.exists()


@pytest.mark.parametrize(
    "shape, message",
    [
        ({"sections": []}, "at least one section"),
        ({"sections": [{"kind": "poem"}]}, "Section 1: kind: Choose one of the kinds lead,"),
        ({"sections": [{"kind": "lead", "colour": "red"}]}, "unknown field(s) colour"),
        ({"sections": [{"kind": "tool", "items": [{"text": ""}]}]}, "Section 1, item 1: text:"),
        ({"sections": [{"kind": "lead", "link_url": "ftp://x.example"}]}, "Section 1: link_url: Enter a full web"),
        ({"sections": [{"kind": "lead", "heading": 7}]}, "“heading” must be text"),
        ([], 'A template is an object {"sections": [...]}'),
    ],
)
def test_a_bad_shape_is_refused_with_the_place_and_the_reason(shape, message) -> None:
    with pytest.raises(ValidationError) as caught:
        shape_clean(shape)
    assert message in caught.value.messages[0]


def test_every_bad_section_is_reported_by_its_index_and_field() -> None:
    shape = {
        "sections": [
            {"kind": "lead", "heading": "Fine"},
            {"kind": "lead", "link_url": "javascript:alert(1)"},
            {"kind": "quick_links", "items": [{"text": "ok", "url": "https://a.example"}, {"text": "x", "url": "no"}]},
        ]
    }
    with pytest.raises(ShapeInvalid) as caught:
        shape_clean(shape)
    assert set(caught.value.sections) == {1, 2}
    assert set(caught.value.sections[1]) == {"link_url"} and set(caught.value.sections[2]) == {"items.1.url"}
    assert len(caught.value.messages) == 2 and caught.value.messages[1].startswith("Section 3, item 2: url:")


def test_an_edited_template_with_a_bad_shape_is_not_stored(shaped_issue, editor) -> None:
    template = issue_template_create(issue=shaped_issue, name="Daily digest", acting_user=editor)
    template.shape = {"sections": [{"kind": "poem"}]}

    with pytest.raises(ValidationError) as caught:
        issue_template_save(template=template, acting_user=editor)

    assert "shape" in caught.value.message_dict
    template.refresh_from_db()
    assert template.shape["sections"][0]["kind"] == "lead"


def test_a_new_issue_needs_a_title_and_nothing_is_stored_without_one(shaped_issue, editor) -> None:
    template = issue_template_create(issue=shaped_issue, name="Daily digest", acting_user=editor)
    before = (Issue.objects.count(), Section.objects.count())

    with pytest.raises(ValidationError) as caught:
        issue_create_from_template(template=template, acting_user=editor, title="  ")

    assert caught.value.message_dict["title"] == ["Give the new issue a title."]
    assert (Issue.objects.count(), Section.objects.count()) == before
