from __future__ import annotations

import json
import time
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from automations.models import Sequence
from automations.services import welcome_sequence_ensure
from core.models import OutboxMessage
from subscribers import emails, services
from testing.factories import make_pending_reader


@pytest.mark.django_db
def test_email_task_arguments_are_json() -> None:
    with mock.patch.object(emails.send_email_task, "delay") as delay:
        emails.confirmation(subscriber_id=1, email="a@example.org", name="Zoë")
        emails.welcome(subscriber_id=1, email="a@example.org", name="")
        emails.already_subscribed(subscriber_id=1, email="a@example.org", name="Zoë")
    assert delay.call_count == 3
    for call in delay.call_args_list:
        assert json.loads(json.dumps(call.kwargs)) == call.kwargs
    assert {call.kwargs["kind"] for call in delay.call_args_list} == {"confirm", "welcome", "already_subscribed"}


@pytest.mark.django_db
def test_plain_text_parts_and_subjects_are_not_html_escaped(
    celery_eager: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PUBLISHER_NAME = "Tom & Jerry's Daily"
    # The built-in welcome email: without a welcome sequence to take it over.
    Sequence.objects.filter(replaces_welcome=True).delete()
    reader = make_pending_reader(email="ob@example.org", name="Dara O'Brien")
    with django_capture_on_commit_callbacks(execute=True):
        services.subscriber_resend_confirmation(email=reader.email)
        services.subscriber_confirm(subscriber=reader)
    for message in OutboxMessage.objects.filter(to="ob@example.org"):
        assert "Hello Dara O'Brien," in message.text_body
        assert "Tom & Jerry's Daily" in message.subject and "&amp;" not in message.subject
        assert "Dara O&#x27;Brien" in message.html_body
    assert OutboxMessage.objects.count() == 2


@pytest.mark.django_db
def test_no_email_is_queued_when_the_transaction_rolls_back(django_capture_on_commit_callbacks: Any) -> None:
    with mock.patch.object(emails.send_email_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.subscriber_subscribe(email="a@example.org")
        assert delay.call_count == 0
        assert len(callbacks) == 1


@pytest.mark.django_db
def test_the_welcome_email_carries_working_links(
    client: Client, celery_eager: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    welcome_sequence_ensure()  # made by its migration; again if a test emptied the database
    reader = make_pending_reader(email="w@example.org", name="Wes")
    with django_capture_on_commit_callbacks(execute=True):
        services.subscriber_confirm(subscriber=reader)
    # The welcome is the first step of the welcome sequence (automations), in the issues' layout.
    welcome = OutboxMessage.objects.get(to="w@example.org")
    assert "Hi Wes" in welcome.text_body and settings.PUBLISHER_ADDRESS in welcome.html_body
    preferences = welcome.text_body.split("Update your preferences: ", 1)[1].split()[0]
    assert client.get(preferences.removeprefix(settings.SITE_URL)).status_code == 200


@pytest.mark.integration
def test_a_real_worker_on_redis_delivers_the_confirmation(client: Client, celery_worker: Any) -> None:
    client.post("/subscribe/", {"email": "queued@example.org"})
    deadline = time.monotonic() + 20
    while not OutboxMessage.objects.filter(to="queued@example.org").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    message = OutboxMessage.objects.get(to="queued@example.org")
    assert "/subscribe/confirm/" in message.text_body
