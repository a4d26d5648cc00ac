"""A reader's whole journey and an editor's 10,000-row import, in a real Chromium."""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import include, path

from core.mail import send_templated
from core.models import OutboxMessage
from newsroom.urls import urlpatterns as site_urlpatterns
from subscribers.emails import unsubscribe_headers
from subscribers.links import confirm_url, links_for
from subscribers.models import Subscriber, SubscriberStatus
from testing.factories import MailingListFactory, make_confirmed_reader, make_pending_reader
from testing.fixtures import BrokerOutage, admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

# newsroom/urls.py mounts /dev/outbox/ only when DEBUG is on at import time, and tests
# import it with DEBUG off; this module is the URLconf `make run` has (see newsroom/tests/test_outbox.py).
urlpatterns = [path("dev/outbox/", include("core.urls")), *site_urlpatterns]


def link_in(message: OutboxMessage, path_part: str) -> str:
    found = re.search(r"https?://\S+" + re.escape(path_part) + r"\S*", message.text_body)
    assert found, message.text_body
    return found.group(0)


@pytest.fixture
def local_outbox(settings: Any, live_server: Any) -> str:
    """The site as `make run` serves it: DEBUG on, so /dev/outbox/ shows the mail; links point at the live server."""
    settings.DEBUG = True
    settings.SITE_URL = live_server.url
    settings.PAGE_CACHE_SECONDS = 0
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    return str(live_server.url)


def open_in_outbox(page: Any, site: str, subject: str) -> None:
    page.goto(site + "/dev/outbox/")
    page.get_by_role("link", name=subject).first.click()
    page.wait_for_selector("iframe.outbox-frame")


def test_a_reader_subscribes_confirms_changes_preferences_and_unsubscribes(
    page: Any, local_outbox: str, celery_eager: None
) -> None:
    site = local_outbox
    MailingListFactory.create(name="Daily digest", slug="daily", default=True)
    MailingListFactory.create(name="Weekly tools", slug="weekly")

    page.goto(site + "/")
    form = page.locator("form.subscribe-form")
    form.get_by_label("Email address").fill("Reader@Example.org")
    form.get_by_label("Name (optional)").fill("Ada")
    screenshot(page, "subscribers-1-home-form")
    form.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/subscribe/thanks/")
    assert page.locator("h1").inner_text() == "Check your inbox"
    screenshot(page, "subscribers-2-thanks")

    # The confirmation email, opened in the local outbox as a person would.
    open_in_outbox(page, site, "Confirm your subscription to The Newsroom Daily")
    screenshot(page, "subscribers-3-outbox-confirmation")
    page.frame_locator("iframe.outbox-frame").get_by_role("link", name="Confirm my subscription").click()
    page.wait_for_url("**/subscribe/confirm/**")
    assert page.locator("h1").inner_text() == "Confirm your subscription"
    reader = Subscriber.objects.get()
    assert reader.status == SubscriberStatus.PENDING, "opening the link alone must not confirm"
    page.get_by_role("button", name="Confirm my subscription").click()
    assert page.locator("h1").inner_text() == "You are subscribed"
    screenshot(page, "subscribers-4-confirmed")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE
    assert [item.name for item in reader.lists.all()] == ["Daily digest"]
    assert reader.consents.filter(form="subscribe form on /").count() == 1

    page.get_by_role("link", name="Choose your newsletters and manage your subscription").click()
    page.get_by_label("Weekly tools").check()
    page.get_by_label("Daily digest").uncheck()
    page.get_by_label("Name", exact=True).fill("Ada L.")
    page.get_by_role("button", name="Save preferences").click()
    assert page.get_by_text("Your preferences are saved.").is_visible()
    screenshot(page, "subscribers-5-preferences")
    reader.refresh_from_db()
    assert reader.name == "Ada L." and [item.name for item in reader.lists.all()] == ["Weekly tools"]

    # The welcome email's unsubscribe link, from the outbox.
    open_in_outbox(page, site, "Welcome to The Newsroom Daily")
    assert "List-Unsubscribe-Post" in page.locator(".outbox-meta").inner_text()
    page.frame_locator("iframe.outbox-frame").get_by_role("link", name="Unsubscribe").click()
    page.wait_for_url("**/unsubscribe/**")
    assert page.locator("h1").inner_text() == "Unsubscribe?"
    screenshot(page, "subscribers-6-unsubscribe-confirm")
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    screenshot(page, "subscribers-7-unsubscribed")
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
    assert urlsplit(page.url).path.startswith("/unsubscribe/")

    # Changed their mind: one button, no second confirmation (the link proves the mailbox).
    page.get_by_role("button", name="Subscribe again").click()
    assert page.get_by_text("Welcome back: you are subscribed again.").is_visible()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE
    assert OutboxMessage.objects.filter(to="Reader@example.org").count() == 2


