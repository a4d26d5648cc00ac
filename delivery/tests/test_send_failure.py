"""A send that reached no reader ends failed, with the reason, and its issue goes back to
approved and stays off the archive; a send that reached anyone ends done."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from anymail.message import AnymailRecipientStatus
from anymail.signals import pre_send
from django.urls import reverse

from delivery import pipeline, services
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import Issue, IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db

REFUSED = "The provider answered rejected for this address."


@pytest.fixture
def mailgun_refusing(settings: Any) -> Iterator[set[str]]:
    """The Mailgun strategy over anymail's test backend, refusing the addresses in the set it yields."""
    settings.EMAIL_PROVIDER = "mailgun"
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "The Newsroom Daily <news@mg.newsroom.test>"
    refuse: set[str] = set()

    def answer(sender: Any, message: Any, esp_name: str, **kwargs: Any) -> None:
        if refuse & set(message.to):
            message.anymail_test_response = {
                "recipient_status": {
                    to: AnymailRecipientStatus(message_id=None, status="rejected" if to in refuse else "sent")
                    for to in message.to
                }
            }

    pre_send.connect(answer, weak=False)
    yield refuse
    pre_send.disconnect(answer)


def send_to(emails: list[str], capture: Any) -> Send:
    daily = MailingListFactory.create(name="Daily")
    for email in emails:
        SubscriberFactory.create(lists=[daily], email=email)
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    with capture(execute=True):
        pipeline.sends_start_due()
    send.refresh_from_db()
    return send


def test_a_send_in_which_every_reader_failed_ends_failed_and_the_issue_is_approved_again(
    mailgun_refusing: set[str], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    mailgun_refusing.update({"a@example.org", "b@example.org"})

    send = send_to(["a@example.org", "b@example.org"], django_capture_on_commit_callbacks)

    assert send.status == SendStatus.FAILED
    assert send.error == f"No reader was sent the issue: 2 failed ({REFUSED.rstrip('.')})."
    issue = Issue.objects.get(pk=send.issue_id)
    assert issue.status == IssueStatus.APPROVED  # not sent, so not on the public archive
    assert issue.transitions.first().note == f"Send #{send.pk} failed. {send.error}"  # type: ignore[union-attr]


def test_a_send_that_reached_one_reader_ends_done_and_the_issue_sent(
    mailgun_refusing: set[str], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    mailgun_refusing.add("a@example.org")

    send = send_to(["a@example.org", "b@example.org"], django_capture_on_commit_callbacks)

    assert send.status == SendStatus.DONE and send.error == ""
    assert Issue.objects.get(pk=send.issue_id).status == IssueStatus.SENT


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_editor_sees_why_on_the_send_page_and_the_issue_page(
    client: Any, mailgun_refusing: set[str], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    mailgun_refusing.add("a@example.org")
    send = send_to(["a@example.org"], django_capture_on_commit_callbacks)
    client.force_login(send.created_by)  # the editor who scheduled it

    send_page = text_of(client.get(reverse("admin:delivery_send_change", args=[send.pk])))
    issue_page = text_of(client.get(reverse("admin:issues_issue_change", args=[send.issue_id])))

    why = f"No reader was sent the issue: 1 failed ({REFUSED.rstrip('.')})."
    assert "Failed" in send_page and why in send_page
    assert f"Send #{send.pk} failed. {why}" in issue_page


def test_a_failed_send_does_not_block_a_new_send_to_the_same_audience(
    mailgun_refusing: set[str], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    mailgun_refusing.add("c@example.org")
    second = send_to(["c@example.org"], django_capture_on_commit_callbacks)
    assert second.status == SendStatus.FAILED
    mailgun_refusing.clear()
    again = services.send_create(
        issue=second.issue, lists=list(second.lists.all()), segment=None, at=None, acting_user=make_editor()
    )
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sends_start_due()
    again.refresh_from_db()
    assert again.status == SendStatus.DONE
    assert Issue.objects.get(pk=second.issue_id).status == IssueStatus.SENT


def test_retrying_the_readers_of_a_failed_send_sends_the_issue_again(
    mailgun_refusing: set[str], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    mailgun_refusing.add("a@example.org")
    send = send_to(["a@example.org"], django_capture_on_commit_callbacks)
    assert send.status == SendStatus.FAILED
    mailgun_refusing.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_retry_failed(send=send, acting_user=make_editor()) == 1

    send.refresh_from_db()
    assert send.status == SendStatus.DONE and send.error == ""
    assert Delivery.objects.get(send=send).status == DeliveryStatus.SENT
    assert Issue.objects.get(pk=send.issue_id).status == IssueStatus.SENT
