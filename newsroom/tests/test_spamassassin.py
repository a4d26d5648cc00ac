"""SpamAssassin's local rules score the issue, the confirmation and the welcome email 0.5 at most.

The emails are built as the real MIME messages readers get (headers, text and
HTML parts) from the demo content, and scored in one ``spamassassin -L -t``
run (local tests only: no network, no DNS block lists), since its start-up
takes most of the time.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from core.mail import ONE_CLICK_POST, build_templated, list_id_header, sender_domain
from demo.loader import demo_load
from issues.models import Issue, IssueStatus
from issues.rendering import render_email
from subscribers import emails
from subscribers.links import links_for
from subscribers.models import Subscriber, SubscriberStatus

pytestmark = [pytest.mark.django_db, pytest.mark.spamassassin]

LIMIT = 0.5
_STATUS = re.compile(r"^X-Spam-Status: .*?score=(-?[\d.]+).*?tests=(.*?)(?:autolearn|version)=", re.M | re.S)


def _issue_message(issue: Issue, reader: Subscriber) -> EmailMultiAlternatives:
    """One reader's copy, with the headers the delivery path gives it."""
    links = links_for(subscriber_id=reader.pk, email=reader.email)
    values = {**links, "name": reader.name or "there", "web_url": f"{settings.SITE_URL}{issue.get_absolute_url()}"}
    rendered = render_email(issue, merge_tag=lambda key: values[key])
    headers = {
        "List-Unsubscribe": f"<{links['one_click_url']}>",
        **ONE_CLICK_POST,
        **list_id_header(),
        "Message-ID": f"<d1.s1@{sender_domain()}>",
    }
    message = EmailMultiAlternatives(
        rendered.subject, rendered.text, settings.DEFAULT_FROM_EMAIL, [reader.email], headers=headers
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _transactional(send: Any, reader: Subscriber) -> EmailMultiAlternatives:
    """The message a subscribers.emails function would have the worker send."""
    with mock.patch.object(emails.send_email_task, "delay") as delay:
        send(subscriber_id=reader.pk, email=reader.email, name=reader.name)
    return build_templated(**delay.call_args.kwargs)


def _scores(paths: list[Path], prefs: Path) -> list[tuple[float, str]]:
    run = subprocess.run(
        ["spamassassin", "-L", "-t", "-p", str(prefs), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found = [(float(score), re.sub(r"\s+", "", tests)) for score, tests in _STATUS.findall(run.stdout)]
    assert len(found) == len(paths), run.stdout + run.stderr
    return found


def test_the_issue_the_confirmation_and_the_welcome_score_at_most_half_a_point(settings, tmp_path: Path) -> None:
    # A real site's addresses: links to a bare IP address are a spam sign of their own.
    settings.SITE_URL = "https://news.example.com"
    settings.DEFAULT_FROM_EMAIL = "The Newsroom Daily <newsletter@news.example.com>"
    demo_load()
    issue = Issue.objects.get(status=IssueStatus.SENT, slug="small-models-have-a-big-week")
    reader = Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).exclude(name="").first()
    assert reader is not None
    messages = {
        "issue": _issue_message(issue, reader),
        "confirm": _transactional(emails.confirmation, reader),
        "welcome": _transactional(emails.welcome, reader),
    }
    paths = []
    for name, message in messages.items():
        paths.append(tmp_path / f"{name}.eml")
        paths[-1].write_bytes(message.message().as_bytes())
    (tmp_path / "user_prefs").write_text("")
    scores = dict(zip(messages, _scores(paths, tmp_path / "user_prefs"), strict=True))
    too_high = {name: found for name, found in scores.items() if found[0] > LIMIT}
    assert not too_high, f"SpamAssassin scores above {LIMIT}: {too_high} (all: {scores})"
