"""Writes for the editorial app: saving issues and sections, moving issues
through the workflow, restoring revisions and test sends.

Every function is keyword-only and runs in a transaction; workflow moves check
the actor's permission and write an IssueTransition audit row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import reversion
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import ProtectedError
from reversion.models import Revision, Version

from core.events import EventName, emit
from core.queue import TaskQueueUnavailable as TaskQueueUnavailable  # what preview_send_create raises
from core.queue import enqueue_on_commit
from core.sanitize import sanitize_html
from issues.models import (
    Issue,
    IssueStatus,
    IssueTransition,
    PreviewSend,
    PreviewSendStatus,
    Publication,
    Section,
    SectionItem,
)
from issues.preview_send_policy import preview_send_quota_check, preview_send_recipients_check
from issues.rendering import count_words, reading_minutes, sections_with_items
from issues.search import search_vector_refresh
from issues.selectors import next_issue_number, public_cache_clear, publication_cache_clear
from issues.tasks import preview_send_task

S = IssueStatus

ALLOWED_MOVES: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.REVIEW}),
    S.REVIEW: frozenset({S.DRAFT, S.APPROVED}),
    S.APPROVED: frozenset({S.DRAFT, S.SCHEDULED}),
    S.SCHEDULED: frozenset({S.APPROVED, S.SENDING}),
    # Back to approved only when its send was cancelled before anyone could have it (delivery.services).
    S.SENDING: frozenset({S.SENT, S.APPROVED}),
    S.SENT: frozenset(),
}

# The permission a person needs to move an issue *to* a status. Moving an
# approved or scheduled issue back needs the same right that put it there.
TARGET_PERMISSION: dict[str, str] = {
    S.REVIEW: "issues.submit_issue",
    S.APPROVED: "issues.approve_issue",
    S.SCHEDULED: "issues.schedule_issue",
    S.SENDING: "issues.schedule_issue",
    S.SENT: "issues.schedule_issue",
}
SOURCE_PERMISSION: dict[str, str] = {
    S.APPROVED: "issues.approve_issue",
    S.SCHEDULED: "issues.schedule_issue",
}
# Once a send is planned only the delivery system moves the issue on; a person
# cancels the send instead (delivery's send_cancel moves the issue back).
SYSTEM_ONLY_SOURCES = frozenset({S.SCHEDULED, S.SENDING})
MAX_TEST_RECIPIENTS = 10


def user_is_editor(user: Any) -> bool:
    """Editors may change an issue in any state; contributors only drafts."""
    return bool(user.has_perm("issues.approve_issue"))


# While a send is planned or running the text is frozen: the pre-send checks
# passed on this text when the send was scheduled, and the emails must be it.
LOCKED_STATUSES = frozenset({S.SCHEDULED, S.SENDING})


def lock_reason(issue: Issue) -> str | None:
    """Why nobody may change ``issue`` now (a send is planned or running), or None."""
    if issue.status == S.SCHEDULED:
        return "This issue is scheduled to be sent: cancel the send to edit this issue."
    if issue.status == S.SENDING:
        return "This issue is being sent: it cannot be edited until its send is over."
    return None


def edit_refusal(user: Any, issue: Issue | None) -> str | None:
    """Why ``user`` may not change ``issue`` (its fields, sections or items) now, or None."""
    if issue is None or issue.pk is None:
        return None
    locked = lock_reason(issue)
    if locked:
        return locked
    if issue.status != S.DRAFT and not user_is_editor(user):
        return "Only editors may change an issue once it has left draft."
    return None


def user_may_edit(user: Any, issue: Issue | None) -> bool:
    return edit_refusal(user, issue) is None


def allowed_targets(*, issue: Issue, user: Any) -> list[str]:
    """The statuses this user may move the issue to now (for the admin buttons)."""
    if issue.status in SYSTEM_ONLY_SOURCES:
        return []
    return [
        target
        for target in ALLOWED_MOVES[issue.status]
        if target not in (S.SENDING, S.SENT) and _permission_problem(issue.status, target, user) is None
    ]


def transition_permission_check(*, issue: Issue, to_status: str, user: Any) -> None:
    """Raise PermissionDenied when ``user`` may not make this move at all."""
    problem = _permission_problem(issue.status, to_status, user)
    if problem:
        raise PermissionDenied(problem)


def _permission_problem(source: str, target: str, user: Any) -> str | None:
    needed = [p for p in (TARGET_PERMISSION.get(target), SOURCE_PERMISSION.get(source)) if p]
    if target == S.DRAFT and source == S.REVIEW:
        needed.append("issues.submit_issue")
    for perm in needed:
        if not user.has_perm(perm):
            return f"You do not have permission to move an issue from “{S(source).label}” to “{S(target).label}”."
    return None


def issue_transition(*, issue: Issue, to_status: str, acting_user: Any = None, note: str = "") -> Issue:
    """Move ``issue`` to ``to_status``, checking the move and the actor's permission.

    ``acting_user=None`` is the system (the delivery worker). Raises
    PermissionDenied or ValidationError with a message for the editor."""
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        source = locked.status
        if to_status not in S.values:
            raise ValidationError(f"“{to_status}” is not a status.")
        if to_status not in ALLOWED_MOVES[source]:
            raise ValidationError(f"An issue cannot move from “{S(source).label}” to “{S(to_status).label}”.")
        if acting_user is not None:
            problem = _permission_problem(source, to_status, acting_user)
            if problem:
                raise PermissionDenied(problem)
            if source in SYSTEM_ONLY_SOURCES:
                raise ValidationError(f"This issue is {S(source).label.lower()}: cancel its send to change its status.")
        if to_status == S.SCHEDULED:
            from issues.checks import blocking_errors

            errors = blocking_errors(locked)
            if errors:
                raise ValidationError(["Fix the pre-send errors before scheduling:", *[c.message for c in errors]])
        locked.status = to_status
        fields = ["status", "updated_at"]
        if to_status == S.SENDING and locked.number is None:
            locked.number = _issue_number_take()
            fields.append("number")
        locked.save(update_fields=fields)
        IssueTransition.objects.create(
            issue=locked, actor=acting_user, from_status=source, to_status=to_status, note=note[:500]
        )
        public_pages_changed()
        if to_status == S.SENT:
            emit(EventName.ISSUE_PUBLISHED, {"issue_id": locked.pk, "slug": locked.slug, "title": locked.title})
    issue.status = locked.status
    issue.updated_at = locked.updated_at
    issue.number = locked.number
    return issue


def _issue_number_take() -> int:
    """The next issue number, for an issue whose first send starts.

    The publication's row is the counter's lock: two issues starting their
    sends at once take it in turn, so they never get the same number."""
    Publication.objects.get_or_create(pk=1)
    Publication.objects.select_for_update().get(pk=1)
    return next_issue_number()


def publication_save(*, publication: Publication, acting_user: Any) -> Publication:
    """Store the masthead an editor set; the next email and page read it fresh.

    ``publication`` has been validated (its admin form); only editors (who may
    change it) save it."""
    if acting_user is not None and not acting_user.has_perm("issues.change_publication"):
        raise PermissionDenied("Only editors may change the publication's masthead.")
    with transaction.atomic():
        publication.pk = 1
        publication.save()
        transaction.on_commit(publication_cache_clear)
        public_pages_changed()
    return publication


def issue_refresh_stats(*, issue: Issue, pages_changed: bool = True) -> Issue:
    """Recompute the stored word count, reading time and search vector from the sections.
    ``pages_changed=False``: the caller knows readers cannot see the issue, so
    the public pages' cache is kept."""
    issue = Issue.objects.prefetch_related(None).get(pk=issue.pk)
    issue._prefetched_objects_cache = {"sections": list(sections_with_items(issue))}  # type: ignore[attr-defined]
    words = count_words(issue)
    Issue.objects.filter(pk=issue.pk).update(word_count=words, reading_minutes=reading_minutes(words))
    search_vector_refresh(issue_ids=[issue.pk])
    issue.word_count, issue.reading_minutes = words, reading_minutes(words)
    if pages_changed:
        public_pages_changed()
    return issue


