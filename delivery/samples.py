"""A sample of the issue email as one reader's copy leaves the worker (core.mail.email_sample_register)."""

from __future__ import annotations

from types import SimpleNamespace

from django.core.mail import EmailMessage

from core.mail import SampleReader, email_sample_register
from delivery.claims import Row
from delivery.providers import STRATEGIES
from delivery.recipients import common_headers, common_metadata, issue_rendered, recipients_for
from issues.models import Issue, IssueStatus


def issue_sample(reader: SampleReader) -> EmailMessage | None:
    """The newest sent issue to ``reader``, merged and headed as a one-message-per-reader
    provider sends it (the batch providers merge the same values at their end)."""
    issue = Issue.objects.filter(status=IssueStatus.SENT).order_by("-publish_date", "-id").first()
    if issue is None:
        return None
    strategy = STRATEGIES["smtp"]
    # Untracked: first-party tracking needs a stored send for its link table; its redirects are
    # links on SITE_URL, the domain the rest of the message already names.
    send = SimpleNamespace(pk=0, issue=issue, track_clicks=False, track_opens=False)
    row = Row(delivery_id=1, subscriber_id=reader.subscriber_id, email=reader.email, name=reader.name)
    (recipient,) = recipients_for(send, [row], strategy)
    rendered = issue_rendered(issue, strategy.merge_tag)
    return strategy.build_one(rendered, recipient, headers=common_headers(), metadata=common_metadata(send.pk))


def register_samples() -> None:
    email_sample_register("issue", issue_sample)
