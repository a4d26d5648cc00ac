from __future__ import annotations

import pytest
import reversion
from django.core.exceptions import PermissionDenied, ValidationError
from reversion.models import Version

from issues.models import Issue, IssueStatus, IssueTransition, Section
from issues.services import allowed_targets, issue_restore, issue_save, issue_transition, section_save
from testing.factories import IssueFactory, SectionFactory, make_full_issue

pytestmark = pytest.mark.django_db
S = IssueStatus


def test_contributor_submits_a_draft_for_review_and_an_audit_row_is_written(contributor) -> None:
    issue = IssueFactory.create()
    issue_transition(issue=issue, to_status=S.REVIEW, acting_user=contributor, note="Ready")
    issue.refresh_from_db()
    assert issue.status == S.REVIEW
    row = IssueTransition.objects.get(issue=issue)
    assert (row.actor, row.from_status, row.to_status, row.note) == (contributor, S.DRAFT, S.REVIEW, "Ready")


def test_contributor_cannot_approve(contributor) -> None:
    issue = IssueFactory.create(status=S.REVIEW)
    with pytest.raises(PermissionDenied, match="permission"):
        issue_transition(issue=issue, to_status=S.APPROVED, acting_user=contributor)
    issue.refresh_from_db()
    assert issue.status == S.REVIEW
    assert not IssueTransition.objects.exists()


def test_contributor_cannot_schedule_or_unapprove(contributor) -> None:
    issue = IssueFactory.create(status=S.APPROVED)
    with pytest.raises(PermissionDenied):
        issue_transition(issue=issue, to_status=S.SCHEDULED, acting_user=contributor)
    with pytest.raises(PermissionDenied):
        issue_transition(issue=issue, to_status=S.DRAFT, acting_user=contributor)
    assert Issue.objects.get(pk=issue.pk).status == S.APPROVED


def test_editor_walks_an_issue_from_draft_to_scheduled(editor) -> None:
    issue = make_full_issue()
    for target in (S.REVIEW, S.DRAFT, S.REVIEW, S.APPROVED, S.DRAFT, S.REVIEW, S.APPROVED, S.SCHEDULED):
        issue_transition(issue=issue, to_status=target, acting_user=editor)
    assert Issue.objects.get(pk=issue.pk).status == S.SCHEDULED
    moves = list(IssueTransition.objects.filter(issue=issue).order_by("id").values_list("from_status", "to_status"))
    assert moves[0] == (S.DRAFT, S.REVIEW)
    assert moves[-1] == (S.APPROVED, S.SCHEDULED)
    assert len(moves) == 8
    assert set(IssueTransition.objects.filter(issue=issue).values_list("actor", flat=True)) == {editor.pk}


def test_a_person_cannot_pull_a_scheduled_issue_back_only_cancelling_its_send_can(editor) -> None:
    issue = make_full_issue(status=S.SCHEDULED)
    with pytest.raises(ValidationError, match="cancel its send"):
        issue_transition(issue=issue, to_status=S.APPROVED, acting_user=editor)
    assert Issue.objects.get(pk=issue.pk).status == S.SCHEDULED
    assert allowed_targets(issue=issue, user=editor) == []
    # The delivery system (no acting user) moves it back when the send is cancelled.
    issue_transition(issue=issue, to_status=S.APPROVED)
    assert Issue.objects.get(pk=issue.pk).status == S.APPROVED


def test_the_system_moves_a_scheduled_issue_to_sending_and_sent() -> None:
    issue = IssueFactory.create(status=S.SCHEDULED)
    issue_transition(issue=issue, to_status=S.SENDING)
    issue_transition(issue=issue, to_status=S.SENT)
    assert Issue.objects.get(pk=issue.pk).status == S.SENT
    assert IssueTransition.objects.filter(issue=issue, actor=None).count() == 2


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.DRAFT, S.APPROVED),
        (S.DRAFT, S.SCHEDULED),
        (S.REVIEW, S.SCHEDULED),
        (S.SENT, S.DRAFT),
        (S.SENDING, S.DRAFT),
        (S.DRAFT, S.SENT),
    ],
)
def test_moves_outside_the_workflow_are_refused_with_a_clear_message(editor, source: str, target: str) -> None:
    issue = IssueFactory.create(status=source)
    with pytest.raises(ValidationError, match="cannot move"):
        issue_transition(issue=issue, to_status=target, acting_user=editor)
    assert Issue.objects.get(pk=issue.pk).status == source


def test_scheduling_is_refused_while_pre_send_checks_have_errors(editor) -> None:
    issue = make_full_issue(status=S.APPROVED, preheader="")
    with pytest.raises(ValidationError, match="preheader"):
        issue_transition(issue=issue, to_status=S.SCHEDULED, acting_user=editor)
    assert Issue.objects.get(pk=issue.pk).status == S.APPROVED


