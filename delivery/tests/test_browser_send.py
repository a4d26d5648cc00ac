"""An editor sends an approved issue from the admin in Chromium: opens the issue,
chooses a list, sees the audience count change, confirms, watches the progress
bar move without a reload, pauses, resumes, and sees the send reach "Done".

The send is driven by calling the delivery services from the test: the batch task's
``delay`` is replaced by a recorder, and the test runs each recorded batch with
``pipeline.send_batch_process`` (no broker, no worker), so it decides when each
batch goes out and can look at the page in between."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from delivery import pipeline, tasks
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from delivery.tests.test_admin_send import ended_send_with_problems
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue
from testing.fixtures import admin_login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def recorded_batches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.send_batch, "delay", lambda send_id, batch: calls.append((send_id, batch)))
    return calls


def run_batch(send: Send, batch: int) -> None:
    pipeline.send_batch_process(send_id=send.pk, batch=batch)


def test_editor_sends_an_issue_to_a_list_and_watches_it_finish(
    page: Any, live_server: Any, settings: Any, recorded_batches: list[tuple[int, int]]
) -> None:
    settings.NEWSROOM_BATCH_SIZE = 2
    issue = make_full_issue(status=IssueStatus.APPROVED, title="Small models, big chips")
    morning, weekend = MailingListFactory.create(name="Morning Briefing"), MailingListFactory.create(name="Weekend")
    for n in range(5):
        SubscriberFactory.create(email=f"morning{n}@example.org", lists=[morning])
    SubscriberFactory.create(email="both@example.org", lists=[morning, weekend])
    SubscriberFactory.create(email="weekend@example.org", lists=[weekend])
    make_editor()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    admin_login(page, live_server, "edith")

    # 1. From the approved issue to the new-send page.
    page.goto(f"{live_server.url}/admin/issues/issue/{issue.pk}/change/")
    page.click("#schedule-send")
    page.wait_for_url(f"**/admin/delivery/send/add/?issue={issue.pk}")
    count = page.locator("#audience-count")
    assert count.inner_text() == "Choose one or more lists, or a segment."

    # 2. The count follows the lists chosen, each reader once.
    page.get_by_label("Morning Briefing").check()
    page.wait_for_function("document.getElementById('audience-count').dataset.count === '6'")
    assert count.inner_text() == "6 readers will receive this issue."
    page.get_by_label("Weekend").check()
    page.wait_for_function("document.getElementById('audience-count').dataset.count === '7'")
    page.get_by_label("Weekend").uncheck()
    page.wait_for_function("document.getElementById('audience-count').dataset.count === '6'")
    assert page.input_value("#send-confirm") == "Send now to 6 readers"
    assert "Confirming sends this issue to 6 readers now." in page.inner_text("#send-summary")
    screenshot(page, "send-01-create")

    # 3. Confirm: the send exists and waits for the scheduler.
    page.click("#send-confirm")
    page.wait_for_url("**/admin/delivery/send/*/change/")
    send = Send.objects.get()
    assert "is sending now" in page.inner_text(".messagelist")
    assert page.inner_text("#send-status") == "Scheduled"

    # 4. The scheduler starts it; the page notices and shows Pause.
    pipeline.sends_start_due()
    page.wait_for_selector("#send-pause", timeout=20000)
    assert page.inner_text("#send-status") == "Sending"
    page.evaluate("window.__sameDocument = true")

    # 5. One batch goes out: the bar and figures move without a reload.
    run_batch(send, 0)
    page.wait_for_function("document.querySelector('[data-field=sent]').textContent === '2'")
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text("[data-field=total]") == "6"
    assert float(page.inner_text("[data-field=rate]")) > 0
    assert page.inner_text("[data-field=eta]") != "—"
    bar = page.evaluate("document.querySelector('.bar-sent').style.width")
    assert bar.startswith("33.33")
    page.wait_for_timeout(600)  # let the bar's width transition finish before the picture
    screenshot(page, "send-02-progress")

    # 6. Pause, then resume, from the page.
    page.click("#send-pause")
    page.wait_for_selector("#send-resume")
    assert page.inner_text("#send-status") == "Paused"
    run_batch(send, 1)  # a worker that picks up a batch of a paused send leaves it queued
    assert Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count() == 2
    page.click("#send-resume")
    page.wait_for_selector("#send-pause")

    # 7. The remaining batches go out; the page reaches Done.
    for batch in sorted({b for _, b in recorded_batches}):
        run_batch(send, batch)
    page.wait_for_function("document.getElementById('send-status').textContent === 'Done'", timeout=20000)
    page.wait_for_load_state()
    assert page.inner_text("#send-status") == "Done"
    assert page.inner_text("[data-field=sent]") == "6"
    assert page.locator("#send-pause").count() == 0
    assert page.locator("#send-problems").count() == 0
    screenshot(page, "send-03-done")

    send.refresh_from_db()
    issue.refresh_from_db()
    assert (send.status, issue.status) == (SendStatus.DONE, IssueStatus.SENT)
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted([f"morning{n}@example.org" for n in range(5)] + ["both@example.org"])
    assert errors == []


def test_editor_retries_failed_readers_and_decides_on_uncertain_ones(
    page: Any, live_server: Any, recorded_batches: list[tuple[int, int]]
) -> None:
    editor = make_editor()
    send, _ = ended_send_with_problems(editor)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    admin_login(page, live_server, "edith")

    page.goto(f"{live_server.url}/admin/delivery/send/{send.pk}/change/")
    problems = page.locator("#send-problem-rows tbody tr")
    assert problems.count() == 3
    assert "Timed out after the request was sent." in page.inner_text("#send-problem-rows")
    assert "re-sending may give a second copy" in page.inner_text("#send-uncertain-choices")
    screenshot(page, "send-04-needs-attention")

    # Re-sending without ticking the warning is refused; ticked, it goes.
    page.click("#send-resend-uncertain")
    assert "Tick the box" in page.inner_text(".messagelist")
    page.check("#send-confirm-duplicates")
    page.click("#send-resend-uncertain")
    assert "Sending again to 1 uncertain reader." in page.inner_text(".messagelist")
    for batch in sorted({b for _, b in recorded_batches}):
        run_batch(send, batch)
    page.wait_for_function("document.getElementById('send-status').textContent === 'Done'", timeout=20000)
    page.wait_for_selector("#send-retry-failed")

    # One click retries the failed reader who does not have the issue, not the one who does.
    page.click("#send-retry-failed")
    assert "Sending again to 1 failed reader." in page.inner_text(".messagelist")
    for batch in sorted({b for _, b in recorded_batches}):
        run_batch(send, batch)
    page.wait_for_function("document.getElementById('send-status').textContent === 'Done'", timeout=20000)
    page.wait_for_selector("#send-problem-rows")
    assert page.locator("#send-problem-rows tbody tr").count() == 1
    assert "has@example.org" in page.inner_text("#send-problem-rows")
    assert sorted(a for m in mail.outbox for a in m.to) == ["retry@example.org", "unsure@example.org"]
    assert errors == []
