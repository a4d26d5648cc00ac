"""The subscribe form on every public page: what it costs and where the header's button leads."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from newsroom.models import SitePage
from subscribers import views
from subscribers.links import confirm_url, links_for
from testing.factories import (
    MailingListFactory,
    make_confirmed_reader,
    make_full_issue,
    make_pending_reader,
)

TEMPLATE_DIRS = [
    Path(settings.BASE_DIR) / name for name in ("templates", "subscribers", "issues", "newsroom", "delivery")
]

pytestmark = pytest.mark.django_db


def list_queries(client: Client, url: str) -> tuple[int, list[str]]:
    """How many queries read the lists while ``url`` was served, and every query it ran."""
    sql: list[str] = []

    def record(execute: Any, query: str, params: Any, many: bool, context: Any) -> Any:
        sql.append(query)
        return execute(query, params, many, context)

    # A wrapper sees every query, whatever the debug query log keeps.
    with connection.execute_wrapper(record):
        response = client.get(url)
    assert response.status_code == 200, url
    return sum("subscribers_mailinglist" in q for q in sql), sql


def test_the_form_reads_the_lists_once_and_then_from_the_cache() -> None:
    MailingListFactory(name="Daily digest", default=True)
    MailingListFactory(name="Weekly tools")
    MailingListFactory(name="Staff only", public=False)
    issue = make_full_issue(status="sent")
    client = Client()
    first, _sql = list_queries(client, "/")
    assert first == 1
    for url in ["/", "/subscribe/", "/newsletter/", issue.get_absolute_url()]:
        count, sql = list_queries(client, url)
        assert count == 0, (url, sql)
    # A cached hit of the home page runs no query at all.
    assert list_queries(client, "/")[1] == []
    html = client.get("/").content.decode()
    assert "Daily digest" in html and "Weekly tools" in html and "Staff only" not in html
    assert html.count("checked") == 1, "the default list is ticked"


def test_with_the_page_cache_off_the_form_still_reads_the_lists_in_one_query(settings: object) -> None:
    settings.PAGE_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    MailingListFactory(name="Daily digest")
    client = Client()
    for _ in range(2):
        assert list_queries(client, "/subscribe/")[0] == 1


# --- the header's Subscribe button -------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.cta: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and "header-cta" in (found.get("class") or "").split():
            self.cta = found.get("href")


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _reader_pages(client: Client) -> dict[str, Any]:
    """Every page a reader can land on, as they see it."""
    pending = make_pending_reader(email="pending@example.org")
    active = make_confirmed_reader(email="active@example.org")
    gone = make_confirmed_reader(email="gone@example.org")
    issue = make_full_issue(status="sent")
    site_page = SitePage.objects.create(title="Privacy Policy", slug="privacy", body="<p>Little.</p>")
    links = links_for(subscriber_id=active.pk, email=active.email)
    gone_links = links_for(subscriber_id=gone.pk, email=gone.email)
    confirm = urlsplit(confirm_url(subscriber_id=pending.pk, email=pending.email)).path
    preferences, unsubscribe = urlsplit(links["preferences_url"]).path, urlsplit(links["unsubscribe_url"]).path
    gone_preferences = urlsplit(gone_links["preferences_url"]).path
    return {
        "home": client.get("/"),
        "archive": client.get("/newsletter/"),
        "issue": client.get(issue.get_absolute_url()),
        "site page": client.get(site_page.get_absolute_url()),
        "not found": client.get("/no-such-page/"),
        "subscribe": client.get("/subscribe/"),
        "subscribe with errors": client.post("/subscribe/", {"email": "not an address"}),
        "thanks": client.get("/subscribe/thanks/"),
        "confirm": client.get(confirm),
        "confirmed": client.post(confirm),
        "link invalid": client.get("/subscribe/confirm/not-a-token/"),
        "link gone": client.get("/subscription/not-a-token/"),
        "preferences": client.get(preferences),
        "unsubscribe confirm": client.get(unsubscribe),
        "unsubscribed": client.post(unsubscribe),
        "erase confirm": client.get(gone_preferences + "erase/"),
        "erased": client.post(gone_preferences + "erase/", {"confirm": "erase"}),
    }


def test_the_header_subscribe_button_leads_to_a_form_on_every_reader_page(client: Client) -> None:
    subscribe_page = _parse(client.get("/subscribe/").content.decode())
    assert "subscribe" in subscribe_page.ids
    for name, response in _reader_pages(client).items():
        assert response.status_code in (200, 400, 404), (name, response.status_code)
        page = _parse(response.content.decode())
        assert page.cta, f"{name}: no Subscribe button in the header"
        if page.cta.startswith("#"):
            assert page.cta[1:] in page.ids, f"{name}: the button points at {page.cta}, which is not on the page"
        else:
            assert page.cta == "/subscribe/", f"{name}: the button points at {page.cta}"


def test_the_too_many_attempts_page_leads_to_the_form_too(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "RATE_PER_IP", "0/h")
    page = _parse(client.post("/subscribe/", {"email": "a@example.org"}).content.decode())
    assert page.cta == "/subscribe/"


def test_every_page_without_the_subscribe_band_says_where_the_form_is() -> None:
    # A template that empties {% block subscribe %} must fill {% block subscribe_link %} or show
    # its own form under id="subscribe", or the header's button would point at nothing.
    missing = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            shows_its_own = 'id="subscribe"' in text
            if (
                "{% block subscribe %}{% endblock %}" in text
                and "{% block subscribe_link %}" not in text
                and not shows_its_own
            ):
                missing.append(str(path))
    assert missing == []
