"""The interactive docs page in Chromium: Swagger UI from our own static files, nothing from third parties,
and "Try it out" with a key reaches the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from api.keys import api_key_create
from testing import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_lists_the_operations_and_loads_nothing_from_elsewhere(page: Any, live_server: Any) -> None:
    made = api_key_create(
        name="docs", scopes=["subscribers:read"], expires_at=None, acting_user=factories.make_editor()
    )
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector("text=Newsroom API")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 20

    # Authorize with the key, then try GET /lists from the page.
    page.click("button.authorize")
    page.fill(".auth-container input", made.secret)
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    page.click("#operations-audience-api_routers_subscribers_list_lists")
    page.click("#operations-audience-api_routers_subscribers_list_lists button.try-out__btn")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/lists")) as answer:
        page.click("#operations-audience-api_routers_subscribers_list_lists button.execute")
    assert answer.value.status == 200

    hosts = {urlsplit(url).netloc for url in requested if not url.startswith(("data:", "blob:"))}
    assert hosts == {urlsplit(live_server.url).netloc}
