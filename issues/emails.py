"""The test-send email: the issue's rendered email with sample per-reader values."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from core.merge import field_tags_fallback, mailgun_tag, merge, merge_html
from issues.models import Issue
from issues.rendering import render_email


def sample_merge_values(issue: Issue) -> dict[str, str]:
    """Values standing in for one reader's own, for previews and test sends."""
    site = settings.SITE_URL.rstrip("/")
    return {
        "name": "Sample Reader",
        "unsubscribe_url": f"{site}/unsubscribe/sample/",
        "preferences_url": f"{site}/preferences/sample/",
        "web_url": site + issue.get_absolute_url(),
    }


def merge_sample(text: str, values: dict[str, str]) -> str:
    """Replace the Mailgun-style tags (the renderer's default) with ``values``; custom-field tags show the fallback."""
    return field_tags_fallback(merge(text, values))


def send_test_issue(*, issue: Issue, recipients: list[str]) -> None:
    """Render once, merge sample values per address locally, send one copy each."""
    rendered = render_email(issue, merge_tag=mailgun_tag)
    messages = []
    for address in recipients:
        values = sample_merge_values(issue)
        message = EmailMultiAlternatives(
            subject=f"[Test] {rendered.subject}",
            body=merge_sample(rendered.text, values),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"X-Newsroom-Test-Send": "1"},
        )
        # The HTML part gets the values escaped, as every reader's copy does (delivery.providers).
        message.attach_alternative(field_tags_fallback(merge_html(rendered.html, values)), "text/html")
        messages.append(message)
    with get_connection() as connection:
        connection.send_messages(messages)
