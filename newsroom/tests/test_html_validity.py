"""The Nu HTML checker finds no error on the public pages a reader meets
(home, archive and its second page, a search, an issue, a tag page, the
Tools page, subscribe, confirm, preferences and 404).

The pages are fetched with the test client from the demo content and checked
in one run of vnu (the `vnu-jar` npm package on Debian's Java), since the
JVM's start-up takes most of the time.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from demo.loader import demo_load
from issues.models import Issue, IssueStatus
from subscribers.links import confirm_url, links_for
from subscribers.models import Subscriber, SubscriberStatus
from testing.plugin import vnu_jar

pytestmark = [pytest.mark.django_db, pytest.mark.vnu]


def _pages() -> dict[str, str]:
    issue = Issue.objects.filter(status=IssueStatus.SENT).order_by("-publish_date").first()
    active = Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).first()
    pending = Subscriber.objects.filter(status=SubscriberStatus.PENDING).first()
    assert issue and active and pending
    return {
        "home": "/",
        "archive": "/newsletter/",
        "archive-page-2": "/newsletter/?page=2",
        "search": "/newsletter/?q=model",
        "issue": issue.get_absolute_url(),
        "tag": f"/tag/{issue.tags.order_by('name').first().slug}/",
        "tools": "/pages/tools/",
        "subscribe": "/subscribe/",
        "confirm": urlsplit(confirm_url(subscriber_id=pending.pk, email=pending.email)).path,
        "preferences": urlsplit(links_for(subscriber_id=active.pk, email=active.email)["preferences_url"]).path,
        "404": "/no-such-page/",
    }


def _errors(paths: list[Path]) -> list[dict[str, object]]:
    run = subprocess.run(
        ["java", "-jar", str(vnu_jar()), "--errors-only", "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # vnu exits 1 when it found errors; the report is on stderr either way.
    return list(json.loads(run.stderr or '{"messages": []}')["messages"])


def test_the_public_pages_have_no_html_errors(client: Client, tmp_path: Path) -> None:
    demo_load()
    # An issue sent with "Send now" is dated to the microsecond, unlike the demo's round 06:00.
    Issue.objects.filter(status=IssueStatus.SENT).update(publish_date=timezone.now() - timedelta(hours=5))
    paths = []
    for name, url in _pages().items():
        response = client.get(url)
        assert response.status_code == (404 if name == "404" else 200), (name, url, response.status_code)
        paths.append(tmp_path / f"{name}.html")
        paths[-1].write_bytes(response.content)
    errors = [
        f"{Path(str(m.get('url', ''))).name}:{m.get('lastLine')}: {m.get('message')} [{m.get('extract', '')!r}]"
        for m in _errors(paths)
    ]
    assert not errors, "\n".join(errors)
