"""The one-page composer inside the issue's admin change page: what the page
needs to draw it (``composer_context``) and the JSON endpoint its autosave
and Save call (``compose``), a thin view over issues.composer."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from issues import services
from issues.composer import (
    SECTION_FIELDS,
    BadComposerInput,
    ComposeResult,
    EditConflict,
    issue_compose_close,
    issue_compose_save,
    issue_cover_save,
)
from issues.models import Issue, SectionKind
from issues.rendering import sections_with_items
from issues.sections import FIELD_NAMES, REGISTRY
from issues.shapes import TEMPLATE_SECTION_FIELDS

# Autosave waits this long after the last keystroke (the page also saves on blur).
AUTOSAVE_DELAY_MS = 2000
INLINE_EDITOR_CONFIG = {"toolbar": ["bold", "italic", "link"], "licenseKey": "GPL"}


def _section_state(section: Any) -> dict[str, Any]:
    values = {name: getattr(section, name) for name in SECTION_FIELDS}
    items = [{"label": i.label, "text": i.text, "url": i.url} for i in section.items.all()]
    return {"id": section.pk, **values, "items": items}


def composer_context(request: HttpRequest, issue: Issue, *, editable: bool) -> dict[str, Any]:
    """The composer's initial state, as JSON for issues/static/issues/composer.js."""
    state = {
        "editable": editable,
        "version": issue.version,
        "url": reverse("admin:issues_issue_compose", args=[issue.pk]),
        "cover_url": reverse("admin:issues_issue_cover", args=[issue.pk]),
        "section_url": reverse("admin:issues_section_change", args=[0]),
        "delay": AUTOSAVE_DELAY_MS,
        "sections": [_section_state(s) for s in sections_with_items(issue)],
        "kinds": _kinds(),
        "kind_order": list(SectionKind.values),
        "field_names": FIELD_NAMES,
        "sponsor_default": settings.SPONSOR_LABEL_DEFAULT,
        "rich_config": {**settings.CKEDITOR_5_CONFIGS["default"], "licenseKey": "GPL"},
        "inline_config": INLINE_EDITOR_CONFIG,
        "upload_url": reverse("ck_editor_5_upload_file"),
    }
    return {"composer_state": state}


def _kinds() -> dict[str, Any]:
    return {
        kind: {
            "label": spec.label,
            "fields": list(spec.fields),
            "item_fields": list(spec.item_fields),
            "items_label": spec.items_label,
        }
        for kind, spec in REGISTRY.items()
    }


def template_composer_context(
    shape: Any, errors: dict[int, dict[str, list[str]]], *, editable: bool = True
) -> dict[str, Any]:
    """The same editor on a template's page, in its template mode: the sections'
    fixed texts only (no bodies or links), nothing saved until the form's Save,
    which posts them as JSON in the form's hidden ``shape``. ``errors`` (by
    section index) are shown at their fields, as an autosave's are."""
    sections = shape.get("sections") if isinstance(shape, dict) else None
    state_sections = []
    for index, data in enumerate(sections if isinstance(sections, list) else []):
        data = data if isinstance(data, dict) else {}
        values = {name: str(data.get(name) or "") for name in TEMPLATE_SECTION_FIELDS}
        if values["kind"] not in SectionKind.values:
            values["kind"] = SectionKind.LEAD
        raw_items = data.get("items")
        raw_items = raw_items if isinstance(raw_items, list) else []
        items = [{k: str(i.get(k) or "") for k in ("label", "text", "url")} for i in raw_items if isinstance(i, dict)]
        state_sections.append({"id": None, **values, "items": items, "errors": errors.get(index, {})})
    return {
        "composer_state": {
            "mode": "template",
            "editable": editable,
            "delay": AUTOSAVE_DELAY_MS,
            "section_fields": [name for name in TEMPLATE_SECTION_FIELDS if name != "kind"],
            "sections": state_sections,
            "kinds": _kinds(),
            "kind_order": list(SectionKind.values),
            "field_names": FIELD_NAMES,
            "sponsor_default": settings.SPONSOR_LABEL_DEFAULT,
            "rich_config": {},
            "inline_config": INLINE_EDITOR_CONFIG,
            "upload_url": "",
        }
    }


