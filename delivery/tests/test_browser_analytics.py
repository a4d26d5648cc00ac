"""An editor opens a send's analytics in Chromium: the chart is drawn and the table shows the numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from delivery.models import Event, Send
from delivery.tests.test_analytics import START, seed_send
from testing.factories import make_editor
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_a_day_of_reading(send: Send) -> list[int]:
    """Opens that fade over the hours after hour +2 (as a real send's do); returns opens per hour."""
    delivery = send.deliveries.first()
    per_hour = [0, 0] + [max(0, 40 - 3 * hour) for hour in range(2, 48)]
    Event.objects.bulk_create(
        Event(
            dedupe_key=f"curve-{hour}-{n}",
            delivery=delivery,
            send=send,
            event_type="opened",
            at=START + timedelta(hours=hour, minutes=n % 60),
        )
        for hour, count in enumerate(per_hour)
        for n in range(count)
    )
    return per_hour


def test_editor_sees_the_send_chart_and_its_numbers(page: Any, live_server: Any) -> None:
    send = seed_send()
    extra_opens = add_a_day_of_reading(send)
    make_editor()
    admin_login(page, live_server, "edith")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/admin/analytics/send/{send.pk}/")

    canvas = page.locator("canvas#engagement-chart")
    canvas.wait_for()
    page.wait_for_function("document.querySelector('canvas#engagement-chart').dataset.rendered === 'true'")
    assert page.evaluate("Chart.getChart(document.querySelector('canvas#engagement-chart')) !== undefined")
    drawn = page.evaluate("Chart.getChart(document.querySelector('canvas#engagement-chart')).data.datasets[0].data")
    assert drawn == [seeded + extra for seeded, extra in zip([5, 2] + [0] * 46, extra_opens, strict=True)]
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    # Something was drawn: the canvas is not one flat colour.
    assert (
        page.evaluate(
            """() => {
          const c = document.querySelector('canvas#engagement-chart');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const seen = new Set();
          for (let i = 0; i < d.length; i += 401) { seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2] + ',' + d[i + 3]); }
          return seen.size;
        }"""
        )
        > 3
    )
    opened = page.locator("#figures tr[data-key=opened] td")
    assert opened.all_inner_texts()[:4] == ["Unique opens (people)", "5", "62.5%", "delivered"]
    assert page.locator("#links tbody tr").count() == 2
    assert "Apple Mail Privacy Protection" in page.inner_text(".analytics-note")
    page.click("text=Show the numbers")
    assert page.locator("#hourly tbody tr").first.inner_text().split("\t")[:4] == ["+0h", "2026-11-02 06:00", "5", "0"]
    assert errors == []
    screenshot(page, "analytics-send")


def test_editor_sees_the_audience_chart(page: Any, live_server: Any) -> None:
    seed_send()
    make_editor()
    admin_login(page, live_server, "edith")

    page.goto(f"{live_server.url}/admin/analytics/audience/?days=30")

    page.wait_for_function("document.querySelector('canvas#audience-chart').dataset.rendered === 'true'")
    assert "10 joined" in page.inner_text("#content-main")
    screenshot(page, "analytics-audience")
