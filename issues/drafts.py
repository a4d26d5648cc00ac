"""New drafts from an existing issue or from a template of its shape: Duplicate,
Save as template, New issue from template. Each checks permission and writes
a revision, as the other editorial services do."""

from __future__ import annotations

from typing import Any

import reversion
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from core.queue import TaskQueueUnavailable as TaskQueueUnavailable  # what preview_send_create raises
from issues.models import (
    Issue,
    IssueStatus,
    IssueTemplate,
)
from issues.services import issue_refresh_stats
from issues.shapes import ALL_SECTION_FIELDS, TEMPLATE_SECTION_FIELDS, sections_build, shape_clean, shape_of

S = IssueStatus


COPY_MARK = " (copy)"


def issue_unique_slug(base: str) -> str:
    """``base``, or ``base-2``, ``base-3``… : the first slug no issue uses yet."""
    limit = Issue._meta.get_field("slug").max_length or 120
    base = base[: limit - 4].strip("-") or "issue"  # room left for "-999"
    taken = set(Issue.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _new_draft(
    *, issue: Issue, shape: dict[str, Any], acting_user: Any, comment: str, authors: Any = (), tags: Any = ()
) -> Issue:
    """Save a new draft with ``shape``'s sections as its first and only revision."""
    issue.status = S.DRAFT
    issue.publish_date = None
    issue.created_by = acting_user
    issue.full_clean()
    with transaction.atomic(), reversion.create_revision():
        reversion.set_user(acting_user)
        reversion.set_comment(comment)
        issue.save()
        issue.authors.set(authors)
        issue.tags.set(tags)
        sections_build(issue=issue, shape=shape)
        issue = issue_refresh_stats(issue=issue)
        # Sections and items were bulk-created (no signals): adding the issue
        # now puts it, them and the stats in its one revision.
        reversion.add_to_revision(issue)
    return Issue.objects.get(pk=issue.pk)


def issue_duplicate(*, issue: Issue, acting_user: Any) -> Issue:
    """A new draft with the same sections, items, cover, summary, email texts,
    authors and tags; its own slug, a title marked “(copy)”, no publish date,
    no sends, no workflow history and one revision saying where it came from.

    Anyone who may add issues may duplicate one (a contributor's copy is their
    own draft, which they may edit). The "Read original article" link is not
    copied: it names the old issue's source."""
    if not acting_user.has_perm("issues.add_issue"):
        raise PermissionDenied("You do not have permission to add issues, so you cannot duplicate one.")
    source = Issue.objects.get(pk=issue.pk)
    title_limit = Issue._meta.get_field("title").max_length or 200
    copy = Issue(
        title=source.title[: title_limit - len(COPY_MARK)] + COPY_MARK,
        slug=issue_unique_slug(f"{source.slug}-copy"),
        subject=source.subject,
        preheader=source.preheader,
        summary=source.summary,
        cover_image=source.cover_image.name,
        cover_alt=source.cover_alt,
    )
    return _new_draft(
        issue=copy,
        shape=shape_of(source, section_fields=ALL_SECTION_FIELDS, with_items=True),
        acting_user=acting_user,
        comment=f"Duplicated from “{source}” (#{source.pk})",
        authors=list(source.authors.all()),
        tags=list(source.tags.all()),
    )


def template_name_clean(name: str, *, template: IssueTemplate | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Give the template a name."})
    if len(name) > (IssueTemplate._meta.get_field("name").max_length or 120):
        raise ValidationError({"name": "Keep the name under 120 characters."})
    others = IssueTemplate.objects.filter(name__iexact=name)
    if template is not None and template.pk:
        others = others.exclude(pk=template.pk)
    if others.exists():
        raise ValidationError({"name": f"A template called “{name}” already exists; choose another name."})
    return name


def issue_template_save(
    *, template: IssueTemplate, acting_user: Any, comment: str = "", authors: Any = None, tags: Any = None
) -> IssueTemplate:
    """Check and store a template (new or edited): a unique name, its issue-level
    texts within their limits and a valid shape; ``authors`` and ``tags``, when
    given, replace the template's.

    Raises ValidationError keyed by field (nothing is stored) or PermissionDenied."""
    needed = "issues.change_issuetemplate" if template.pk else "issues.add_issuetemplate"
    if not acting_user.has_perm(needed):
        raise PermissionDenied("Only editors may save issue templates.")
    template.name = template_name_clean(template.name, template=template)
    template.subject, template.preheader = template.subject.strip(), template.preheader.strip()
    try:
        template.shape = shape_clean(template.shape)
    except ValidationError as exc:
        raise ValidationError({"shape": exc.messages}) from None
    # The texts' own limits (the name and shape are checked above).
    template.full_clean(exclude=["name", "shape", "created_by"], validate_unique=False)
    template.created_by = template.created_by or acting_user
    with transaction.atomic(), reversion.create_revision():
        reversion.set_user(acting_user)
        reversion.set_comment(comment or ("Changed" if template.pk else "Created"))
        template.save()
        if authors is not None:
            template.authors.set(authors)
        if tags is not None:
            template.tags.set(tags)
    return template


def issue_template_create(*, issue: Issue, name: str, acting_user: Any, keep_items: bool = False) -> IssueTemplate:
    """Save ``issue``'s shape as a template called ``name``: its subject, preheader,
    authors and tags, and its sections in order with their kinds, headings,
    sponsor labels, partner names and link labels (bodies, analysis and links are
    each day's own), and their items when ``keep_items`` (fixed steps or links
    that every issue repeats)."""
    shape = shape_of(issue, section_fields=TEMPLATE_SECTION_FIELDS, with_items=keep_items)
    template = IssueTemplate(name=name, shape=shape, subject=issue.subject, preheader=issue.preheader)
    return issue_template_save(
        template=template,
        acting_user=acting_user,
        comment=f"Saved from “{issue}”",
        authors=list(issue.authors.all()),
        tags=list(issue.tags.all()),
    )


def issue_create_from_template(*, template: IssueTemplate, acting_user: Any, title: str) -> Issue:
    """A new draft titled ``title`` with the template's subject, preheader, authors,
    tags and sections, ready to fill in."""
    if not acting_user.has_perm("issues.add_issue"):
        raise PermissionDenied("You do not have permission to add issues.")
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError({"title": "Give the new issue a title."})
    try:
        shape = shape_clean(template.shape)
    except ValidationError as exc:
        raise ValidationError({"template": [f"The template “{template}” is not valid:", *exc.messages]}) from None
    issue = Issue(
        title=title,
        slug=issue_unique_slug(slugify(title)[:120].strip("-")),
        subject=template.subject,
        preheader=template.preheader,
    )
    try:
        return _new_draft(
            issue=issue,
            shape=shape,
            acting_user=acting_user,
            comment=f"Started from the template “{template}”",
            authors=list(template.authors.all()),
            tags=list(template.tags.all()),
        )
    except ValidationError as exc:
        raise ValidationError({"title": exc.messages}) from None


def issue_create_draft(*, title: str, slug: str = "", acting_user: Any, comment: str) -> Issue:
    """A new, empty draft titled ``title`` (the API's create; its sections come after, through the composer).

    The slug follows the title unless given; a given slug already taken is refused."""
    if not acting_user.has_perm("issues.add_issue"):
        raise PermissionDenied("You do not have permission to add issues.")
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError({"title": "Give the new issue a title."})
    if slug and Issue.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": "Another issue already uses this slug."})
    issue = Issue(title=title, slug=slug or issue_unique_slug(slugify(title)[:120].strip("-")))
    return _new_draft(issue=issue, shape={"sections": []}, acting_user=acting_user, comment=comment)
