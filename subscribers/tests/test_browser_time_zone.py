"""The browser's time zone reaches the reader's record through the subscribe form's hidden field,
and the form works the same without JavaScript; in a real Chromium with an emulated zone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from subscribers.links import links_for
from subscribers.models import Subscriber
from subscribers.tests.test_browser_subscribers import urlpatterns  # noqa: F401 (the URLconf with the outbox)
from testing.factories import MailingListFactory
from testing.fixtures import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]


@pytest.fixture
def site(settings: Any, live_server: Any) -> str:
    settings.SITE_URL = live_server.url
    settings.PAGE_CACHE_SECONDS = 0
    MailingListFactory.create(name="Daily digest", slug="daily", default=True)
    return str(live_server.url)


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """open_page(**context options): a page in a new browser context, closed after the test."""
    contexts: list[Any] = []

    def open_with(**options: Any) -> Any:
        contexts.append(browser.new_context(viewport={"width": 1280, "height": 900}, **options))
        return contexts[-1].new_page()

    yield open_with
    for context in contexts:
        context.close()


def subscribe(page: Any, site: str, email: str) -> Subscriber:
    page.goto(site + "/")
    form = page.locator("form.subscribe-form")
    form.get_by_label("Email address").fill(email)
    form.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/subscribe/thanks/")
    return Subscriber.objects.get(email=email)


def test_a_reader_in_tokyo_is_stored_in_tokyos_zone_and_can_change_it(
    open_page: Any, site: str, celery_eager: None
) -> None:
    page = open_page(timezone_id="Asia/Tokyo")
    reader = subscribe(page, site, "tokyo@example.org")
    assert reader.time_zone == "Asia/Tokyo"

    page.goto(site + urlsplit(links_for(subscriber_id=reader.pk, email=reader.email)["preferences_url"]).path)
    select = page.get_by_label("Your time zone")
    assert select.input_value() == "Asia/Tokyo"
    select.select_option("Europe/Berlin")
    page.get_by_role("button", name="Save preferences").click()
    assert page.get_by_text("Your preferences are saved.").is_visible()
    screenshot(page, "subscribers-time-zone-preferences")
    reader.refresh_from_db()
    assert reader.time_zone == "Europe/Berlin"


def test_without_javascript_the_form_still_subscribes_with_no_zone(
    open_page: Any, site: str, celery_eager: None
) -> None:
    page = open_page(timezone_id="America/New_York", java_script_enabled=False)
    reader = subscribe(page, site, "nojs@example.org")
    assert reader.time_zone == ""
