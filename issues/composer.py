"""Writes of the one-page composer: the issue's texts and all its sections and
items saved together, as the editor types (autosave) or on Save.

Optimistic locking: every save names the ``version`` of the issue it was
based on; if someone saved since, :class:`EditConflict` says who and nothing
is stored. Each section is validated and saved on its own (a savepoint), so a
bad link in one section is reported at that field while the others save, and
nothing is saved half within a section. An autosave makes no revision of its
own: the editing session keeps one revision, so History shows one entry per
session. Snapshotting the issue with every section and item is most of an
autosave's cost, so the session's revision is taken on its first save, then
refreshed at most every ``COMPOSER_REVISION_SECONDS``, and always on the
session's final save (the page sends one when the editor leaves it). The issue
row says which session took the latest revision and when, so an autosave knows
without a query whether one is due.

The page sends only what changed since its last save: the issue fields typed
in, and the sections in their order, each either whole (its fields and items)
or as ``{"id", "key"}`` alone, meaning "as stored, at this position".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import reversion
from django import forms
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from reversion.models import Revision

from core.sanitize import sanitize_html, sanitize_inline
from issues.models import Author, Issue, IssueStatus, Section, SectionItem, Tag
from issues.rendering import count_words, reading_minutes
from issues.selectors import PUBLISHED_ONCE_DATED
from issues.services import edit_refusal, issue_refresh_stats, public_pages_changed
from issues.shapes import ALL_SECTION_FIELDS
from issues.storage import CheckedImageFormField

ISSUE_FIELDS = ("title", "slug", "subject", "preheader", "summary", "cover_alt", "canonical_url")
# Saved by themselves too, as the admin's widgets post them: author and tag ids,
# the publish date as [date, time]. The cover has its own endpoint (an upload): issue_cover_save.
META_FIELDS = ("authors", "tags", "publish_date")
# Every field a section of some kind uses (issues.sections says which kind uses which).
SECTION_FIELDS = ALL_SECTION_FIELDS
ITEM_FIELDS = ("label", "text", "url")
_SESSION = re.compile(r"^[A-Za-z0-9]{8,32}$")


class EditConflict(ValidationError):
    """The save was based on an older version of the issue than the stored one."""


class BadComposerInput(ValidationError):
    """The request is not a composer save at all (wrong shape): nothing is stored."""


@dataclass
class ComposeResult:
    version: int
    saved_at: Any
    issue_errors: dict[str, list[str]] = field(default_factory=dict)
    # One entry per section sent, in order: its key, its id and its errors.
    sections: list[dict[str, Any]] = field(default_factory=list)


def editor_name(user: Any) -> str:
    if user is None:
        return "someone"
    return user.get_full_name() or user.get_username()


def conflict_message(issue: Issue) -> str:
    when = timezone.localtime(issue.updated_at).strftime("%H:%M")
    return (
        f"{editor_name(issue.edited_by)} changed this issue at {when}, after you opened it. "
        "Nothing of yours was saved over it: reload the page to see their changes (copy your text first)."
    )


def issue_version_check(*, issue: Issue, base_version: int) -> None:
    """Raise EditConflict when ``issue`` (read fresh, locked) moved past ``base_version``."""
    if issue.version != base_version:
        raise EditConflict(conflict_message(issue))


def issue_compose_save(
    *,
    issue: Issue,
    acting_user: Any,
    base_version: int,
    data: dict[str, Any],
    session: str = "",
    final: bool = False,
) -> ComposeResult:
    """Save the composer's state of ``issue``: ``data`` holds ``issue`` (the
    text fields that changed) and ``sections`` (every section in order, whole
    or as its id and key alone when unchanged; a section left out is deleted).
    ``final`` (the page is being left) refreshes the session's revision
    whatever its age. Raises PermissionDenied, EditConflict or BadComposerInput."""
    fields, sections = _parsed(data)
    _session_check(session)
    with transaction.atomic():
        locked = _locked_for_edit(issue, acting_user, base_version)
        result = ComposeResult(version=locked.version + 1, saved_at=None)
        was_public = _is_public(locked)
        result.issue_errors, changed = _issue_fields_save(locked, {k: fields[k] for k in fields if k in ISSUE_FIELDS})
        result.issue_errors |= _meta_save(locked, fields)
        stored = _stored_sections(locked)
        moved: list[Section] = []
        saved = [_section_save(locked, values, position, stored, moved) for position, values in enumerate(sections)]
        if moved:
            Section.objects.bulk_update(moved, ["position"])
        result.sections = [entry for entry, _ in saved]
        gone = set(stored) - {entry["id"] for entry in result.sections}
        if gone:
            Section.objects.filter(pk__in=gone).delete()
        changed = changed or bool(gone) or any(wrote for _, wrote in saved)
        _version_bump(locked, acting_user, stats=_stats(locked, stored, result) if changed else {})
        public = was_public or _is_public(locked)  # a new publish date may show or hide it
        if session and (final or _session_revision_due(locked, session)):
            _session_revision(locked, acting_user, session)
        if public:  # a draft's edits change no page readers see
            public_pages_changed()
    result.version, result.saved_at = locked.version, timezone.localtime(locked.updated_at)
    return result


def _stats(issue: Issue, stored: dict[int, Section], result: ComposeResult) -> dict[str, int]:
    """The word count and reading time of what is now stored, from the sections in
    memory (every written one carries its new items), saving a re-read of the issue."""
    if any(entry["errors"] for entry in result.sections):
        # A refused section's object holds the refused values: count from the database.
        counted = issue_refresh_stats(issue=issue, pages_changed=False)
        return {"word_count": counted.word_count, "reading_minutes": counted.reading_minutes}
    issue._prefetched_objects_cache = {"sections": [stored[entry["id"]] for entry in result.sections]}  # type: ignore[attr-defined]
    words = count_words(issue)
    return {"word_count": words, "reading_minutes": reading_minutes(words)}


def issue_compose_close(*, issue: Issue, acting_user: Any, base_version: int, session: str) -> ComposeResult:
    """The editor left the page with nothing unsaved: bring the session's
    revision up to the stored state. Refused (EditConflict) when someone saved
    since, so that their text is not recorded under this session's name."""
    if not session:
        raise BadComposerInput("Closing a session needs its token.")
    _session_check(session)
    with transaction.atomic():
        locked = _locked_for_edit(issue, acting_user, base_version)
        _session_revision(locked, acting_user, session)
    return ComposeResult(version=locked.version, saved_at=timezone.localtime(locked.updated_at))