def issue_touched(*, issue: Issue, acting_user: Any) -> None:
    """Count one more version of ``issue``'s text, by ``acting_user`` (optimistic locking)."""
    from django.db.models import F
    from django.utils import timezone

    Issue.objects.filter(pk=issue.pk).update(version=F("version") + 1, edited_by=acting_user, updated_at=timezone.now())
    issue.refresh_from_db(fields=["version", "edited_by", "updated_at"])


_UNLOCKED_FIELDS = [
    f.name
    for f in Issue._meta.concrete_fields
    if not f.primary_key and f.name not in ("version", "edited_by", "search_vector")
]


def issue_save(*, issue: Issue, acting_user: Any = None, comment: str = "", base_version: int | None = None) -> Issue:
    """Validate and save an issue (a new revision), then refresh its stats.

    With ``base_version`` (the version the editor's page was loaded at), a save
    over someone else's newer one raises issues.composer.EditConflict."""
    problem = edit_refusal(acting_user, issue) if acting_user is not None else None
    if problem:
        raise PermissionDenied(problem)
    issue.full_clean()
    if base_version is not None and issue.pk:
        from issues.composer import issue_version_check

        with transaction.atomic():
            stored = Issue.objects.select_for_update(of=("self",)).select_related("edited_by").get(pk=issue.pk)
            issue_version_check(issue=stored, base_version=base_version)
            return _issue_save_revision(issue=issue, acting_user=acting_user, comment=comment)
    return _issue_save_revision(issue=issue, acting_user=acting_user, comment=comment)


