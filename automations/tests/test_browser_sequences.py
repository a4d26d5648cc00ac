"""An editor builds a three-step welcome series in the admin; a new reader subscribes,
confirms, and the first step lands in the dev outbox. In a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import include, path

from automations.models import Sequence
from core.models import OutboxMessage
from newsroom.urls import urlpatterns as site_urlpatterns
from testing.factories import MailingListFactory, make_editor
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

# /dev/outbox/ is mounted only with DEBUG on at import time (see subscribers' browser test).
urlpatterns = [path("dev/outbox/", include("core.urls")), *site_urlpatterns]


@pytest.fixture
def local_outbox(settings: Any, live_server: Any) -> str:
    settings.DEBUG = True
    settings.SITE_URL = live_server.url
    settings.PAGE_CACHE_SECONDS = 0
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    return str(live_server.url)


def test_an_editor_builds_a_series_and_a_new_reader_gets_its_first_step(
    page: Any, live_server: Any, local_outbox: str, celery_eager: None
) -> None:
    site = local_outbox
    MailingListFactory.create(name="Weekly tools", slug="weekly", default=True)
    make_editor(username="edith")
    admin_login(page, live_server, "edith")

    page.goto(site + "/admin/automations/sequence/add/")
    page.fill("#id_name", "Tools welcome series")
    page.select_option("#id_trigger_list", label="Weekly tools")
    steps = [
        ("Welcome to the tools list", "0", "minutes"),
        ("Our favourite tools", "2", "days"),
        ("One week in", "7", "days"),
    ]
    for index, (subject, delay, unit) in enumerate(steps):
        page.get_by_text("Add another step").click()
        form = page.locator(f"#steps-{index}")
        form.locator(f"#id_steps-{index}-subject").fill(subject)
        form.locator(".ck-editor__editable").click()
        page.keyboard.type(f"Hello from step {index + 1}.")
        form.locator(f"#id_steps-{index}-delay_value").fill(delay)
        form.locator(f"#id_steps-{index}-delay_unit").select_option(unit)
    screenshot(page, "automations-1-series-form")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/automations/sequence/")
    sequence = Sequence.objects.get(name="Tools welcome series")
    assert [s.subject for s in sequence.steps.order_by("position")] == [s for s, _, _ in steps]
    assert "Hello from step 1." in sequence.steps.order_by("position").first().body

    # A new reader subscribes and confirms from the outbox.
    page.goto(site + "/")
    form = page.locator("form.subscribe-form")
    form.get_by_label("Email address").fill("new.reader@example.org")
    form.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/subscribe/thanks/")
    page.goto(site + "/dev/outbox/")
    page.get_by_role("link", name="Confirm your subscription to The Newsroom Daily").first.click()
    page.wait_for_selector("iframe.outbox-frame")
    page.frame_locator("iframe.outbox-frame").get_by_role("link", name="Confirm my subscription").click()
    page.wait_for_url("**/subscribe/confirm/**")
    page.get_by_role("button", name="Confirm my subscription").click()
    assert page.locator("h1").inner_text() == "You are subscribed"

    page.goto(site + "/dev/outbox/")
    page.get_by_role("link", name="Welcome to the tools list").first.click()
    page.wait_for_selector("iframe.outbox-frame")
    screenshot(page, "automations-2-first-step-in-outbox")
    body = page.frame_locator("iframe.outbox-frame").locator("body").inner_text()
    assert "Hello from step 1." in body and "Unsubscribe" in body
    assert OutboxMessage.objects.filter(to="new.reader@example.org", subject="Our favourite tools").count() == 0
