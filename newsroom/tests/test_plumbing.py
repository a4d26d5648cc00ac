"""The first vertical slice: a real worker on real Redis sends a real email, and
a real browser signs in to the admin."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from core.mail import operator_check
from testing.factories import PASSWORD, make_editor
from testing.fixtures import admin_login, screenshot


@pytest.mark.integration
def test_a_worker_on_redis_sends_the_email_through_anymail(settings, celery_worker):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    mail.outbox = []

    operator_check(to="ops@example.org")

    deadline = time.monotonic() + 20
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.org"]
    assert "mail delivery works" in message.subject
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.anymail_status.status == {"sent"}
    assert "worker and the provider" in message.alternatives[0][0]


@pytest.mark.browser
def test_an_editor_signs_in_to_the_admin(live_server, page, transactional_db):
    make_editor("edith")
    admin_login(page, live_server, "edith", PASSWORD)
    assert page.locator("#site-name").is_visible()
    assert page.locator("#user-tools strong").text_content() == "Edith"
    screenshot(page, "admin-home")


@pytest.mark.browser
def test_a_wrong_password_is_refused(live_server, page, transactional_db):
    make_editor("edith")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "edith")
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()
    assert page.url.endswith("/admin/login/")
