from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.models import OutboxMessage
from core.queue import TaskQueueUnavailable
from issues.models import PreviewSend
from issues.services import NOT_QUEUED, TEST_SEND_NOT_QUEUED, preview_send_create
from issues.tasks import preview_send_task
from testing.factories import make_full_issue
from testing.fixtures import BrokerOutage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def outbox_backend(settings) -> None:
    # pytest-django swaps in the locmem backend; use the project's default one.
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"


@pytest.fixture
def client_for(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def test_preview_page_frames_email_and_web_at_two_widths_and_shows_text(client_for) -> None:
    issue = make_full_issue()
    html = client_for.get(reverse("admin:issues_issue_preview", args=[issue.pk])).content.decode()
    email_url = reverse("admin:issues_issue_preview_email", args=[issue.pk])
    web_url = reverse("admin:issues_issue_preview_web", args=[issue.pk])
    assert f'src="{email_url}" width="640"' in html and f'src="{email_url}" width="375"' in html
    assert f'src="{web_url}" width="1024"' in html and f'src="{web_url}" width="375"' in html
    assert "Hi Sample Reader," in html
    assert "%recipient." not in html


def test_preview_email_has_sample_values_in_place_of_merge_tags(client_for, settings) -> None:
    issue = make_full_issue()
    response = client_for.get(reverse("admin:issues_issue_preview_email", args=[issue.pk]))
    html = response.content.decode()
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "%recipient." not in html
    assert "Hi Sample Reader," in html
    assert f"{settings.SITE_URL}/unsubscribe/sample/" in html


def test_preview_web_shows_the_sections_even_for_a_draft(client_for) -> None:
    issue = make_full_issue()
    html = client_for.get(reverse("admin:issues_issue_preview_web", args=[issue.pk])).content.decode()
    assert "Preview: Draft, not yet public" in html
    assert "Lead story 1" in html and "Quick item 7." in html


def test_preview_needs_admin_login() -> None:
    issue = make_full_issue()
    response = Client().get(reverse("admin:issues_issue_preview", args=[issue.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_test_send_stores_the_request_and_sends_one_copy_per_address(
    client_for, editor, celery_eager, django_capture_on_commit_callbacks
) -> None:
    issue = make_full_issue()
    url = reverse("admin:issues_issue_test_send", args=[issue.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for.post(url, {"recipients": "a@example.com, b@example.com"})
    assert response.status_code == 302
    preview = PreviewSend.objects.get()
    assert preview.recipients == ["a@example.com", "b@example.com"] and preview.requested_by == editor
    assert preview.sent_at is not None and preview.error == "" and preview.status == "sent"
    messages = OutboxMessage.objects.order_by("to")
    assert [m.to for m in messages] == ["a@example.com", "b@example.com"]
    assert messages[0].subject == f"[Test] {issue.email_subject}"
    assert "Hi Sample Reader," in messages[0].html_body and "%recipient." not in messages[0].html_body
    assert "%recipient." not in messages[0].text_body
    page = client_for.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert "Sent at " in page and "a@example.com, b@example.com" in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("not-an-address", "“not-an-address” is not a valid email address."),
        (", ".join(f"p{n}@example.com" for n in range(11)), "at most 10 addresses"),
        ("  ", "This field is required."),
    ],
)
def test_test_send_with_bad_addresses_is_refused_with_a_message(client_for, typed: str, message: str) -> None:
    issue = make_full_issue()
    response = client_for.post(
        reverse("admin:issues_issue_test_send", args=[issue.pk]), {"recipients": typed}, follow=True
    )
    assert message in response.content.decode()
    assert not PreviewSend.objects.exists()


def test_a_failing_provider_is_recorded_on_the_test_send(editor, monkeypatch) -> None:
    issue = make_full_issue()
    preview = PreviewSend.objects.create(issue=issue, requested_by=editor, recipients=["x@example.com"])

    def broken(*args, **kwargs):
        raise ConnectionError("provider unreachable")

    monkeypatch.setattr("issues.tasks.send_test_issue", broken)
    preview_send_task(preview.pk)
    preview.refresh_from_db()
    assert preview.sent_at is None and preview.status == "failed"
    assert "provider unreachable" in preview.error


def test_task_argument_is_json(editor) -> None:
    issue = make_full_issue()
    preview = PreviewSend.objects.create(issue=issue, requested_by=editor, recipients=["x@example.com"])
    assert json.loads(json.dumps([preview.pk])) == [preview.pk]
    preview_send_task(preview.pk)
    preview_send_task(preview.pk)  # a re-delivered task does not send twice
    assert OutboxMessage.objects.filter(to="x@example.com").count() == 1


def post_test_send(client: Client, issue: Any) -> str:
    """Press Send test for a@example.com; the page the editor lands on."""
    url = reverse("admin:issues_issue_test_send", args=[issue.pk])
    response = client.post(url, {"recipients": "a@example.com"}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_test_send_with_the_queue_down_says_so_and_is_not_shown_as_queued(
    client_for, broker_down: BrokerOutage
) -> None:
    page = post_test_send(client_for, make_full_issue())
    assert "Test send not queued: the task queue could not be reached." in page
    assert "Test send queued" not in page
    preview = PreviewSend.objects.get()
    assert preview.sent_at is None and preview.error == NOT_QUEUED and preview.status == "not_queued"
    assert "Failed: Not queued: the task queue could not be reached." in page
    assert "Queued…" not in page
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_redis_transports_own_connection_error_is_caught_too(client_for, monkeypatch) -> None:
    import redis.exceptions

    def refused(*args: Any, **kwargs: Any) -> None:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(preview_send_task, "delay", refused)
    page = post_test_send(client_for, make_full_issue())
    assert "Test send not queued: the task queue could not be reached." in page
    assert PreviewSend.objects.get().error == NOT_QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_test_send_with_the_queue_down_raises_the_shared_queue_error_after_storing_why(
    editor, broker_down: BrokerOutage
) -> None:
    # One exception for every "the queue is down" answer (core.queue), whichever app queues.
    with pytest.raises(TaskQueueUnavailable) as raised:
        preview_send_create(issue=make_full_issue(), recipients=["a@example.com"], acting_user=editor)
    assert str(raised.value) == TEST_SEND_NOT_QUEUED
    preview = PreviewSend.objects.get()
    assert preview.sent_at is None and preview.error == NOT_QUEUED and preview.status == "not_queued"


@pytest.mark.django_db(transaction=True)
def test_a_test_send_is_queued_and_sent_once_the_queue_is_back(client_for, broker_down: BrokerOutage) -> None:
    issue = make_full_issue()
    post_test_send(client_for, issue)
    broker_down.end(eager=True)
    assert "Test send queued to a@example.com." in post_test_send(client_for, issue)
    assert OutboxMessage.objects.filter(to="a@example.com").count() == 1
    failed, sent = PreviewSend.objects.order_by("pk")
    assert failed.error == NOT_QUEUED and failed.sent_at is None
    assert sent.error == "" and sent.sent_at is not None
