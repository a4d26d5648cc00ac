"""Merge tags: how a rendered email marks each reader's own values, and how they are filled in.

The email is rendered once per send with ``tag(key)`` where a reader's value
goes; the provider (or the dev outbox, or a test send) fills each reader's copy.
Two syntaxes exist: Mailgun's ``%recipient.KEY%`` (the default, also the
outbox's) and Brevo's ``{{ params.KEY }}``.

A value is text. In an HTML part it must arrive escaped (a name such as
``<a href=...>`` is not markup): :func:`merge_html` escapes, :func:`merge` does
not. Both fill every tag in one pass, so a value that itself looks like a tag
stays as the reader typed it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache

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
