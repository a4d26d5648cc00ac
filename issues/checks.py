"""Pre-send checks: what must be right before an issue may be scheduled.

Errors block scheduling (issue_transition to "scheduled" and DELIVERY's
send_create refuse); warnings are shown but do not block.

Subject length: inboxes show roughly 40-70 characters, and RFC 5322
recommends header lines under 78 characters, so a subject over 78 characters
is a warning; over 150 it is an error (it will be cut everywhere and may be
folded badly by some clients).
Size: Gmail clips messages whose HTML exceeds 102 KB, hiding the footer with
the unsubscribe link, so over 102 KB is an error and over 90 KB a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.conf import settings

from core.sanitize import image_source_allowed
from issues.models import Issue
from issues.rendering import mailgun_tag, render_email, sections_with_items
from issues.sections import problems_for

SUBJECT_WARN = 78
SUBJECT_MAX = 150
PREHEADER_WARN = 140
HTML_LIMIT = 102 * 1024
HTML_WARN = 90 * 1024
# Sample per-reader values as long as real ones, so the size check is honest.
SIZE_SAMPLE = {
    "name": "Alexandra Example-Reader",
    "unsubscribe_url": "https://example.com/unsubscribe/" + "x" * 120 + "/",
    "preferences_url": "https://example.com/preferences/" + "x" * 120 + "/",
    "web_url": "https://example.com/newsletter/" + "x" * 60 + "/",
}


@dataclass(frozen=True)
class Check:
    level: str  # "error" | "warning"
    code: str
    message: str


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.images: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a":
            self.hrefs.append(values.get("href") or "")
        elif tag == "img":
            self.images.append((values.get("src") or "", values.get("alt")))


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _image_checks(name: str, images: list[tuple[str, str | None]]) -> list[Check]:
    checks: list[Check] = []
    for src, alt in images:
        if not (alt or "").strip():
            checks.append(Check("error", "image_alt", f"An image in “{name}” has no alt text ({src[:60]})."))
        if not _is_web_url(src) and not src.startswith("/"):
            checks.append(
                Check(
                    "error",
                    "image_src",
                    f"An image in “{name}” has no web address (images from outside our media lose it when "
                    "saved): upload it in the editor or remove it.",
                )
            )
        elif not image_source_allowed(src):
            # Stored before the rule (saves strip it now); readers would not
            # see it, since rendering strips it too, so the editor must know.
            checks.append(
                Check(
                    "error",
                    "image_host",
                    f"An image in “{name}” comes from outside our media ({src[:60]}) and is left out of the "
                    "email and the page: upload it in the editor instead, or ask an operator to add its host "
                    "to RICH_TEXT_IMAGE_HOSTS.",
                )
            )
    return checks


def _content_checks(issue: Issue) -> list[Check]:
    checks: list[Check] = []
    sections = list(sections_with_items(issue))
    if not sections:
        checks.append(Check("warning", "no_sections", "The issue has no sections yet."))
    if issue.cover_image and not issue.cover_alt.strip():
        checks.append(Check("error", "cover_alt", "The cover image has no alt text."))
    links = [("Read original article link", issue.canonical_url)] if issue.canonical_url else []
    for section in sections:
        name = section.heading or section.get_kind_display()
        checks += [Check("error", "section_incomplete", problem) for problem in problems_for(section)]
        if section.link_url:
            links.append((f"Link of “{name}”", section.link_url))
        links += [(f"Link “{item.text[:40]}” in “{name}”", item.url) for item in section.items.all() if item.url]
        parser = _Links()
        parser.feed(section.body + section.analysis)
        links += [(f"A link in the text of “{name}”", href) for href in parser.hrefs]
        checks += _image_checks(name, parser.images)
    for where, url in links:
        if not _is_web_url(url):
            checks.append(Check("error", "link_absolute", f"{where} is not a full http(s) address: “{url[:80]}”."))
    return checks


def _envelope_checks(issue: Issue) -> list[Check]:
    checks: list[Check] = []
    subject = issue.email_subject.strip()
    if not subject:
        checks.append(Check("error", "subject_missing", "The email has no subject."))
    elif len(subject) > SUBJECT_MAX:
        checks.append(
            Check("error", "subject_long", f"The subject is {len(subject)} characters; keep it under {SUBJECT_MAX}.")
        )
    elif len(subject) > SUBJECT_WARN:
        checks.append(
            Check(
                "warning",
                "subject_long",
                f"The subject is {len(subject)} characters; inboxes cut it after about {SUBJECT_WARN}.",
            )
        )
    if not issue.preheader.strip():
        checks.append(Check("error", "preheader_missing", "The email has no preheader (inbox preview text)."))
    elif len(issue.preheader) > PREHEADER_WARN:
        checks.append(Check("warning", "preheader_long", f"The preheader is over {PREHEADER_WARN} characters."))
    return checks


def _rendered_checks(issue: Issue) -> list[Check]:
    checks: list[Check] = []
    email = render_email(issue)
    html = email.html
    for key, value in SIZE_SAMPLE.items():
        html = html.replace(mailgun_tag(key), value)
    size = len(html.encode("utf-8"))
    kb = size / 1024
    if size > HTML_LIMIT:
        checks.append(Check("error", "html_size", f"The email HTML is {kb:.0f} KB; Gmail clips anything over 102 KB."))
    elif size > HTML_WARN:
        checks.append(Check("warning", "html_size", f"The email HTML is {kb:.0f} KB, close to Gmail's 102 KB clip."))
    unsubscribe = mailgun_tag("unsubscribe_url")
    if unsubscribe not in email.html or unsubscribe not in email.text:
        checks.append(Check("error", "unsubscribe_missing", "The email has no unsubscribe link."))
    address = settings.PUBLISHER_ADDRESS.strip()
    # The plain text is wrapped, so a long address may run over two lines.
    in_text = " ".join(address.split()) in " ".join(email.text.split())
    if not address or escape(address, quote=False) not in email.html or not in_text:
        checks.append(Check("error", "address_missing", "The email has no postal address (set PUBLISHER_ADDRESS)."))
    return checks


def presend_checks(issue: Issue) -> list[Check]:
    """Every problem found, errors first."""
    checks = _envelope_checks(issue) + _content_checks(issue) + _rendered_checks(issue)
    return sorted(checks, key=lambda c: c.level != "error")


def blocking_errors(issue: Issue) -> list[Check]:
    return [check for check in presend_checks(issue) if check.level == "error"]


def has_blocking_errors(issue: Issue) -> bool:
    return bool(blocking_errors(issue))
