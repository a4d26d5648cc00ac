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


class ShapeInvalid(ValidationError):
    """A shape that cannot be stored. ``sections`` maps a section's index (from 0)
    to its errors by field (``items.<n>.<field>`` for an item, ``__all__`` for the
    section as a whole), so that a form can show each where it belongs."""

    def __init__(self, messages: Any, sections: dict[int, dict[str, list[str]]] | None = None) -> None:
        super().__init__(messages)
        self.sections = sections or {}


def shape_clean(raw: Any) -> dict[str, Any]:
    """A shape checked field by field against the models. ShapeInvalid lists every
    problem of every section, each saying which section or item is wrong and why."""
    if not isinstance(raw, dict) or set(raw) != {"sections"} or not isinstance(raw["sections"], list):
        raise ShapeInvalid('A template is an object {"sections": [...]} and nothing else.')
    if not raw["sections"]:
        raise ShapeInvalid("A template needs at least one section.")
    if len(raw["sections"]) > MAX_SECTIONS:
        raise ShapeInvalid(f"A template may have at most {MAX_SECTIONS} sections.")
    cleaned, messages, by_section = [], [], {}
    for index, data in enumerate(raw["sections"]):
        values, errors = _section_clean(data)
        if errors:
            by_section[index] = errors
            messages += [_message(index, name, msgs) for name, msgs in errors.items()]
        cleaned.append(values)
    if messages:
        raise ShapeInvalid(messages, by_section)
    return {"sections": cleaned}


def _message(index: int, name: str, msgs: list[str]) -> str:
    where, text = f"Section {index + 1}", " ".join(msgs)
    if name == "__all__":
        return f"{where}: {text}"
    if name.startswith("items."):
        _, number, field = [*name.split("."), ""][:3]
        item = f"{where}, item {int(number) + 1}"
        return f"{item}: {field}: {text}" if field and field != "__all__" else f"{item}: {text}"
    return f"{where}: {name}: {text}"


def _section_clean(data: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The section's values as the models clean them, and its errors by field."""
    if not isinstance(data, dict):
        return {}, {"__all__": ["is not an object."]}
    unknown = set(data) - {*ALL_SECTION_FIELDS, "items"}
    if unknown:
        return {}, {"__all__": [f"unknown field(s) {', '.join(sorted(unknown))}."]}
    not_text = [name for name in ALL_SECTION_FIELDS if not isinstance(data.get(name, ""), str)]
    if not_text:
        return {}, {"__all__": [f"“{name}” must be text." for name in not_text]}
    errors: dict[str, list[str]] = {}
    if data.get("kind") not in SectionKind.values:
        errors["kind"] = [f"Choose one of the kinds {', '.join(SectionKind.values)}."]
    section = Section(**{name: data.get(name, "") for name in ALL_SECTION_FIELDS})
    errors |= _model_errors(section, exclude=["issue", "position", "kind"])
    items = data.get("items", [])
    cleaned_items = []
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        errors["items"] = [f"“items” must be a list of at most {MAX_ITEMS}."]
        items = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - set(ITEM_FIELDS):
            errors[f"items.{index}.__all__"] = [f"an item has only {', '.join(ITEM_FIELDS)}."]
            continue
        if any(not isinstance(value, str) for value in item.values()):
            errors[f"items.{index}.__all__"] = ["an item's fields must be text."]
            continue
        values = {name: item.get(name, "") for name in ITEM_FIELDS}
        item_obj = SectionItem(**values)
        found = _model_errors(item_obj, exclude=["section", "position"])
        errors |= {f"items.{index}.{name}": msgs for name, msgs in found.items()}
        # Read back from the model: its clean() has sanitised the rich text.
        cleaned_items.append({name: getattr(item_obj, name) for name in ITEM_FIELDS})
    values = {**{name: getattr(section, name) for name in ALL_SECTION_FIELDS}, "items": cleaned_items}
    return values, errors


def _model_errors(obj: Section | SectionItem, *, exclude: list[str]) -> dict[str, list[str]]:
    try:
        # The models' own limits and link checks, and the rich-text sanitiser.
        obj.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as exc:
        return dict(exc.message_dict)
    return {}