_ITEM_COLUMNS = ("id", "position", "label", "text", "url")


def _stored_sections(issue: Issue) -> dict[int, Section]:
    """The issue's sections in order, each with its items, read with one query (a
    join) instead of two: the save compares with them and counts their words."""
    columns = [field.attname for field in Section._meta.concrete_fields]
    rows = (
        Section.objects.filter(issue=issue)
        .order_by("position", "id", "items__position", "items__id")
        .values_list(*columns, *(f"items__{name}" for name in _ITEM_COLUMNS))
    )
    stored: dict[int, Section] = {}
    for row in rows:
        section_id = row[0]
        if section_id not in stored:
            stored[section_id] = Section.from_db("default", columns, row[: len(columns)])
            stored[section_id]._prefetched_objects_cache = {"items": []}  # type: ignore[attr-defined]
        item = dict(zip(_ITEM_COLUMNS, row[len(columns) :], strict=True))
        if item["id"] is not None:  # a section without items joins none
            items = stored[section_id]._prefetched_objects_cache["items"]  # type: ignore[attr-defined]
            items.append(SectionItem.from_db("default", ["section_id", *_ITEM_COLUMNS], [section_id, *item.values()]))
    return stored


def issue_cover_save(
    *, issue: Issue, acting_user: Any, base_version: int, image: Any, alt: str, remove: bool = False
) -> ComposeResult:
    """Store a new cover image with its alt text, or (``remove``) take the cover
    off, without waiting for Save: the upload goes through the cover's image rule
    (issues.storage: type, size, nothing but the image) and the alt text is
    required. A refused one stores nothing and says why at its field
    (``issue_errors``); the version is kept. Raises PermissionDenied or
    EditConflict as the composer's save does."""
    with transaction.atomic():
        locked = _locked_for_edit(issue, acting_user, base_version)
        if remove:
            return _cover_removed(locked, acting_user)
        errors: dict[str, list[str]] = {}
        try:
            image = CheckedImageFormField(required=True).clean(image)
        except ValidationError as exc:
            errors["cover_image"] = exc.messages
        if not (alt or "").strip():
            errors["cover_alt"] = ["Describe the cover image: alt text is required when an image is set."]
        if errors:
            return ComposeResult(
                version=locked.version, saved_at=timezone.localtime(locked.updated_at), issue_errors=errors
            )
        was_public = _is_public(locked)
        locked.cover_image, locked.cover_alt = image, alt.strip()
        try:
            locked.full_clean(
                exclude=[f.name for f in Issue._meta.fields if f.name not in ("cover_image", "cover_alt")]
            )
        except ValidationError as exc:
            when = timezone.localtime(locked.updated_at)
            return ComposeResult(version=locked.version, saved_at=when, issue_errors=exc.message_dict)
        locked.save(update_fields=["cover_image", "cover_alt", "updated_at"])  # the storage checks the file again
        _version_bump(locked, acting_user, stats={})
        if was_public:
            public_pages_changed()
    return ComposeResult(version=locked.version, saved_at=timezone.localtime(locked.updated_at))


