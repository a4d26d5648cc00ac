"""A reader's whole journey and an editor's 10,000-row import, in a real Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from newsroom.models import OutboxMessage
from newsroom.testing.factories import MailingListFactory
from newsroom.testing.fixtures import admin_login, screenshot
from subscribers.models import Subscriber, SubscriberStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def link_in(message: OutboxMessage, path_part: str) -> str:
    found = re.search(r"https?://\S+" + re.escape(path_part) + r"\S*", message.text_body)
    assert found, message.text_body
    return found.group(0)


def test_a_reader_subscribes_confirms_changes_preferences_and_unsubscribes(
    page: Any, live_server: Any, settings: Any, celery_eager: None
) -> None:
    settings.SITE_URL = live_server.url
    settings.PAGE_CACHE_SECONDS = 0
    MailingListFactory.create(name="Daily digest", slug="daily", default=True)
    MailingListFactory.create(name="Weekly tools", slug="weekly")

    page.goto(live_server.url + "/")
    form = page.locator("form.subscribe-form")
    form.get_by_label("Email address").fill("Reader@Example.org")
    form.get_by_label("Name (optional)").fill("Ada")
    screenshot(page, "subscribers-1-home-form")
    form.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/subscribe/thanks/")
    assert page.locator("h1").inner_text() == "Check your inbox"
    screenshot(page, "subscribers-2-thanks")

    confirmation = OutboxMessage.objects.get(to="Reader@example.org")
    page.goto(link_in(confirmation, "/subscribe/confirm/"))
    assert page.locator("h1").inner_text() == "You are subscribed"
    screenshot(page, "subscribers-3-confirmed")
    reader = Subscriber.objects.get()
    assert reader.status == SubscriberStatus.ACTIVE
    assert [item.name for item in reader.lists.all()] == ["Daily digest"]

    page.get_by_role("link", name="Choose your newsletters and manage your subscription").click()
    page.get_by_label("Weekly tools").check()
    page.get_by_label("Daily digest").uncheck()
    page.get_by_label("Name", exact=True).fill("Ada L.")
    page.get_by_role("button", name="Save preferences").click()
    assert page.get_by_text("Your preferences are saved.").is_visible()
    screenshot(page, "subscribers-4-preferences")
    reader.refresh_from_db()
    assert reader.name == "Ada L." and [item.name for item in reader.lists.all()] == ["Weekly tools"]

    welcome = OutboxMessage.objects.get(to="Reader@example.org", subject__startswith="Welcome")
    page.goto(link_in(welcome, "/unsubscribe/"))
    assert page.locator("h1").inner_text() == "Unsubscribe?"
    screenshot(page, "subscribers-5-unsubscribe-confirm")
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    screenshot(page, "subscribers-6-unsubscribed")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
    assert urlsplit(page.url).path.startswith("/unsubscribe/")


def test_an_editor_imports_ten_thousand_rows_with_bad_ones_and_sees_the_report(
    page: Any, live_server: Any, editor: Any, tmp_path: Path
) -> None:
    MailingListFactory.create(name="Daily digest", slug="daily")
    path = tmp_path / "readers.csv"
    lines = ["email,name,lists"]
    for i in range(10_000):
        if i % 500 == 1:
            lines.append(f"broken-{i},Broken,")
        elif i % 500 == 2:
            lines.append(f"reader{i - 2}@example.org,Again,daily")
        elif i % 500 == 3:
            lines.append(f"reader{i}@example.org,Too,many,fields")
        else:
            lines.append(f"reader{i}@example.org,Reader {i},daily")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    admin_login(page, live_server, editor.username)
    page.goto(live_server.url + "/admin/subscribers/subscriber/")
    page.get_by_role("link", name="Import CSV").click()
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    assert "10000 data rows" in page.locator("#content").inner_text()
    assert page.locator("#import-preview tbody tr").count() == 10
    page.get_by_label("Why may we email these readers?").select_option("double_opt_in")
    screenshot(page, "subscribers-import-preview")
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("#import-report-summary", timeout=120_000)
    assert page.locator("#import-report-summary .added").inner_text() == "9940"
    assert page.locator("#import-report-summary .rejected").inner_text() == "60"
    report = page.locator("#import-report-rows").inner_text()
    assert "Invalid address" in report and "Duplicate" in report and "Broken row" in report
    screenshot(page, "subscribers-import-report")
    assert Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).count() == 9940