def _issue_save_revision(*, issue: Issue, acting_user: Any, comment: str) -> Issue:
    # Inside the admin's own revision, its change message ("Changed title.") stays the comment.
    nested = reversion.is_active()
    with transaction.atomic(), reversion.create_revision():
        if acting_user is not None:
            reversion.set_user(acting_user)
            issue.created_by = issue.created_by or acting_user
        if comment or not nested:
            reversion.set_comment(comment or "Saved")
        # The version number moves only forward, in the database (issue_touched).
        issue.save(update_fields=_UNLOCKED_FIELDS if issue.pk else None)
        if acting_user is not None:
            issue_touched(issue=issue, acting_user=acting_user)
        return issue_refresh_stats(issue=issue)


def section_save(
    *, section: Section, items: Iterable[dict[str, Any]] | None = None, acting_user: Any = None
) -> Section:
    """Sanitise, validate and save a section (and replace its items when given)."""
    problem = edit_refusal(acting_user, section.issue) if acting_user is not None else None
    if problem:
        raise PermissionDenied(problem)
    section.body = sanitize_html(section.body)
    section.analysis = sanitize_html(section.analysis)
    section.full_clean()
    with transaction.atomic(), reversion.create_revision():
        if acting_user is not None:
            reversion.set_user(acting_user)
        section.save()
        if items is not None:
            section.items.all().delete()
            for position, values in enumerate(items):
                item = SectionItem(section=section, position=position, **values)
                item.full_clean()
                item.save()
        if acting_user is not None:
            issue_touched(issue=section.issue, acting_user=acting_user)
        issue_refresh_stats(issue=section.issue)
    return section


@contextmanager
def issue_status_kept(*, revision: Revision) -> Iterator[dict[int, str]]:
    """Keep the workflow status (and the number) of every issue in ``revision`` through a revert.

    A revision stores each issue's status as it was then; reverting it must
    bring back the text, never move the issue (only issue_transition does
    that, with its checks and audit row). Use inside a transaction."""
    issue_type = ContentType.objects.get_for_model(Issue)
    ids = [int(pk) for pk in revision.version_set.filter(content_type=issue_type).values_list("object_id", flat=True)]
    kept = dict(Issue.objects.filter(pk__in=ids).values_list("pk", "status"))
    versions = dict(Issue.objects.filter(pk__in=ids).values_list("pk", "version"))
    # The number too: readers know the issue by it (and an old one may belong to another issue now).
    numbers = dict(Issue.objects.filter(pk__in=ids).values_list("pk", "number"))
    yield kept
    for pk, status in kept.items():
        Issue.objects.filter(pk=pk).exclude(status=status).update(status=status)
        # The revision stores an old version number: a restore is one more
        # change, so a page opened before it is refused, never saved over it.
        Issue.objects.filter(pk=pk).update(version=versions[pk] + 1, number=numbers[pk])


def issue_restore(*, version: Version, acting_user: Any) -> Issue:
    """Bring back an issue (with its sections and items) as it was in ``version``.

    The status stays what it is now: a restore is an edit, not a workflow move."""
    if not user_is_editor(acting_user):
        raise PermissionDenied("Only editors may restore an earlier version.")
    problem = edit_refusal(acting_user, Issue.objects.filter(pk=version.object_id).first())
    if problem:
        raise PermissionDenied(problem)
    with transaction.atomic(), reversion.create_revision():
        reversion.set_user(acting_user)
        reversion.set_comment(f"Restored the version of {version.revision.date_created:%d %b %Y %H:%M}")
        with issue_status_kept(revision=version.revision):
            version.revision.revert(delete=True)
        issue = Issue.objects.get(pk=version.object_id)
        issue.save()
        return issue_refresh_stats(issue=issue)


