"""The registry of section kinds.

Each kind of section is one :class:`KindSpec` entry plus three templates
(``issues/sections/{web,email}/<kind>.html`` and ``issues/sections/text/<kind>.txt``).

Adding a kind: add a choice to ``issues.models.SectionKind``, a ``KindSpec``
here naming the Section and SectionItem fields it uses, the three templates,
and run ``makemigrations issues`` (the choice and its check constraint; a kind
that needs a field Section lacks adds that field in the same migration). The
admin, the renderer, the word count and the pre-send checks read this registry,
so nothing else changes; test_admin_issue checks every kind has its templates.
The admin reads ``fields``/``item_fields`` to show only what a kind uses;
:func:`problems_for` lists what a section still lacks before it can be sent
(used by the pre-send checks), so a half-written section can still be saved
as a draft.
"""

from __future__ import annotations

from dataclasses import dataclass

from issues.models import Section, SectionKind

COMMON_FIELDS = ("kind", "heading")


@dataclass(frozen=True)
class KindSpec:
    kind: str
    label: str
    # Section fields this kind uses, in the order the admin shows them.
    fields: tuple[str, ...]
    # SectionItem fields this kind uses (empty: the kind has no items).
    item_fields: tuple[str, ...] = ()
    items_label: str = ""
    # Fields that must be filled before the issue can be sent.
    required: tuple[str, ...] = ("heading",)
    required_item_fields: tuple[str, ...] = ()
    min_items: int = 0


REGISTRY: dict[str, KindSpec] = {
    SectionKind.LEAD: KindSpec(
        kind=SectionKind.LEAD,
        label="Lead story",
        fields=("heading", "body", "analysis", "link_url", "link_label"),
        item_fields=("label", "text"),
        items_label="The details",
        required=("heading", "body"),
        required_item_fields=("label", "text"),
    ),
    SectionKind.HIGHLIGHT: KindSpec(
        kind=SectionKind.HIGHLIGHT,
        label="Special highlight (sponsored)",
        fields=("heading", "sponsor_label", "partner_name", "body", "link_url", "link_label"),
        required=("heading", "partner_name", "body", "link_url"),
    ),
    SectionKind.TOOL: KindSpec(
        kind=SectionKind.TOOL,
        label="Tool of the Day",
        fields=("heading", "link_url", "link_label", "body"),
        item_fields=("text",),
        items_label="Try this yourself",
        required=("heading", "link_url", "body"),
        required_item_fields=("text",),
    ),
    SectionKind.QUICK_LINKS: KindSpec(
        kind=SectionKind.QUICK_LINKS,
        label="Light Bytes (quick links)",
        fields=("heading",),
        item_fields=("text", "url"),
        items_label="Quick links",
        required=(),
        required_item_fields=("text", "url"),
        min_items=1,
    ),
}

FIELD_NAMES = {
    "heading": "heading",
    "body": "body",
    "analysis": "analysis",
    "partner_name": "partner name",
    "sponsor_label": "sponsor label",
    "link_url": "link",
    "link_label": "link label",
    "label": "label",
    "text": "text",
    "url": "link",
}


def spec_for(kind: str) -> KindSpec:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise ValueError(f"No section kind {kind!r} in issues.sections.REGISTRY.") from None


def problems_for(section: Section) -> list[str]:
    """What the section still lacks before it can be sent (empty when complete).

    Reads ``section.items.all()``, so callers should prefetch items."""
    spec = spec_for(section.kind)
    name = f"{spec.label} “{section.heading or 'untitled'}”"
    problems = [
        f"{name} has no {FIELD_NAMES[field]}." for field in spec.required if not str(getattr(section, field)).strip()
    ]
    items = list(section.items.all())
    if len(items) < spec.min_items:
        problems.append(f"{name} needs at least {spec.min_items} {spec.items_label.lower()} item.")
    for number, item in enumerate(items, start=1):
        for field in spec.required_item_fields:
            if not str(getattr(item, field)).strip():
                problems.append(f"{name}: {spec.items_label.lower()} item {number} has no {FIELD_NAMES[field]}.")
    return problems
