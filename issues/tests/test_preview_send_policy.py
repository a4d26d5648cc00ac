"""Test sends: contributors only to allowed addresses, everyone within an hourly number of addresses."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from issues.models import PreviewSend
from issues.services import NOT_QUEUED, preview_send_create
from testing.factories import UserFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch: Any) -> None:
    # What is stored and refused is the subject here, not the sending.
    monkeypatch.setattr("issues.services.enqueue_on_commit", lambda *args, **kwargs: None)


def send_test(user: Any, *addresses: str) -> PreviewSend:
    return preview_send_create(issue=make_full_issue(), recipients=list(addresses), acting_user=user)


def refusal(user: Any, *addresses: str) -> str:
    with pytest.raises(ValidationError) as caught:
        send_test(user, *addresses)
    return " ".join(caught.value.messages)


def test_a_contributor_is_refused_an_outside_address_and_nothing_is_stored(contributor: Any) -> None:
    text = refusal(contributor, "carl@newsroom.test", "friend@elsewhere.example")

    assert "only to staff addresses; not to friend@elsewhere.example." in text
    assert not PreviewSend.objects.exists()


def test_a_contributor_may_send_to_staff_addresses_whatever_their_case(contributor: Any, editor: Any) -> None:
    preview = send_test(contributor, "Edith@Newsroom.test", contributor.email)

    assert preview.recipients == ["Edith@Newsroom.test", contributor.email]


def test_an_inactive_or_non_staff_account_is_not_a_staff_address(contributor: Any) -> None:
    UserFactory.create(username="gone", is_active=False)
    UserFactory.create(username="reader", is_staff=False)

    text = refusal(contributor, "gone@newsroom.test", "reader@newsroom.test")

    assert "not to gone@newsroom.test, reader@newsroom.test." in text


def test_with_the_allowlist_a_contributor_may_use_listed_addresses_and_domains(contributor: Any, settings: Any) -> None:
    settings.TEST_SEND_RECIPIENTS = "allowlist"
    settings.TEST_SEND_ALLOWED_ADDRESSES = ["proof@agency.example", "@client.example"]

    send_test(contributor, "Proof@agency.example", "anyone@client.example", contributor.email)
    text = refusal(contributor, "other@agency.example", "x@sub.client.example")

    assert "the addresses an editor allowed; not to other@agency.example, x@sub.client.example." in text
    assert PreviewSend.objects.count() == 1


def test_in_staff_mode_the_allowlist_is_not_used(contributor: Any, settings: Any) -> None:
    settings.TEST_SEND_ALLOWED_ADDRESSES = ["@client.example"]

    assert "not to anyone@client.example" in refusal(contributor, "anyone@client.example")


def test_with_any_a_contributor_may_send_anywhere(contributor: Any, settings: Any) -> None:
    settings.TEST_SEND_RECIPIENTS = "any"

    assert send_test(contributor, "friend@elsewhere.example").recipients == ["friend@elsewhere.example"]


def test_an_editor_may_send_tests_to_outside_addresses(editor: Any) -> None:
    assert send_test(editor, "friend@elsewhere.example").recipients == ["friend@elsewhere.example"]


def test_the_hourly_limit_counts_addresses_and_refuses_the_request_that_would_pass_it(
    editor: Any, settings: Any
) -> None:
    settings.TEST_SEND_LIMIT_PER_HOUR = 5
    send_test(editor, "a@example.org", "b@example.org", "c@example.org")

    text = refusal(editor, "d@example.org", "e@example.org", "f@example.org")
    send_test(editor, "d@example.org", "e@example.org")

    assert "limited to 5 addresses an hour per person; 3 used in the last hour, 2 left" in text
    assert PreviewSend.objects.count() == 2
    assert "5 used in the last hour, 0 left" in refusal(editor, "g@example.org")


def test_test_sends_older_than_an_hour_do_not_count(editor: Any, settings: Any) -> None:
    settings.TEST_SEND_LIMIT_PER_HOUR = 2
    old = send_test(editor, "a@example.org", "b@example.org")
    PreviewSend.objects.filter(pk=old.pk).update(requested_at=timezone.now() - timedelta(minutes=61))

    send_test(editor, "c@example.org", "d@example.org")

    PreviewSend.objects.exclude(pk=old.pk).update(requested_at=timezone.now() - timedelta(minutes=59))
    assert "2 used in the last hour" in refusal(editor, "e@example.org")


def test_test_sends_the_queue_never_took_do_not_count(editor: Any, settings: Any) -> None:
    settings.TEST_SEND_LIMIT_PER_HOUR = 2
    failed = send_test(editor, "a@example.org", "b@example.org")
    PreviewSend.objects.filter(pk=failed.pk).update(status="not_queued", error=NOT_QUEUED)

    assert send_test(editor, "a@example.org", "b@example.org").recipients == ["a@example.org", "b@example.org"]


def test_the_limit_is_per_person(editor: Any, settings: Any) -> None:
    settings.TEST_SEND_LIMIT_PER_HOUR = 2
    send_test(editor, "a@example.org", "b@example.org")
    other = make_editor("second")

    assert send_test(other, "a@example.org").requested_by == other


def test_the_admin_shows_a_refusal_as_the_forms_error_and_stores_nothing(contributor: Any) -> None:
    client = Client()
    client.force_login(contributor)
    issue = make_full_issue()

    response = client.post(
        reverse("admin:issues_issue_test_send", args=[issue.pk]),
        {"recipients": "friend@elsewhere.example"},
        follow=True,
    )

    assert response.status_code == 200
    assert "Test send not queued: Contributors may send tests only to staff addresses" in response.content.decode()
    assert not PreviewSend.objects.exists()


@pytest.mark.parametrize("entry", ["agency.example", "@localhost"])
def test_a_malformed_allowlist_entry_stops_start_up_with_its_name(tmp_path: Path, entry: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "NEWSROOM_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "TEST_SEND_ALLOWED_ADDRESSES": f"ok@agency.example, {entry}",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, "DJANGO_SETTINGS_MODULE": "newsroom.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert f"TEST_SEND_ALLOWED_ADDRESSES entry {entry!r} is not an address" in result.stderr


@pytest.mark.integration  # concurrent writers need PostgreSQL: SQLite takes one writer at a time
@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_cannot_both_pass_the_limit(settings: Any) -> None:
    settings.TEST_SEND_LIMIT_PER_HOUR = 10
    editor = make_editor("racer")
    issue = make_full_issue()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def request(prefix: str) -> None:
        addresses = [f"{prefix}{n}@example.org" for n in range(6)]
        try:
            start.wait(timeout=10)
            preview_send_create(issue=issue, recipients=addresses, acting_user=editor)
            outcomes.append("stored")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(prefix,)) for prefix in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["refused", "stored"]
    assert PreviewSend.objects.count() == 1
