"""Merge tags: how a rendered email marks each reader's own values, and how they are filled in.

The email is rendered once per send with ``tag(key)`` where a reader's value
goes; the provider (or the dev outbox, or a test send) fills each reader's copy.
Two syntaxes exist: Mailgun's ``%recipient.KEY%`` (the default, also the
outbox's) and Brevo's ``{{ params.KEY }}``.

A value is text. In an HTML part it must arrive escaped (a name such as
``<a href=...>`` is not markup): :func:`merge_html` escapes, :func:`merge` does
not. Both fill every tag in one pass, so a value that itself looks like a tag
stays as the reader typed it.

Editors reach readers' custom fields with ``{{ key|fallback }}`` in the text
of an issue: a send turns each into a provider variable of its own
(:func:`field_tags_place`) whose value is the reader's or the fallback
(:func:`field_values`); the web page shows the fallback.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from functools import cache
from html import unescape

from django.utils.html import escape

MergeTag = Callable[[str], str]
_KEY = "KEY"


def mailgun_tag(key: str) -> str:
    """Mailgun's recipient-variable syntax; the outbox backend and test sends use it too."""
    return f"%recipient.{key}%"


def brevo_tag(key: str) -> str:
    """Brevo's template-parameter syntax."""
    return "{{ params." + key + " }}"


@cache
def _pattern(tag: MergeTag) -> re.Pattern[str]:
    """Any ``tag(key)``, the key captured: the tag's text around a key, escaped."""
    prefix, _, suffix = tag(_KEY).partition(_KEY)
    return re.compile(re.escape(prefix) + r"([A-Za-z0-9_]+)" + re.escape(suffix))


def merge(
    template: str, values: Mapping[str, object], *, tag: MergeTag = mailgun_tag, keep_unknown: bool = False
) -> str:
    """``template`` with each ``tag(key)`` replaced by ``values[key]``, as text.

    A tag whose key is not in ``values`` becomes empty (as the outbox shows a
    reader's copy), or stays as it is with ``keep_unknown`` (for a later merge)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in values:
            return str(values[key])
        return match.group(0) if keep_unknown else ""

    return _pattern(tag).sub(value, template)


def merge_html(
    template: str, values: Mapping[str, object], *, tag: MergeTag = mailgun_tag, keep_unknown: bool = False
) -> str:
    """:func:`merge` for an HTML part: each value escaped, so it reads as text, never as markup."""
    escaped = {key: str(escape(str(value))) for key, value in values.items()}
    return merge(template, escaped, tag=tag, keep_unknown=keep_unknown)


# --- custom-field merge tags written by editors: {{ key|fallback }} ---------------

#: ``{{ city }}`` or ``{{ city|your town }}``: a reader's custom field, or the fallback when they have none.
FIELD_PATTERN = re.compile(r"\{\{\s*([a-z][a-z0-9_]{0,39})\s*(?:\|([^{}|]{0,100}))?\}\}")
#: Merge key -> (field key, fallback).
FieldTags = dict[str, tuple[str, str]]


def field_merge_key(key: str, fallback: str) -> str:
    """One provider variable per field and fallback, so two placements with other fallbacks differ."""
    return f"cf_{key}_{hashlib.sha1(fallback.encode(), usedforsecurity=False).hexdigest()[:8]}"


def field_tags_place(text: str, *, tag: MergeTag, found: FieldTags) -> str:
    """``text`` with each ``{{ key|fallback }}`` turned into the provider's tag; ``found`` collects them."""

    def place(match: re.Match[str]) -> str:
        key, fallback = match.group(1), unescape((match.group(2) or "").strip())
        merge_key = field_merge_key(key, fallback)
        found[merge_key] = (key, fallback)
        return tag(merge_key)

    return FIELD_PATTERN.sub(place, text)


def field_tags_fallback(text: str) -> str:
    """``text`` with each ``{{ key|fallback }}`` shown as its fallback (web pages have no reader)."""
    return FIELD_PATTERN.sub(lambda match: (match.group(2) or "").strip(), text)


def field_values(tags: FieldTags, values: Mapping[str, object]) -> dict[str, str]:
    """Each tag's value for one reader: their value of the field as text, or the fallback."""
    out = {}
    for merge_key, (key, fallback) in tags.items():
        value = values.get(key)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        out[merge_key] = fallback if value is None or value == "" else str(value)
    return out
