"""The embeddable sign-up form on another site's page (another origin on 127.0.0.1), in Chromium."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from subscribers.models import Subscriber, SubscriberStatus
from testing.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _snippet(admin_client: Client, textarea: str, list_pk: int) -> str:
    page = admin_client.get("/admin/subscribers/subscriber/embed/", {"lists": [list_pk]}).content.decode()
    found = re.search(rf'id="{textarea}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, page
    return html.unescape(found.group(1))


@pytest.fixture
def partner_site() -> Iterator[dict[str, Any]]:
    """Another site: a page on its own port that carries whatever snippet the test gives it."""
    site: dict[str, Any] = {"body": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = f"<!doctype html><html lang='en'><title>Partner</title><h1>Partner blog</h1>{site['body']}</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site["origin"] = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def embed_site(settings: Any, live_server: Any, partner_site: dict[str, Any]) -> dict[str, Any]:
    settings.SITE_URL = live_server.url  # http://localhost:<port>: another origin than the partner's
    settings.EMBED_ALLOWED_ORIGINS = [partner_site["origin"]]
    return partner_site


def test_the_script_version_subscribes_and_answers_on_the_partner_page(
    page: Any, embed_site: dict[str, Any], admin_client: Client, celery_eager: None
) -> None:
    daily = MailingListFactory(name="Daily", public=True)
    embed_site["body"] = _snippet(admin_client, "snippet-script", daily.pk)
    page.goto(embed_site["origin"] + "/")
    page.get_by_label("Email address").fill("ann@example.org")
    page.get_by_role("button", name="Subscribe").click()
    status = page.get_by_role("status")
    status.filter(has_text="check your inbox").wait_for()
    assert page.url.startswith(embed_site["origin"])
    reader = Subscriber.objects.get(email="ann@example.org")
    assert reader.status == SubscriberStatus.PENDING and list(reader.lists.all()) == [daily]


def test_the_html_version_works_without_javascript(
    browser: Any, embed_site: dict[str, Any], admin_client: Client, celery_eager: None, live_server: Any
) -> None:
    daily = MailingListFactory(name="Daily", public=True)
    embed_site["body"] = _snippet(admin_client, "snippet-html", daily.pk)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(embed_site["origin"] + "/")
        page.get_by_label("Email address").fill("bo@example.org")
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_url(f"{live_server.url}/subscribe/thanks/")
        assert page.get_by_role("heading", name="Check your inbox").is_visible()
    finally:
        context.close()
    assert Subscriber.objects.filter(email="bo@example.org", status=SubscriberStatus.PENDING).exists()


def test_a_site_not_on_the_list_is_told_so_and_nothing_is_stored(
    page: Any, embed_site: dict[str, Any], admin_client: Client, settings: Any, celery_eager: None
) -> None:
    daily = MailingListFactory(name="Daily", public=True)
    embed_site["body"] = _snippet(admin_client, "snippet-script", daily.pk)
    settings.EMBED_ALLOWED_ORIGINS = ["https://someone-else.example"]
    page.goto(embed_site["origin"] + "/")
    page.get_by_label("Email address").fill("cy@example.org")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("status").filter(has_text="may not embed our sign-up form").wait_for()
    assert not Subscriber.objects.exists()
