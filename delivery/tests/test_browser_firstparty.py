"""A reader clicks a link of the issue in the dev outbox (as on a laptop with `make run`),
lands on the story, and the editor sees the click in the send's analytics."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import include, path

from delivery import pipeline, services
from delivery.models import Event
from issues.models import IssueStatus
from newsroom.urls import urlpatterns as site_urlpatterns
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

# newsroom/urls.py mounts /dev/outbox/ only when DEBUG is on at import time; this is the URLconf `make run` has.
urlpatterns = [path("dev/outbox/", include("core.urls")), *site_urlpatterns]


@pytest.fixture
def local_outbox(settings: Any, live_server: Any) -> str:
    settings.DEBUG = True
    settings.SITE_URL = live_server.url
    settings.PAGE_CACHE_SECONDS = 0
    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    # The reader clicks seconds after the send; delivery.machine's timing rule (tested in
    # test_machine_opens.py) would count a click that soon as a link scanner's.
    settings.MACHINE_OPEN_SECONDS = 0
    return str(live_server.url)


def test_a_click_in_the_outbox_shows_in_the_sends_analytics(
    page: Any, local_outbox: str, live_server: Any, celery_eager: None
) -> None:
    site = local_outbox
    daily = MailingListFactory.create(name="Daily")
    SubscriberFactory.create(lists=[daily], email="ada@example.org", name="Ada")
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(
        issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor(), track_clicks=True
    )
    pipeline.sends_start_due()
    # The story lives on another site: answer for it here, so the redirect has somewhere to land.
    page.route("https://example.com/**", lambda route: route.fulfill(body="<h1>Lead story 1</h1>"))

    # A reader's browser: headless Chromium names itself "HeadlessChrome", which delivery.machine
    # takes for a link scanner's fetch.
    page.set_extra_http_headers(
        {
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/140.0 Safari/537.36"
        }
    )
    page.goto(site + "/dev/outbox/")
    page.get_by_role("link", name=issue.email_subject).first.click()
    frame = page.frame_locator("iframe.outbox-frame")
    link = frame.locator('a.link[href*="/t/c/"]').first  # the first lead story's source link
    assert "/t/c/" in (link.get_attribute("href") or "")
    screenshot(page, "firstparty-1-outbox")
    link.click()
    page.wait_for_url("https://example.com/story-1")
    assert page.locator("h1").inner_text() == "Lead story 1"

    click = Event.objects.get(event_type="clicked")
    assert (click.send_id, click.url, click.esp_name) == (send.pk, "https://example.com/story-1", "newsroom")
    page.context.clear_cookies()
    admin_login(page, live_server, "edith")
    page.goto(f"{site}/admin/analytics/send/{send.pk}/")
    clicked = page.locator('#figures tr[data-key="clicked"] td.num').first
    assert clicked.inner_text() == "1"
    assert page.locator("#links").get_by_text("https://example.com/story-1").is_visible()
    screenshot(page, "firstparty-2-analytics")

    page.goto(f"{site}/admin/delivery/send/{send.pk}/change/")
    assert (
        page.locator("#send-tracking").inner_text() == "Clicks: first-party redirects; opens: the provider's tracking."
    )
