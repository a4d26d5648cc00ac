"""SpamAssassin's local rules score every kind of email a reader gets 0.5 at most.

The kinds are those registered with core.mail.email_sample_register (the
issue, the confirmation, the welcome, "already subscribed", and any kind an
app adds later) and every sequence step (email_sample_group_register), each
built as the real MIME message a reader gets (headers, text and HTML parts)
from the demo content, and scored in one ``spamassassin -L -t`` run (local
tests only: no network, no DNS block lists), since its start-up takes most
of the time.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from core.mail import SampleReader, email_samples
from demo.loader import demo_load
from subscribers.models import Subscriber, SubscriberStatus

pytestmark = [pytest.mark.django_db, pytest.mark.spamassassin]

LIMIT = 0.5
_STATUS = re.compile(r"^X-Spam-Status: .*?score=(-?[\d.]+).*?tests=(.*?)(?:autolearn|version)=", re.M | re.S)


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


def test_every_kind_of_email_a_reader_gets_scores_at_most_half_a_point(settings, tmp_path: Path) -> None:
    # A real site's addresses: links to a bare IP address are a spam sign of their own.
    settings.SITE_URL = "https://news.example.com"
    settings.DEFAULT_FROM_EMAIL = "The Newsroom Daily <newsletter@news.example.com>"
    demo_load()
    subscriber = Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).exclude(name="").first()
    assert subscriber is not None
    reader = SampleReader(subscriber_id=subscriber.pk, email=subscriber.email, name=subscriber.name)
    samples = email_samples()
    assert {"issue", "confirm", "welcome", "already_subscribed"} <= set(samples)
    # Every step of every sequence (automations.samples): the Welcome sequence's, the demo series',
    # and the sunset policy's re-engagement email with its "keep me subscribed" button.
    steps = {kind for kind in samples if kind.startswith("sequence:")}
    assert {"sequence:Welcome / step 1", "sequence:Re-engagement (sunset policy) / step 1"} <= steps
    assert {f"sequence:Weekly deep dive: getting started / step {n}" for n in (1, 2, 3)} <= steps
    paths = []
    for number, (kind, build) in enumerate(samples.items()):
        message = build(reader)
        assert message is not None, f"the demo has nothing to build a {kind} email from"
        paths.append(tmp_path / f"{number}.eml")  # kinds of sequences hold spaces and slashes
        paths[-1].write_bytes(message.message().as_bytes())
    (tmp_path / "user_prefs").write_text("")
    scores = dict(zip(samples, _scores(paths, tmp_path / "user_prefs"), strict=True))
    too_high = {kind: found for kind, found in scores.items() if found[0] > LIMIT}
    assert not too_high, f"SpamAssassin scores above {LIMIT}: {too_high} (all: {scores})"
