"""Issues: read them structured and rendered; create and change drafts through the composer's service.

A create or change is all or nothing: the composer saves each valid section
and reports the others, so the API runs it in a transaction it rolls back when
anything was refused, and answers 422 naming each field (``sections.2.link_url``)."""

from __future__ import annotations

from typing import Any

import reversion
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Status

from api.auth import actor, scoped, via
from api.routers.common import MAX_LIMIT, keyset_page, one
from api.schemas import IssueCreate, IssueOut, IssuePage, IssueUpdate, RenderedOut, SectionIn, answers
from issues.composer import ComposeResult, issue_compose_save
from issues.drafts import issue_create_draft
from issues.models import Issue, IssueStatus
from issues.rendering import render_email, render_web_sections, sections_with_items
from issues.shapes import ALL_SECTION_FIELDS

READ, WRITE = "issues:read", "issues:write"
router = Router(tags=["issues"])
TEXT_FIELDS = ("title", "slug", "subject", "preheader", "summary", "canonical_url")


def _may_view(request: HttpRequest) -> None:
    if not actor(request).has_perm("issues.view_issue"):
        raise PermissionDenied("The account this key acts as may not view issues.")


def issue_summary(issue: Issue) -> dict[str, Any]:
    return {
        "id": issue.pk,
        "title": issue.title,
        "slug": issue.slug,
        "status": issue.status,
        "subject": issue.email_subject,
        "publish_date": issue.publish_date,
        "version": issue.version,
        "updated_at": issue.updated_at,
        "url": issue.get_absolute_url(),
    }


def issue_out(issue: Issue) -> dict[str, Any]:
    sections = [
        {
            "id": s.pk,
            **{name: getattr(s, name) for name in ALL_SECTION_FIELDS},
            "items": [{"label": i.label, "text": i.text, "url": i.url} for i in s.items.all()],
        }
        for s in sections_with_items(issue)
    ]
    return {
        **issue_summary(issue),
        "preheader": issue.preheader,
        "summary": issue.summary,
        "canonical_url": issue.canonical_url,
        "word_count": issue.word_count,
        "reading_minutes": issue.reading_minutes,
        "sections": sections,
    }


@router.get("/issues", response=answers(200, IssuePage), auth=scoped(READ), summary="List issues")
def issue_list(
    request: HttpRequest,
    status: IssueStatus | None = None,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=MAX_LIMIT),  # type: ignore[type-arg]
) -> dict[str, Any]:
    """Newest first (by creation); follow ``next_cursor`` for the next page."""
    _may_view(request)
    queryset = Issue.objects.all()
    if status:
        queryset = queryset.filter(status=status)
    rows, next_cursor = keyset_page(
        queryset, listing="issues", filters={"status": status}, cursor=cursor, limit=limit, field="created_at"
    )
    return {"results": [issue_summary(i) for i in rows], "next_cursor": next_cursor}


@router.get("/issues/{int:issue_id}", response=answers(200, IssueOut), auth=scoped(READ), summary="Get an issue")
def issue_get(request: HttpRequest, issue_id: int) -> dict[str, Any]:
    """The issue with its sections and their items, as stored (rich text already sanitised)."""
    _may_view(request)
    return issue_out(one(Issue, issue_id))


@router.get(
    "/issues/{int:issue_id}/rendered",
    response=answers(200, RenderedOut),
    auth=scoped(READ),
    summary="An issue rendered",
)
def issue_rendered(request: HttpRequest, issue_id: int) -> dict[str, Any]:
    """The email (HTML and plain text) and the web page's sections, from the same renderer as a send."""
    _may_view(request)
    issue = one(Issue, issue_id)
    email = render_email(issue)
    return {
        "subject": email.subject,
        "preheader": email.preheader,
        "html": email.html,
        "text": email.text,
        "web_html": str(render_web_sections(issue)),
    }


def _section_data(number: int, section: SectionIn) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(section, name) for name in ALL_SECTION_FIELDS}
    data["key"] = str(number)
    if section.id is not None:
        data["id"] = section.id
    data["items"] = [item.model_dump() for item in section.items]
    return data


def _stored_sections(issue: Issue) -> list[dict[str, Any]]:
    """The issue's sections as the composer takes them, so that a save that sends none keeps them all."""
    return [
        {
            "id": s.pk,
            "key": str(number),
            **{name: getattr(s, name) for name in ALL_SECTION_FIELDS},
            "items": [{"label": i.label, "text": i.text, "url": i.url} for i in s.items.all()],
        }
        for number, s in enumerate(sections_with_items(issue))
    ]


def _refusals(result: ComposeResult) -> dict[str, list[str]]:
    errors = dict(result.issue_errors)
    for number, entry in enumerate(result.sections):
        for name, messages in entry["errors"].items():
            errors[f"sections.{number}.{name}"] = messages
    return errors


def _compose(request: HttpRequest, issue: Issue, *, version: int, fields: dict[str, Any], sections: Any) -> None:
    """Save through the composer, all or nothing, with one revision naming the key. Call inside atomic()."""
    user = actor(request)
    known = {s.pk for s in issue.sections.all()}
    if isinstance(sections, list):
        foreign = [n for n, s in enumerate(sections) if s.get("id") is not None and s["id"] not in known]
        if foreign:
            raise ValidationError({f"sections.{foreign[0]}.id": "No section with this id in this issue."})
    result = issue_compose_save(
        issue=issue,
        acting_user=user,
        base_version=version,
        data={"issue": fields, "sections": sections if isinstance(sections, list) else _stored_sections(issue)},
    )
    errors = _refusals(result)
    if errors:
        raise ValidationError(errors)
    with reversion.create_revision():
        reversion.set_user(user)
        reversion.set_comment(f"Saved through the API ({via(request)})")
        reversion.add_to_revision(Issue.objects.get(pk=issue.pk))


@router.post("/issues", response=answers(201, IssueOut), auth=scoped(WRITE), summary="Create a draft")
def issue_create(request: HttpRequest, payload: IssueCreate) -> Status[dict[str, Any]]:
    """A new draft with its sections, through the same services and sanitiser as the admin."""
    with transaction.atomic():
        issue = issue_create_draft(
            title=payload.title,
            slug=payload.slug,
            acting_user=actor(request),
            comment=f"Created through the API ({via(request)})",
        )
        fields = {name: getattr(payload, name) for name in TEXT_FIELDS if name not in ("title", "slug")}
        sections = [_section_data(n, s) for n, s in enumerate(payload.sections)]
        _compose(request, issue, version=issue.version, fields=fields, sections=sections)
    return Status(201, issue_out(Issue.objects.get(pk=issue.pk)))


@router.patch("/issues/{int:issue_id}", response=answers(200, IssueOut), auth=scoped(WRITE), summary="Change an issue")
def issue_update(request: HttpRequest, issue_id: int, payload: IssueUpdate) -> dict[str, Any]:
    """Change the fields sent; ``sections``, when sent, is the whole list in order. The same rules as the
    admin: contributors change drafts only, nobody changes a scheduled or sending issue."""
    issue = one(Issue, issue_id)
    sent = payload.model_dump(exclude_unset=True)
    fields = {name: sent[name] for name in TEXT_FIELDS if name in sent and sent[name] is not None}
    sections = [_section_data(n, s) for n, s in enumerate(payload.sections)] if payload.sections is not None else None
    with transaction.atomic():
        _compose(request, issue, version=payload.version, fields=fields, sections=sections)
    return issue_out(Issue.objects.get(pk=issue.pk))
