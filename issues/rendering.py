"""One renderer, three outputs: the web sections, the email HTML and the plain text.

Each section kind has three templates (see issues/sections.py). The email is
rendered once per send with per-reader values left as merge tags
(``merge_tag(key)``), which the provider (or the outbox) fills per recipient.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass
from typing import Any

import css_inline
from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.template.loader import render_to_string
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from inscriptis import get_text
from inscriptis.model.config import ParserConfig

from core.merge import MergeTag, field_tags_fallback, mailgun_tag
from core.sanitize import sanitize_html
from issues.email_images import cover_size, size_images
from issues.models import Issue, Section, SectionItem
from issues.sections import spec_for

MERGE_KEYS = ("name", "unsubscribe_url", "preferences_url", "web_url")
WORDS_PER_MINUTE = 200

# Styles for phones: media queries cannot be inlined, so this block is added
# to the <head> after css-inline has moved the other rules onto the elements.
_RESPONSIVE_CSS = (
    "<style>@media only screen and (max-width:620px){"
    ".container{width:100%!important}.px{padding-left:16px!important;padding-right:16px!important}"
    "h1{font-size:24px!important}img{max-width:100%!important;height:auto!important}}</style>"
)
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
_TEXT_CONFIG = ParserConfig(display_links=True)
# Root-relative addresses (images uploaded through CKEditor live under
# /media/) mean nothing in an inbox: the email gets them on SITE_URL.
_ROOT_RELATIVE = re.compile(r'(\s(?:src|href)=")/(?!/)')
_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")
# Plain-text lines stay within 76 columns (RFC 2646 suggests at most 78;
# 76 leaves room for a quoting "> " in a reply).
TEXT_WIDTH = 76
# "  * item", "  1. step", " 2) step", "## HEADING": the marker and the spaces after it.
_LIST_ITEM = re.compile(r"^(\s*(?:[*\-\u2022]|\d{1,3}[.)]|#{1,3})\s+)\S")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


def sections_with_items(issue: Issue) -> QuerySet[Section]:
    """The issue's sections in order with their items, in two queries."""
    return issue.sections.order_by("position", "id").prefetch_related(
        Prefetch("items", queryset=SectionItem.objects.order_by("position", "id"))
    )


def _sections(issue: Issue) -> list[Section]:
    cached = getattr(issue, "_prefetched_objects_cache", {}).get("sections")
    if cached is not None:
        return sorted(cached, key=lambda s: (s.position, s.id))
    return list(sections_with_items(issue))


def _render_sections(sections: list[Section], channel: str, context: dict[str, Any]) -> list[str]:
    extension = "txt" if channel == "text" else "html"
    parts: list[str] = []
    for section in sections:
        spec_for(section.kind)  # an unknown kind fails loudly rather than vanishing
        # Saves already sanitise; this also covers rows written some other way
        # (a raw update, an old revision restored), so no page or email ever
        # carries markup outside the allowlist.
        section.body, section.analysis = sanitize_html(section.body), sanitize_html(section.analysis)
        if channel == "email":
            section.body, section.analysis = size_images(section.body), size_images(section.analysis)
        template = f"issues/sections/{channel}/{section.kind}.{extension}"
        extra: dict[str, Any] = {"section": section}
        if channel == "text":
            extra |= {"body_text": html_to_text(section.body), "analysis_text": html_to_text(section.analysis)}
        parts.append(render_to_string(template, {**context, **extra}))
    return parts


def render_web_sections(issue: Issue) -> SafeString:
    """The issue's sections in order, as HTML for the public issue page."""
    parts = _render_sections(_sections(issue), "web", {"issue": issue})
    # A web page has no reader: a custom-field tag ({{ city|your town }}) shows its fallback.
    return mark_safe(field_tags_fallback("\n".join(parts)))


def html_to_text(fragment: str) -> str:
    """Plain text of a sanitised rich-text fragment, links shown as URLs."""
    if not fragment:
        return ""
    return str(get_text(fragment, _TEXT_CONFIG)).strip()