def _cover_removed(locked: Issue, acting_user: Any) -> ComposeResult:
    """The issue without its cover (the alt text stays, unused, as the admin's
    Clear leaves it); the file stays in storage, as earlier revisions name it."""
    if locked.cover_image:
        was_public = _is_public(locked)
        locked.cover_image = ""
        locked.save(update_fields=["cover_image", "updated_at"])
        _version_bump(locked, acting_user, stats={})
        if was_public:
            public_pages_changed()
    return ComposeResult(version=locked.version, saved_at=timezone.localtime(locked.updated_at))


def _locked_for_edit(issue: Issue, acting_user: Any, base_version: int) -> Issue:
    if not acting_user.has_perm("issues.change_issue"):
        raise PermissionDenied("You do not have permission to change issues.")
    locked = Issue.objects.select_for_update(of=("self",)).select_related("edited_by").get(pk=issue.pk)
    problem = edit_refusal(acting_user, locked)
    if problem:
        raise PermissionDenied(problem)
    issue_version_check(issue=locked, base_version=base_version)
    return locked


def _version_bump(issue: Issue, acting_user: Any, *, stats: dict[str, int]) -> None:
    now = timezone.now()
    Issue.objects.filter(pk=issue.pk).update(version=F("version") + 1, edited_by=acting_user, updated_at=now, **stats)
    # The row was locked, so the new version is the old one plus one.
    issue.version, issue.updated_at = issue.version + 1, now


def _is_public(issue: Issue) -> bool:
    """Whether readers may see ``issue`` now (as issues.selectors.public_issues decides)."""
    if issue.status == IssueStatus.SENT:
        return True
    return issue.status in PUBLISHED_ONCE_DATED and bool(issue.publish_date and issue.publish_date <= timezone.now())


