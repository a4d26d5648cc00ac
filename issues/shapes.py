"""An issue's shape: its sections in order, as plain JSON-ready dicts.

Duplicating an issue copies every field of every section and item; an issue
template keeps only the texts that stay the same from one issue to the next
(kind, heading, the sponsor's label and name, the link's label) and, when the
editor asks, the items. Both go through :func:`shape_of` and
:func:`sections_build`; a shape that comes from outside (a template edited in
the admin, the demo) is checked by :func:`shape_clean` first.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from issues.models import Issue, Section, SectionItem, SectionKind
from issues.rendering import sections_with_items

# Every Section field an editor writes, in the order the copy sets them.
ALL_SECTION_FIELDS = ("kind", "heading", "body", "analysis", "sponsor_label", "partner_name", "link_url", "link_label")
# What stays the same from one day's issue to the next: no body, no analysis,
# no link (each day has its own stories and sources).
TEMPLATE_SECTION_FIELDS = ("kind", "heading", "sponsor_label", "partner_name", "link_label")
ITEM_FIELDS = ("label", "text", "url")
MAX_SECTIONS = 100
MAX_ITEMS = 50


def shape_of(issue: Issue, *, section_fields: tuple[str, ...], with_items: bool) -> dict[str, Any]:
    """The issue's sections (and, if asked, their items) with only ``section_fields``."""
    sections = []
    for section in sections_with_items(issue):
        data: dict[str, Any] = {name: getattr(section, name) for name in section_fields}
        data["items"] = (
            [{name: getattr(item, name) for name in ITEM_FIELDS} for item in section.items.all()] if with_items else []
        )
        sections.append(data)
    return {"sections": sections}


def sections_build(*, issue: Issue, shape: dict[str, Any]) -> None:
    """Create the shape's sections and items on ``issue`` (which has none yet).

    bulk_create sends no signals on purpose: the caller adds the finished
    issue to its revision once, with every section and item in it."""
    sections = [
        Section(issue=issue, position=position, **{k: v for k, v in data.items() if k != "items"})
        for position, data in enumerate(shape["sections"])
    ]
    Section.objects.bulk_create(sections)
    items = [
        SectionItem(section=section, position=position, **values)
        for section, data in zip(sections, shape["sections"], strict=True)
        for position, values in enumerate(data.get("items", []))
    ]
    SectionItem.objects.bulk_create(items)


def shape_clean(raw: Any) -> dict[str, Any]:
    """A shape checked field by field against the models; ValidationError says
    which section or item is wrong and why."""
    if not isinstance(raw, dict) or set(raw) != {"sections"} or not isinstance(raw["sections"], list):
        raise ValidationError('A template is an object {"sections": [...]} and nothing else.')
    if not raw["sections"]:
        raise ValidationError("A template needs at least one section.")
    if len(raw["sections"]) > MAX_SECTIONS:
        raise ValidationError(f"A template may have at most {MAX_SECTIONS} sections.")
    return {"sections": [_section_clean(number, data) for number, data in enumerate(raw["sections"], start=1)]}


def _section_clean(number: int, data: Any) -> dict[str, Any]:
    where = f"Section {number}"
    if not isinstance(data, dict):
        raise ValidationError(f"{where} is not an object.")
    unknown = set(data) - {*ALL_SECTION_FIELDS, "items"}
    if unknown:
        raise ValidationError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.")
    if data.get("kind") not in SectionKind.values:
        raise ValidationError(f"{where}: “kind” must be one of {', '.join(SectionKind.values)}.")
    section = Section(**{name: data.get(name, "") for name in ALL_SECTION_FIELDS})
    _model_check(section, where, exclude=["issue", "position"])
    items = data.get("items", [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise ValidationError(f"{where}: “items” must be a list of at most {MAX_ITEMS}.")
    cleaned_items = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) - set(ITEM_FIELDS):
            raise ValidationError(f"{where}, item {position}: an item has only {', '.join(ITEM_FIELDS)}.")
        values = {name: item.get(name, "") for name in ITEM_FIELDS}
        _model_check(SectionItem(**values), f"{where}, item {position}", exclude=["section", "position"])
        cleaned_items.append(values)
    # Read back from the model: its clean() has sanitised the rich text.
    return {**{name: getattr(section, name) for name in ALL_SECTION_FIELDS}, "items": cleaned_items}


def _model_check(obj: Section | SectionItem, where: str, *, exclude: list[str]) -> None:
    for name in (*ALL_SECTION_FIELDS, *ITEM_FIELDS):
        value = getattr(obj, name, "")
        if not isinstance(value, str):
            raise ValidationError(f"{where}: “{name}” must be text.")
    try:
        # The models' own limits and link checks, and the rich-text sanitiser.
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        raise ValidationError(f"{where}: {problems}") from None