def _base_context(issue: Issue, merge_tag: MergeTag) -> dict[str, Any]:
    tags = {key: merge_tag(key) for key in MERGE_KEYS}
    return {
        "issue": issue,
        "merge": tags,
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
        "PUBLISHER_ADDRESS": settings.PUBLISHER_ADDRESS,
        "SITE_URL": settings.SITE_URL,
        "cover_url": _absolute(issue.cover_image.url) if issue.cover_image else "",
    }


def _absolute(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else settings.SITE_URL.rstrip("/") + url


def _email_cover(issue: Issue) -> dict[str, Any]:
    # A cover whose file cannot be read would be a broken, unsized image in
    # every inbox: the email goes without it.
    size = cover_size(issue) if issue.cover_image else None
    if size is None:
        return {"cover_url": ""}
    return {"cover_width": size[0], "cover_height": size[1]}


def render_email(issue: Issue, *, merge_tag: MergeTag = mailgun_tag) -> RenderedEmail:
    """Subject, preheader, inlined table-layout HTML and plain text for one issue.

    Per-reader values appear only as ``merge_tag(key)`` for key in MERGE_KEYS."""
    sections = _sections(issue)
    context = _base_context(issue, merge_tag) | _email_cover(issue)
    body_parts = _render_sections(sections, "email", context)
    document = render_to_string("issues/email/issue.html", {**context, "sections_html": mark_safe("".join(body_parts))})
    site = settings.SITE_URL.rstrip("/")
    html = _ROOT_RELATIVE.sub(lambda m: f"{m.group(1)}{site}/", _INLINER.inline(str(document))).replace(
        "</head>", _RESPONSIVE_CSS + "</head>", 1
    )
    return RenderedEmail(
        subject=issue.email_subject, preheader=issue.preheader, html=html, text=_render_text(issue, sections, merge_tag)
    )


def _text_placeholder(key: str) -> str:
    # A merge tag may hold spaces (Brevo's "{{ params.name }}"): wrapping sees
    # this one-word stand-in instead, and the real tag goes in afterwards.
    return f"\ue000{key}\ue000"


def _render_text(issue: Issue, sections: list[Section], merge_tag: MergeTag) -> str:
    context = _base_context(issue, _text_placeholder)
    parts = [part.strip() for part in _render_sections(sections, "text", context)]
    plain = render_to_string("issues/email/issue.txt", {**context, "sections_text": "\n\n".join(p for p in parts if p)})
    text = wrap_plain_text(re.sub(r"\n{3,}", "\n\n", str(plain)).strip()) + "\n"
    for key in MERGE_KEYS:
        text = text.replace(_text_placeholder(key), merge_tag(key))
    return text


def wrap_plain_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrap each line longer than ``width`` at spaces, never inside a word, so a
    link stays whole (one longer than ``width`` gets a line of its own). List
    items and headings keep their marker, and their following lines line up
    under the item's text."""
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        item = _LIST_ITEM.match(line)
        if item:
            lead = item.group(1)
            hang = " " * len(lead)
        else:
            lead = hang = line[: len(line) - len(line.lstrip())]
        lines.append(
            textwrap.fill(
                line[len(lead) :],
                width=width,
                initial_indent=lead,
                subsequent_indent=hang,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def count_words(issue: Issue) -> int:
    """Words a reader reads on the page: title, summary and every section's text."""
    chunks: list[str] = [issue.title, issue.summary]
    for section in _sections(issue):
        chunks += [section.heading, section.partner_name, strip_tags(section.body), strip_tags(section.analysis)]
        chunks += [f"{item.label} {strip_tags(item.text)}" for item in section.items.all()]
    return sum(len(_WORD.findall(chunk)) for chunk in chunks if chunk)


def reading_minutes(word_count: int) -> int:
    """Reading time at 200 words a minute, rounded up, at least one minute."""
    return max(1, math.ceil(word_count / WORDS_PER_MINUTE))
