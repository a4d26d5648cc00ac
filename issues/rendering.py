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
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from inscriptis import get_text
from inscriptis.model.config import ParserConfig

from core.merge import MergeTag, field_tags_fallback, mailgun_tag
from core.sanitize import sanitize_html
from issues.email_images import cover_size, size_images
from issues.models import Issue, Publication, Section, SectionItem, SectionKind
from issues.quicklinks import quick_line
from issues.sections import spec_for
from issues.selectors import publication
from issues.sharing import forward_url, share_links

MERGE_KEYS = ("name", "unsubscribe_url", "preferences_url", "web_url")
WORDS_PER_MINUTE = 200

# Styles for phones and for dark mode: media queries cannot be inlined, so
# this block goes into the <head> after css-inline has moved the other rules
# onto the elements. Its rules say !important to win over those inline styles.
# Outlook.com marks its dark mode with [data-ogsc] instead of the media query.
_DARK_RULES = (
    "body,.outer,.footer,.topbar{background:#121212!important}"
    ".container{background:#1c1c1e!important}"
    "h1,h2,.brand-name,.heading-link,.label strong{color:#f4f4f1!important}"
    "p,li,.dateline,.tagline{color:#d9d9d4!important}"
    "a,.quick-links a{color:#9dc1ff!important}"
    ".topbar,.topbar a,.footer p,.footer a{color:#a9a9a4!important}"
    ".rule{border-top-color:#3a3a3c!important}"
    ".sponsored{background:#2b2517!important;border-color:#6d5a2b!important}"
    ".kicker,.sponsored-label{color:#f1c66b!important}"
    ".share-link{border-color:#4a4a4c!important}"
    ".reply{background:#24272d!important}"
    ".logo-plate{background:#ffffff!important}"
    # Buttons keep the text colour chosen for the brand colour they sit on.
    ".on-brand-light{color:#ffffff!important}.on-brand-dark{color:#111111!important}"
)


def _outlook_dark(rule: str) -> str:
    selectors, _, body = rule.partition("{")
    return ",".join(f"[data-ogsc] {selector}" for selector in selectors.split(",")) + "{" + body + "}"


_HEAD_CSS = (
    "<style>@media only screen and (max-width:620px){"
    ".container{width:100%!important}.px{padding-left:16px!important;padding-right:16px!important}"
    "h1{font-size:24px!important}img{max-width:100%!important;height:auto!important}}"
    "@media (prefers-color-scheme:dark){"
    + _DARK_RULES
    + "}"
    + "".join(_outlook_dark(rule) for rule in _DARK_RULES.split("}") if rule)
    + "</style>"
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
        if channel != "web" and section.kind == SectionKind.QUICK_LINKS:
            extra["lines"] = [quick_line(item) for item in section.items.all()]
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
    pub = publication()
    # An issue being written may have no slug yet (the pre-send checks render it to say so).
    page_url = _absolute(issue.get_absolute_url() if issue.slug else "/")
    return {
        "issue": issue,
        "merge": tags,
        "pub": pub,
        "masthead": _masthead(issue, pub),
        "share": share_links(title=issue.title, url=page_url),
        "forward_url": forward_url(page_url),
        "PUBLISHER_NAME": pub.shown_name,
        "PUBLISHER_ADDRESS": settings.PUBLISHER_ADDRESS,
        "SITE_URL": settings.SITE_URL,
        "cover_url": _absolute(issue.cover_image.url) if issue.cover_image else "",
    }


def _masthead(issue: Issue, pub: Publication) -> dict[str, Any]:
    """The logo at its fixed email size, and the line under the name: date, number, reading time.

    An issue without a publish date is dated the day it is rendered, which
    for a send is the day it goes out."""
    day = timezone.localtime(issue.publish_date).date() if issue.publish_date else timezone.localdate()
    parts = [date_format(day, "j F Y")]
    if issue.number:
        parts.append(f"No. {issue.number}")
    parts.append(f"{issue.reading_minutes} min read")
    logo: dict[str, Any] = {}
    height = pub.logo_display_height
    if pub.logo and height:
        logo = {"url": _absolute(pub.logo.url), "width": pub.logo_display_width, "height": height, "alt": pub.logo_alt}
    return {"dateline": " \u00b7 ".join(parts), "logo": logo}


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
        "</head>", _HEAD_CSS + "</head>", 1
    )
    return RenderedEmail(
        subject=issue.email_subject, preheader=issue.preheader, html=html, text=_render_text(issue, sections, merge_tag)
    )


MESSAGE_MERGE_KEYS = ("name", "unsubscribe_url", "preferences_url")


def render_message(
    *,
    subject: str,
    preheader: str,
    body: str,
    merge_tag: MergeTag = mailgun_tag,
    action: tuple[str, str] | None = None,
) -> RenderedEmail:
    """An email that is not an issue (a sequence step) in the issues' layout, plain text and footer.

    ``body`` is rich text; it is sanitised here as every section is. Per-reader values
    appear only as ``merge_tag(key)`` for key in MESSAGE_MERGE_KEYS. ``action`` is an
    optional button under the body: (its label, the merge key of its per-reader URL)."""
    clean = size_images(sanitize_html(body))
    base = {
        "subject": subject,
        "preheader": preheader,
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
        "PUBLISHER_ADDRESS": settings.PUBLISHER_ADDRESS,
        "SITE_URL": settings.SITE_URL,
    }
    tags = {key: merge_tag(key) for key in MESSAGE_MERGE_KEYS}
    keys = [*MESSAGE_MERGE_KEYS, *([action[1]] if action else [])]
    if action:
        base["action_label"] = action[0]
        tags["action_url"] = merge_tag(action[1])
    document = render_to_string(
        "issues/email/message.html",
        {**base, "merge": tags, "body_html": mark_safe(clean), "pub": publication()},
    )
    site = settings.SITE_URL.rstrip("/")
    html = _ROOT_RELATIVE.sub(lambda m: f"{m.group(1)}{site}/", _INLINER.inline(str(document))).replace(
        "</head>", _HEAD_CSS + "</head>", 1
    )
    placeholders = {key: _text_placeholder(key) for key in keys}
    if action:
        placeholders["action_url"] = placeholders[action[1]]
    plain = render_to_string(
        "issues/email/message.txt", {**base, "merge": placeholders, "body_text": html_to_text(clean)}
    )
    text = wrap_plain_text(re.sub(r"\n{3,}", "\n\n", str(plain)).strip()) + "\n"
    for key in keys:
        text = text.replace(_text_placeholder(key), merge_tag(key))
    return RenderedEmail(subject=subject, preheader=preheader, html=html, text=text)


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