def test_buttons_offered_match_permissions(editor, contributor) -> None:
    review = IssueFactory.create(status=S.REVIEW)
    assert sorted(allowed_targets(issue=review, user=contributor)) == [S.DRAFT]
    assert sorted(allowed_targets(issue=review, user=editor)) == sorted([S.DRAFT, S.APPROVED])


def test_save_service_stores_word_count_and_reading_time(editor) -> None:
    issue = IssueFactory.build(title="Four words in title", slug="four-words")
    issue_save(issue=issue, acting_user=editor)
    SectionFactory.create(issue=issue, heading="", body="<p>" + "word " * 396 + "</p>")
    section_save(section=issue.sections.get())
    issue.refresh_from_db()
    assert issue.word_count == 4 + 396 + len(["A", "short", "summary", "of", "the", "day's", "stories."])
    assert issue.reading_minutes == 3


def test_contributor_may_not_save_an_issue_out_of_draft(contributor) -> None:
    issue = IssueFactory.create(status=S.REVIEW)
    issue.title = "Changed"
    with pytest.raises(PermissionDenied):
        issue_save(issue=issue, acting_user=contributor)
    assert Issue.objects.get(pk=issue.pk).title != "Changed"


def test_restoring_a_version_brings_back_earlier_section_text(editor) -> None:
    issue = IssueFactory.create()
    section = SectionFactory.create(issue=issue, heading="First heading", body="<p>Original words.</p>")
    with reversion.create_revision():
        issue.save()
    section = Section.objects.get(pk=section.pk)
    section.body = "<p>Rewritten words.</p>"
    section_save(section=section, acting_user=editor)
    versions = Version.objects.get_for_object(issue)
    assert versions.count() == 2
    earliest = versions.order_by("revision__date_created").first()
    issue_restore(version=earliest, acting_user=editor)
    assert Section.objects.get(pk=section.pk).body == "<p>Original words.</p>"
    assert Version.objects.get_for_object(issue).count() == 3


def test_restoring_brings_back_deleted_sections_with_their_items(editor) -> None:
    issue = make_full_issue()
    with reversion.create_revision():
        issue.save()
    tool = issue.sections.get(kind="tool")
    tool_pk, steps = tool.pk, list(tool.items.values_list("text", flat=True))
    lead = issue.sections.filter(kind="lead").order_by("position")[0]
    tool.delete()
    lead.items.all().delete()
    section_save(section=lead, items=[{"label": "New", "text": "Only one detail now."}], acting_user=editor)
    issue_restore(version=Version.objects.get_for_object(issue).order_by("pk")[0], acting_user=editor)
    restored = Section.objects.get(pk=tool_pk)
    assert restored.issue_id == issue.pk and restored.heading == "Summariser"
    assert list(restored.items.values_list("text", flat=True)) == steps
    assert list(lead.items.values_list("label", flat=True)) == ["Label 0", "Label 1", "Label 2"]
    assert issue.sections.count() == 6


def test_restoring_keeps_todays_status_and_writes_no_move(editor) -> None:
    issue = IssueFactory.create(title="Old title")
    with reversion.create_revision():
        issue.save()
    old = Version.objects.get_for_object(issue).get()
    issue_transition(issue=issue, to_status=S.REVIEW, acting_user=editor)
    issue_transition(issue=issue, to_status=S.APPROVED, acting_user=editor)
    issue.title = "New title"
    issue_save(issue=issue, acting_user=editor)
    issue_restore(version=old, acting_user=editor)
    issue.refresh_from_db()
    assert (issue.title, issue.status) == ("Old title", S.APPROVED)
    assert IssueTransition.objects.filter(issue=issue).count() == 2


def test_contributor_cannot_restore_versions(editor, contributor) -> None:
    issue = IssueFactory.create()
    with reversion.create_revision():
        issue.save()
    with pytest.raises(PermissionDenied):
        issue_restore(version=Version.objects.get_for_object(issue).get(), acting_user=contributor)


def test_warnings_do_not_block_scheduling(editor) -> None:
    from issues.checks import presend_checks

    issue = make_full_issue(status=S.APPROVED, subject="A subject that runs on well past what an inbox shows " * 2)
    assert [c.code for c in presend_checks(issue)] == ["subject_long"]
    assert [c.level for c in presend_checks(issue)] == ["warning"]
    issue_transition(issue=issue, to_status=S.SCHEDULED, acting_user=editor)
    assert Issue.objects.get(pk=issue.pk).status == S.SCHEDULED
