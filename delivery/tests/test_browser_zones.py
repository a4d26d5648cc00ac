"""An editor sends "at 07:00 in each reader's time zone" from the admin in Chromium and watches
the zones go out: those already past 07:00 at once, New York's at its hour, without a reload.

As in test_browser_send, batches are recorded instead of queued and run by the test; the
site's clock is moved (time-machine, ticking) to the morning of 1 November 2026."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine

from delivery import pipeline, zones
from delivery.models import Send, SendStatus
from delivery.tests.test_browser_send import recorded_batches  # noqa: F401 (fixture)
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def utc(hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 11, 1, hour, minute, tzinfo=datetime.UTC)


def run_recorded(send: Send, recorded: list[tuple[int, int]]) -> None:
    for batch in sorted({b for _, b in recorded}):
        pipeline.send_batch_process(send_id=send.pk, batch=batch)
    recorded.clear()


def zone_state(page: Any, zone: str) -> str:
    return str(page.inner_text(f'#send-zones tr[data-zone="{zone}"] [data-zone-field=state]'))


def test_editor_sends_at_seven_in_each_zone_and_watches_the_zones(
    page: Any,
    live_server: Any,
    recorded_batches: list[tuple[int, int]],  # noqa: F811
) -> None:
    daily = MailingListFactory.create(name="Daily")
    for zone, label in (("Asia/Tokyo", "tokyo"), ("", "nozone"), ("America/New_York", "ny")):
        SubscriberFactory.create(email=f"{label}@example.org", lists=[daily], time_zone=zone)
    issue = make_full_issue(status=IssueStatus.APPROVED, title="Morning edition")
    make_editor()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    with time_machine.travel(utc(10), tick=True) as clock:
        admin_login(page, live_server, "edith")
        page.goto(f"{live_server.url}/admin/delivery/send/add/?issue={issue.pk}")
        page.get_by_label("Daily").check()
        page.get_by_label("Or: at this time in each reader's time zone").fill("07:00")
        screenshot(page, "send-zones-01-form")
        page.click("#send-confirm")
        page.wait_for_url("**/admin/delivery/send/*/change/")
        assert "in each reader's time zone" in page.inner_text(".messagelist")
        send = Send.objects.get()

        pipeline.sends_start_due()  # 10:00 UTC: 07:00 has passed in Tokyo and London, not in New York
        run_recorded(send, recorded_batches)
        # The page follows by itself (and reloads itself once as the status changes): a reload of ours
        # here raced that one and was aborted.
        page.wait_for_function(
            """() => {
                const cell = document.querySelector('#send-zones tr[data-zone="Asia/Tokyo"] [data-zone-field=state]');
                return cell !== null && cell.textContent.startsWith("Done (its local time had passed");
            }""",
            timeout=20000,
        )
        page.wait_for_load_state()
        assert zone_state(page, "Asia/Tokyo").startswith("Done (its local time had passed")
        assert zone_state(page, "").startswith("Done")
        assert zone_state(page, "America/New_York") == "To come"
        assert "01 Nov 07:00 EST" in page.inner_text("#send-zones")
        screenshot(page, "send-zones-02-waiting")

        clock.move_to(utc(12, 0))  # 07:00 EST
        zones.zones_release_due(enqueue=pipeline.enqueue_batches)
        run_recorded(send, recorded_batches)
        page.wait_for_function("document.getElementById('send-status').textContent === 'Done'", timeout=20000)
        page.wait_for_load_state()
        assert zone_state(page, "America/New_York") == "Done"
        screenshot(page, "send-zones-03-done")

    send.refresh_from_db()
    assert send.status == SendStatus.DONE
    assert errors == []
