"""issue_duplicate: a new draft with the same sections and items, and none of the old one's history."""

from __future__ import annotations

import pytest
import reversion
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from reversion.models import Version

from issues.drafts import issue_duplicate
from issues.models import Author, Issue, IssueStatus, IssueTransition, PreviewSend, Section, SectionItem, Tag
from issues.services import issue_save, issue_transition
from testing.factories import UserFactory, make_full_issue

pytestmark = pytest.mark.django_db


def _shape(issue: Issue) -> list[tuple]:
    return [
        (s.kind, s.heading, s.body, s.analysis, s.sponsor_label, s.partner_name, s.link_url, s.link_label,
         [(i.label, i.text, i.url) for i in s.items.order_by("position")])
        for s in issue.sections.order_by("position")
    ]  # fmt: skip


@pytest.fixture
def sent_issue(editor, contributor) -> Issue:
    issue = make_full_issue(canonical_url="https://example.com/original", summary="Today's summary.")
    issue.authors.add(Author.objects.create(name="Ada Writer", slug="ada"))
    issue.tags.add(Tag.objects.create(name="Models", slug="models"))
    issue_save(issue=issue, acting_user=editor, comment="Edited")
    PreviewSend.objects.create(issue=issue, recipients=["a@example.com"])
    for status, user in [(IssueStatus.REVIEW, contributor), (IssueStatus.APPROVED, editor)]:
        issue_transition(issue=issue, to_status=status, acting_user=user)
    Issue.objects.filter(pk=issue.pk).update(status=IssueStatus.SENT, publish_date="2025-03-31T06:00Z")
    return Issue.objects.get(pk=issue.pk)


def test_the_copy_is_a_draft_with_the_same_sections_items_authors_and_tags(sent_issue, editor) -> None:
    copy = issue_duplicate(issue=sent_issue, acting_user=editor)

    assert copy.pk != sent_issue.pk
    assert (copy.status, copy.publish_date, copy.created_by) == (IssueStatus.DRAFT, None, editor)
    assert copy.title == f"{sent_issue.title} (copy)"
    assert copy.slug == f"{sent_issue.slug}-copy"
    assert _shape(copy) == _shape(sent_issue) and len(_shape(copy)) == 6
    assert (copy.summary, copy.preheader, copy.cover_alt) == (
        sent_issue.summary,
        sent_issue.preheader,
        sent_issue.cover_alt,
    )
    assert [a.name for a in copy.authors.all()] == ["Ada Writer"]
    assert [t.slug for t in copy.tags.all()] == ["models"]
    assert copy.canonical_url == ""
    assert copy.word_count == sent_issue.word_count + 1  # "(copy)" in the title


def test_the_original_is_left_as_it_was(sent_issue, editor) -> None:
    before = (_shape(sent_issue), SectionItem.objects.filter(section__issue=sent_issue).count())

    issue_duplicate(issue=sent_issue, acting_user=editor)

    sent_issue.refresh_from_db()
    assert sent_issue.status == IssueStatus.SENT
    assert (_shape(sent_issue), SectionItem.objects.filter(section__issue=sent_issue).count()) == before


def test_the_copy_has_no_sends_no_moves_and_one_revision_naming_the_original(sent_issue, editor) -> None:
    copy = issue_duplicate(issue=sent_issue, acting_user=editor)

    assert not IssueTransition.objects.filter(issue=copy).exists()
    assert not PreviewSend.objects.filter(issue=copy).exists()
    versions = Version.objects.get_for_object(copy)
    assert versions.count() == 1
    revision = versions.get().revision
    assert revision.comment == f"Duplicated from “{sent_issue.title}” (#{sent_issue.pk})"
    assert revision.user == editor
    # The one revision holds every section and item, so it can be restored.
    assert revision.version_set.filter(content_type__model="section").count() == 6
    assert revision.version_set.filter(content_type__model="sectionitem").count() == 3 * 3 + 3 + 8


def test_each_copy_gets_its_own_slug(sent_issue, editor) -> None:
    first = issue_duplicate(issue=sent_issue, acting_user=editor)
    second = issue_duplicate(issue=sent_issue, acting_user=editor)
    of_copy = issue_duplicate(issue=first, acting_user=editor)

    assert [first.slug, second.slug] == [f"{sent_issue.slug}-copy", f"{sent_issue.slug}-copy-2"]
    assert of_copy.slug == f"{sent_issue.slug}-copy-copy"
    assert of_copy.title.endswith("(copy) (copy)")


def test_a_contributor_may_duplicate_any_issue_and_the_copy_is_their_editable_draft(sent_issue, contributor) -> None:
    copy = issue_duplicate(issue=sent_issue, acting_user=contributor)

    assert (copy.status, copy.created_by) == (IssueStatus.DRAFT, contributor)
    with reversion.create_revision():
        copy.title = "Tomorrow's issue"
        issue_save(issue=copy, acting_user=contributor)


def test_someone_who_may_not_add_issues_cannot_duplicate_and_nothing_is_stored(sent_issue) -> None:
    viewer = UserFactory.create(username="viewer")
    viewer.groups.add(Group.objects.create(name="Viewers"))
    counts = (Issue.objects.count(), Section.objects.count(), Version.objects.count())

    with pytest.raises(PermissionDenied, match="permission to add issues"):
        issue_duplicate(issue=sent_issue, acting_user=viewer)

    assert (Issue.objects.count(), Section.objects.count(), Version.objects.count()) == counts