def _request(method: str, url: str, body: bytes | None = None, content_type: str = "") -> http.client.HTTPResponse:
    """One plain HTTP request, no cookies, no redirects followed: what a mail client's one-click POST is."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    connection.request(method, parts.path, body=body, headers={"Content-Type": content_type} if body else {})
    return connection.getresponse()


def test_a_mail_client_one_click_post_over_http_unsubscribes_without_cookie_or_redirect(
    local_outbox: str, celery_eager: None
) -> None:
    reader = make_confirmed_reader(email="oneclick@example.org")
    links = links_for(subscriber_id=reader.pk, email=reader.email)
    send_templated(kind="welcome", to=[reader.email], context={"name": "", **links}, headers=unsubscribe_headers(links))
    header = OutboxMessage.objects.get(to=reader.email).headers["List-Unsubscribe"]
    url = header.strip("<>")
    assert url.startswith(local_outbox) and url.endswith("/one-click/")

    # A link scanner's GET first: nothing happens.
    assert _request("GET", url).status == 200
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE

    boundary = "----mailclient"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    for body, content_type in [
        (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"),
        (multipart, f"multipart/form-data; boundary={boundary}"),
    ]:
        answer = _request("POST", url, body, content_type)
        assert answer.status == 200, answer.read()
        assert answer.getheader("Location") is None and answer.getheader("Set-Cookie") is None
        reader.refresh_from_db()
        assert reader.status == SubscriberStatus.UNSUBSCRIBED
    assert reader.consents.filter(form="one-click (RFC 8058)").count() == 1


def test_an_editor_imports_ten_thousand_rows_with_bad_ones_and_sees_the_report(
    page: Any, live_server: Any, editor: Any, tmp_path: Path, celery_eager: None
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
    assert "Import finished: 9940 added, 0 updated, 0 skipped, 60 rejected." in page.locator("#content").inner_text()
    assert page.locator("#import-report-summary .added").inner_text() == "9940"
    assert page.locator("#import-report-summary .rejected").inner_text() == "60"
    reasons = page.locator("#import-report-reasons").inner_text()
    assert "Invalid address\t20" in reasons and "Duplicate\t20" in reasons and "Broken row\t20" in reasons
    report = page.locator("#import-report-rows").inner_text()
    assert "Invalid address" in report and "Duplicate" in report and "Broken row" in report
    screenshot(page, "subscribers-import-report")
    assert Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).count() == 9940


def test_an_editor_builds_a_segment_and_watches_the_count_change(page: Any, live_server: Any, editor: Any) -> None:
    daily = MailingListFactory.create(name="Daily digest", slug="daily")
    weekly = MailingListFactory.create(name="Weekly tools", slug="weekly")
    for _ in range(3):
        make_confirmed_reader(lists=[daily])
    make_pending_reader(lists=[daily])
    make_confirmed_reader(lists=[weekly])

    admin_login(page, live_server, editor.username)
    page.goto(live_server.url + "/admin/subscribers/segment/add/")
    count = page.locator("#segment-live-count")
    page.wait_for_function("document.getElementById('segment-live-count').dataset.sendable === '4'")
    assert count.inner_text() == "5 readers match; a send would reach 4 of them now."
    page.get_by_label("Daily digest").check()
    page.wait_for_function("document.getElementById('segment-live-count').dataset.sendable === '3'")
    assert count.inner_text() == "4 readers match; a send would reach 3 of them now."
    page.get_by_label("Status").select_option("pending")
    page.wait_for_function("document.getElementById('segment-live-count').dataset.sendable === '0'")
    assert count.inner_text() == "1 reader matches; a send would reach 0 of them now."
    page.get_by_label("Status").select_option("")
    page.wait_for_function("document.getElementById('segment-live-count').dataset.sendable === '3'")
    # Engagement rules count live too, and rules that contradict each other say so.
    page.get_by_label("Never opened").check()
    page.get_by_label("Opened or clicked any of the last N sends").fill("2")
    page.wait_for_function("document.getElementById('segment-live-count').textContent.includes('cannot be combined')")
    assert count.inner_text().startswith("“Never opened” cannot be combined with “opened or clicked any of the last")
    page.get_by_label("Opened or clicked any of the last N sends").fill("")
    page.wait_for_function("document.getElementById('segment-live-count').dataset.sendable === '3'")
    page.get_by_label("Never opened").uncheck()
    page.wait_for_function("document.getElementById('segment-live-count').dataset.sendable === '3'")
    page.get_by_label("Name").fill("Daily readers")
    screenshot(page, "subscribers-segment-live-count")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("text=was added successfully")
    assert "3" in page.locator("td.field-matching_readers").inner_text()


CONTRAST_PROBLEMS = (Path(__file__).resolve().parents[2] / "issues" / "tests" / "public_a11y.js").read_text()


def _reader_page_tour(page: Any, site: str, shown: Callable[[str], None]) -> None:
    """Reach every page a reader meets the way a reader does, calling ``shown`` on each."""
    MailingListFactory.create(name="Daily digest", slug="daily", default=True)
    MailingListFactory.create(name="Weekly tools and long reads", slug="weekly")
    pending = make_pending_reader(email="a.reader.with.a.rather.long.address@subdomain.example.org", name="Ada")
    active = make_confirmed_reader(email="active.reader@example.org", name="Bo")
    links = links_for(subscriber_id=active.pk, email=active.email)

    page.goto(site + "/subscribe/")
    shown("subscribe")
    page.locator("#sub_email").fill("not an address")
    page.locator("form.subscribe-form").get_by_role("button", name="Subscribe").click()
    page.wait_for_selector(".error")
    shown("subscribe-errors")
    page.goto(site + "/subscribe/thanks/")
    shown("thanks")
    page.goto(confirm_url(subscriber_id=pending.pk, email=pending.email))
    shown("confirm")
    page.get_by_role("button", name="Confirm my subscription").click()
    page.wait_for_selector("text=You are subscribed")
    shown("confirmed")
    assert page.locator("#subscribe-heading").count() == 0, "no second sign-up form for someone who just signed up"
    page.goto(links["preferences_url"])
    shown("preferences")
    # Field labels look like the subscribe form's: bold, above their field.
    weight = page.locator("label[for=id_name]").evaluate("label => getComputedStyle(label).fontWeight")
    assert int(weight) >= 600
    page.goto(links["unsubscribe_url"])
    shown("unsubscribe-confirm")
    page.get_by_role("button", name="Unsubscribe", exact=True).click()
    page.wait_for_selector("text=You are unsubscribed")
    shown("unsubscribed")
    page.goto(site + "/subscribe/confirm/not-a-real-token/")
    shown("link-invalid")
    page.goto(site + "/subscription/not-a-real-token/")
    shown("link-gone")
    outage = BrokerOutage()
    try:
        page.goto(site + "/subscribe/")
        page.locator("#sub_email").fill("later@example.org")
        page.locator("form.subscribe-form").get_by_role("button", name="Subscribe").click()
        page.wait_for_selector("text=We could not take your request just now")
        shown("try-later")
    finally:
        outage.end()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_reader_pages_fit_phone_and_desktop_and_keep_their_contrast(
    page: Any, local_outbox: str, celery_eager: None, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    problems: list[tuple[str, object]] = []
    names: list[str] = []

    def check(name: str) -> None:
        names.append(name)
        assert page.locator("h1").count() == 1, name
        if not page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"):
            problems.append((name, "scrolls sideways"))
        contrast = page.evaluate(CONTRAST_PROBLEMS)
        if contrast:
            problems.append((name, contrast))
        screenshot(page, f"subscribers-page-{name}-{width}")

    _reader_page_tour(page, local_outbox, check)
    assert len(names) == 11
    assert problems == []