def _parsed(data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not isinstance(data, dict) or not isinstance(data.get("sections", []), list):
        raise BadComposerInput("Expected an object with “issue” and a list of “sections”.")
    fields = data.get("issue") or {}
    if not isinstance(fields, dict) or set(fields) - {*ISSUE_FIELDS, *META_FIELDS}:
        raise BadComposerInput(f"“issue” takes only {', '.join((*ISSUE_FIELDS, *META_FIELDS))}.")
    sections = data.get("sections", [])
    for values in sections:
        if _kept(values) and not isinstance(values["id"], int):
            raise BadComposerInput("An unchanged section is sent as its id (a number) and key.")
        if not isinstance(values, dict) or set(values) - {*SECTION_FIELDS, "id", "key", "items"}:
            raise BadComposerInput("Each section is an object of section fields, its id, key and items.")
        items = values.get("items", [])
        if not isinstance(items, list) or any(not isinstance(i, dict) or set(i) - set(ITEM_FIELDS) for i in items):
            raise BadComposerInput("A section's items are objects with label, text and url.")
        if any(not isinstance(v, str) for k, v in values.items() if k in SECTION_FIELDS):
            raise BadComposerInput("Section fields are text.")
    return fields, sections


def _issue_fields_save(issue: Issue, fields: dict[str, Any]) -> tuple[dict[str, list[str]], bool]:
    """Save the valid fields; the invalid ones keep their stored value and report
    why. Also says whether any stored value changed."""
    if not fields:
        return {}, False
    before = {name: getattr(issue, name) for name in fields}
    for name, value in fields.items():
        setattr(issue, name, str(value).strip() if name != "summary" else str(value))
    try:
        issue.full_clean(exclude=[f.name for f in Issue._meta.fields if f.name not in fields])
    except ValidationError as exc:
        errors = {k: v for k, v in exc.message_dict.items() if k in fields}
        for name in errors:
            setattr(issue, name, before[name])
    else:
        errors = {}
    # A field typed back to its stored value is sent too: only the changed ones are written.
    changed = [name for name in fields if name not in errors and getattr(issue, name) != before[name]]
    if changed:
        issue.save(update_fields=[*changed, "updated_at"])
    return errors, bool(changed)


def _meta_save(issue: Issue, fields: dict[str, Any]) -> dict[str, list[str]]:
    """Authors, tags and the publish date, checked as the admin's form fields check
    them: each valid one is saved, a bad one keeps its stored value and says why."""
    errors: dict[str, list[str]] = {}
    for name, model in (("authors", Author), ("tags", Tag)):
        if name not in fields:
            continue
        try:
            chosen = set(forms.ModelMultipleChoiceField(model.objects.all(), required=False).clean(fields[name]))
        except ValidationError as exc:
            errors[name] = exc.messages
            continue
        related = getattr(issue, name)
        if chosen != set(related.all()):
            related.set(chosen)
    if "publish_date" in fields:
        try:
            when = forms.SplitDateTimeField(required=False).clean(fields["publish_date"])
        except ValidationError as exc:
            errors["publish_date"] = exc.messages
        else:
            if when != issue.publish_date:
                issue.publish_date = when
                issue.save(update_fields=["publish_date", "updated_at"])
    return errors


def _kept(values: Any) -> bool:
    """A section the page did not change since its last save: its id and key alone."""
    return isinstance(values, dict) and "id" in values and set(values) <= {"id", "key"}


def _section_save(
    issue: Issue, values: dict[str, Any], position: int, stored: dict[int, Section], moved: list[Section]
) -> tuple[dict[str, Any], bool]:
    """Save one section, all of it or nothing: its entry for the page, and whether
    its text was written. A section that only changed place joins ``moved``."""
    key, pk = str(values.get("key", "")), values.get("id")
    if _kept(values):
        if pk not in stored:
            # The version matched, so the page knew every stored section: a crafted body.
            raise BadComposerInput(f"Section {pk} is not one of this issue's sections.")
        _place(stored[pk], position, moved)
        return {"key": key, "id": pk, "errors": {}}, False
    # An id deleted in another tab, or not this issue's, starts afresh.
    section = (stored.get(pk) if isinstance(pk, int) else None) or Section(issue=issue)
    entry: dict[str, Any] = {"key": key, "id": section.pk, "errors": {}}
    if _unchanged(section, values, position):
        return entry, False
    was_at = section.position
    try:
        _section_write(section, values, position)
    except ValidationError as exc:
        entry["errors"] = exc.message_dict
        if entry["id"]:  # its text stays as stored, at the place the page shows it
            _place(Section(pk=entry["id"], position=was_at), position, moved)
        return entry, False
    entry["id"], stored[section.pk] = section.pk, section
    return entry, True


def _place(section: Section, position: int, moved: list[Section]) -> None:
    if section.position != position:
        section.position = position
        moved.append(section)


def _item_values(raw: dict[str, Any]) -> tuple[str, str, str]:
    return str(raw.get("label", "")).strip(), sanitize_inline(str(raw.get("text", ""))), str(raw.get("url", "")).strip()


def _field_value(name: str, raw: str) -> str:
    return sanitize_html(raw) if name in ("body", "analysis") else raw.strip()


def _unchanged(section: Section, values: dict[str, Any], position: int) -> bool:
    """True when saving ``values`` would store exactly what the section holds now."""
    if section.pk is None or section.position != position:
        return False
    if any(_field_value(name, values[name]) != getattr(section, name) for name in SECTION_FIELDS if name in values):
        return False
    return "items" not in values or _stored_items(section) == [_item_values(raw) for raw in values["items"]]


def _stored_items(section: Section) -> list[tuple[str, str, str]]:
    if section.pk is None:
        return []
    return [(item.label, item.text, item.url) for item in section.items.all()]


def _section_write(section: Section, values: dict[str, Any], position: int) -> None:
    """Check the section and its items, then write them: a ValidationError
    (keyed by field, ``items.<n>.<field>`` for an item) leaves the database as it was."""
    for name in SECTION_FIELDS:
        if name in values:
            setattr(section, name, values[name].strip() if name not in ("body", "analysis") else values[name])
    section.body, section.analysis = sanitize_html(section.body), sanitize_html(section.analysis)
    section.position = position
    errors: dict[str, list[str]] = {}
    try:
        # The issue is the locked one and kind's choices are checked with the fields
        # (the database keeps its constraint): no query needed to validate them.
        section.full_clean(exclude=["issue"], validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    new = [_item_values(raw) for raw in values["items"]] if "items" in values else None
    rewrite = new is not None and new != _stored_items(section)
    items = []
    for number, (label, text, url) in enumerate(new if rewrite and new else []):
        item = SectionItem(position=number, label=label, text=text, url=url)
        try:
            item.full_clean(exclude=["section"])
        except ValidationError as exc:
            errors |= {f"items.{number}.{name}": msgs for name, msgs in exc.message_dict.items()}
        items.append(item)
    if errors:
        raise ValidationError(errors)
    # Checked: from here on only the database can fail, and that fails the whole save.
    had_items = section.pk is not None
    section.save()
    if rewrite:
        if had_items:
            SectionItem.objects.filter(section=section).delete()
        for item in items:
            item.section = section
        SectionItem.objects.bulk_create(items)
    if rewrite or not had_items:  # what the word count reads, without asking the database again
        section._prefetched_objects_cache = {"items": items}  # type: ignore[attr-defined]


def _session_check(session: str) -> None:
    if session and not _SESSION.match(session):
        raise BadComposerInput("The editing session is a token of 8 to 32 letters and digits.")


def _session_revision_due(issue: Issue, session: str) -> bool:
    """Whether ``session`` has no revision yet, or one older than COMPOSER_REVISION_SECONDS,
    as the (locked) issue row records it."""
    if issue.session_revision_key != session or issue.session_revision_at is None:
        return True
    return issue.session_revision_at <= timezone.now() - timedelta(seconds=settings.COMPOSER_REVISION_SECONDS)


def _session_revision(issue: Issue, acting_user: Any, session: str) -> None:
    """One revision per editing session: this session's earlier one is replaced
    by one of the stored state, and the issue row notes which session took it when."""
    comment = f"Edited on the issue page (session {session[:8]})"
    Revision.objects.filter(
        comment=comment,
        version__content_type=ContentType.objects.get_for_model(Issue),
        version__object_id=str(issue.pk),
    ).delete()
    with reversion.create_revision():
        reversion.set_user(acting_user)
        reversion.set_comment(comment)
        reversion.add_to_revision(Issue.objects.get(pk=issue.pk))
    Issue.objects.filter(pk=issue.pk).update(session_revision_key=session, session_revision_at=timezone.now())
