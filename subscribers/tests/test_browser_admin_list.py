"""The readers list in the admin at 1280 px, both sidebars open: every column shows (issue 12's polish list)."""

from __future__ import annotations

from typing import Any

import pytest

from testing.factories import MailingListFactory, SubscriberFactory, make_editor
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_readers_list_shows_its_last_column_at_1280_px(page: Any, live_server: Any) -> None:
    make_editor()
    lists = [MailingListFactory.create(name="Daily digest"), MailingListFactory.create(name="Weekly deep dive")]
    for n in range(3):
        SubscriberFactory.create(email=f"a.rather.long.reader.name{n}@newsroom-example.org", lists=lists)
    page.set_viewport_size({"width": 1280, "height": 900})
    admin_login(page, live_server, "edith")

    page.goto(f"{live_server.url}/admin/subscribers/subscriber/")
    page.wait_for_selector("#result_list")

    assert page.locator("#nav-sidebar").is_visible() and page.locator("#changelist-filter").is_visible()
    # The table's box holds the whole table: nothing is cut at its right edge or left to a sideways scroll.
    widths = page.evaluate("(r => [r.scrollWidth, r.clientWidth])(document.querySelector('.results'))")
    assert widths[0] <= widths[1], widths
    assert page.locator("#result_list thead th").last.inner_text().strip().lower() == "confirmed"
    screenshot(page, "subscribers-admin-list-1280")