def issue_recovered(*, issue: Issue, acting_user: Any) -> Issue:
    """A deleted issue brought back from history starts again as a draft.

    Its old audit rows went with it, so the move back to draft is recorded."""
    if not user_is_editor(acting_user):
        raise PermissionDenied("Only editors may recover a deleted issue.")
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        if locked.status != S.DRAFT:
            IssueTransition.objects.create(
                issue=locked,
                actor=acting_user,
                from_status=locked.status,
                to_status=S.DRAFT,
                note="Recovered after deletion",
            )
            Issue.objects.filter(pk=locked.pk).update(status=S.DRAFT)
        public_pages_changed()
    return issue_refresh_stats(issue=locked)


def issues_delete(*, issues: Iterable[Issue], acting_user: Any) -> int:
    """Delete issues with their sections, items and workflow history; returns how many.

    An issue that has a send is kept (ValidationError, nothing deleted): its
    delivery records and analytics need it. The public pages forget the
    issues once the deletion commits."""
    issues = list(issues)
    if not acting_user.has_perm("issues.delete_issue"):
        raise PermissionDenied("You do not have permission to delete issues.")
    for issue in issues:
        # A scheduled or sending issue has a send, which keeps it (below).
        if issue.status != S.DRAFT and not user_is_editor(acting_user):
            raise PermissionDenied("Only editors may delete an issue once it has left draft.")
    with transaction.atomic():
        try:
            Issue.objects.filter(pk__in=[issue.pk for issue in issues]).delete()
        except ProtectedError as exc:
            titles = sorted({str(getattr(row, "issue", row)) for row in exc.protected_objects})
            raise ValidationError(
                f"Not deleted: {', '.join(f'“{t}”' for t in titles)} "
                f"{'has sends' if len(titles) == 1 else 'have sends'}. An issue with a send is kept so that its "
                "delivery records and analytics stay complete."
            ) from None
        public_pages_changed()
    return len(issues)


def parse_recipients(raw: str) -> list[str]:
    """Addresses typed by an editor (commas, spaces or lines); raises ValidationError."""
    addresses: list[str] = []
    for part in raw.replace(";", ",").replace("\n", ",").replace(" ", ",").split(","):
        address = part.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"“{address}” is not a valid email address.") from None
        if address.lower() not in (a.lower() for a in addresses):
            addresses.append(address)
    if not addresses:
        raise ValidationError("Enter at least one email address.")
    if len(addresses) > MAX_TEST_RECIPIENTS:
        raise ValidationError(f"Send a test to at most {MAX_TEST_RECIPIENTS} addresses at a time.")
    return addresses


NOT_QUEUED = "Not queued: the task queue could not be reached. Press Send test again."
TEST_SEND_NOT_QUEUED = (
    "Test send not queued: the task queue could not be reached. Try again in a minute; "
    "if it keeps failing, the queue (Redis) needs attention."
)


def preview_send_create(*, issue: Issue, recipients: list[str], acting_user: Any) -> PreviewSend:
    """Store a test send and queue it after commit.

    If the broker cannot be reached the stored row says so (it never shows as
    queued) and TaskQueueUnavailable (core.queue's), whose text the admin
    shows as it is, is raised when the transaction commits. Addresses or a
    number of them that issues.preview_send_policy refuses raise
    ValidationError before anything is stored."""
    if not acting_user.has_perm("issues.add_previewsend"):
        raise PermissionDenied("You do not have permission to send test emails.")
    preview_send_recipients_check(recipients=recipients, is_editor=user_is_editor(acting_user))
    with transaction.atomic():
        preview_send_quota_check(recipients=recipients, acting_user=acting_user)
        preview = PreviewSend.objects.create(issue=issue, requested_by=acting_user, recipients=recipients)
        enqueue_on_commit(
            lambda: preview_send_task.delay(preview.pk),
            on_failure=lambda: _preview_send_not_queued(preview),
            message=TEST_SEND_NOT_QUEUED,
        )
    return preview


def _preview_send_not_queued(preview: PreviewSend) -> None:
    PreviewSend.objects.filter(pk=preview.pk, status=PreviewSendStatus.QUEUED).update(
        status=PreviewSendStatus.NOT_QUEUED, error=NOT_QUEUED
    )
    preview.status, preview.error = PreviewSendStatus.NOT_QUEUED, NOT_QUEUED


def public_pages_changed() -> None:
    """Something readers see changed (an issue, a tag's or an author's name):
    forget the cached public pages once the current transaction commits."""
    transaction.on_commit(public_cache_clear)
