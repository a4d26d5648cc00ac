"""The registry of sample emails: each kind builds one reader's copy as the real send does."""

from __future__ import annotations

import pytest

from core.mail import SampleReader, email_samples
from issues.models import IssueStatus
from testing.factories import make_full_issue

pytestmark = pytest.mark.django_db

READER = SampleReader(subscriber_id=41, email="zoe@example.org", name="Zoë")


def test_every_kind_readers_get_is_registered() -> None:
    assert {"issue", "confirm", "welcome", "already_subscribed"} <= set(email_samples())


def test_the_issue_sample_is_the_newest_sent_issue_merged_and_headed_for_the_reader(settings) -> None:
    settings.DEFAULT_FROM_EMAIL = "The Daily <newsletter@news.example.com>"
    make_full_issue(title="An older issue", status=IssueStatus.SENT, number=1)
    assert email_samples()["issue"](READER) is not None
    newest = make_full_issue(title="The newest issue", status=IssueStatus.SENT, number=2)
    message = email_samples()["issue"](READER)
    assert message is not None
    headers = message.message()
    assert message.subject == "The newest issue" and message.to == ["zoe@example.org"]
    assert headers["List-Unsubscribe"].startswith("<") and "/unsubscribe/" in headers["List-Unsubscribe"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"].endswith("<newsletter.news.example.com>")
    assert headers["Message-ID"].endswith("@news.example.com>")
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert "Hi Zoë," in html and "%recipient." not in html and "%recipient." not in message.body
    assert newest.get_absolute_url() in html


def test_without_a_sent_issue_there_is_no_issue_sample() -> None:
    make_full_issue(status=IssueStatus.APPROVED)
    assert email_samples()["issue"](READER) is None