def _error(message: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message, **extra}, status=status)


def _saved(
    request: HttpRequest, issue: Issue, data: dict[str, Any], *, version: int, session: str, final: bool
) -> ComposeResult:
    if final and not {"issue", "sections"} & set(data):
        # Leaving the page with nothing unsaved: only the session's revision is brought up to date.
        return issue_compose_close(issue=issue, acting_user=request.user, base_version=version, session=session)
    return issue_compose_save(
        issue=issue, acting_user=request.user, base_version=version, data=data, session=session, final=final
    )


@require_POST
def compose(request: HttpRequest, *, model_admin: Any, object_id: int) -> JsonResponse:
    """Save the composer's state: 200 with per-field errors, 409 on a conflict,
    403 when the user may not edit, 400 for a body that is not a composer save.
    ``final: true`` is the page's last save as the editor leaves it."""
    # The service reads the issue itself, locked: reading it here first would be a second query.
    issue = Issue(pk=object_id)
    try:
        data = json.loads(request.body or b"{}")
        base_version = int(data.pop("version"))
        session = str(data.pop("session", ""))
        final = data.pop("final", False) is True
    except (ValueError, KeyError, TypeError, AttributeError):
        return _error("Send JSON with the version the page was based on.", 400)
    try:
        result = _saved(request, issue, data, version=base_version, session=session, final=final)
    except Issue.DoesNotExist:
        return _error("This issue no longer exists.", 404)
    except PermissionDenied as exc:
        return _error(str(exc) or "You may not change this issue.", 403)
    except EditConflict as exc:
        return _error(exc.messages[0], 409, conflict=True)
    except BadComposerInput as exc:
        return _error(exc.messages[0], 400)
    return JsonResponse(
        {
            "ok": not result.issue_errors and not any(s["errors"] for s in result.sections),
            "version": result.version,
            "saved_at": result.saved_at.strftime("%H:%M"),
            "issue_errors": result.issue_errors,
            "sections": result.sections,
        }
    )


@require_POST
def cover(request: HttpRequest, *, model_admin: Any, object_id: int) -> JsonResponse:
    """Store the cover the editor just chose (multipart: ``cover_image``,
    ``cover_alt``, ``version``), or take it off (``remove=1``): 200 with
    per-field errors, 409 on a conflict, 403 when the user may not edit."""
    try:
        base_version = int(request.POST["version"])
    except (KeyError, ValueError):
        return _error("Send the version the page was based on.", 400)
    try:
        result = issue_cover_save(
            issue=Issue(pk=object_id),
            acting_user=request.user,
            base_version=base_version,
            image=request.FILES.get("cover_image"),
            alt=request.POST.get("cover_alt", ""),
            remove=request.POST.get("remove") == "1",
        )
    except Issue.DoesNotExist:
        return _error("This issue no longer exists.", 404)
    except PermissionDenied as exc:
        return _error(str(exc) or "You may not change this issue.", 403)
    except EditConflict as exc:
        return _error(exc.messages[0], 409, conflict=True)
    issue = Issue.objects.only("cover_image").get(pk=object_id)
    return JsonResponse(
        {
            "ok": not result.issue_errors,
            "version": result.version,
            "saved_at": result.saved_at.strftime("%H:%M"),
            "issue_errors": result.issue_errors,
            "cover_url": issue.cover_image.url if issue.cover_image else "",
        }
    )


def may_compose(request: HttpRequest, issue: Issue) -> bool:
    return bool(request.user.has_perm("issues.change_issue")) and services.user_may_edit(request.user, issue)
