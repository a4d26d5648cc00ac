"""The send admin: creating a send from an approved issue (and every refusal), the
live audience count, the progress JSON and the control buttons, as an editor and
as people who may not."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from delivery import claims, selectors, services
from delivery.forms import publication_tz
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import IssueStatus
from subscribers.models import Segment, SubscriberStatus
from testing.factories import (
    MailingListFactory,
    SendFactory,
    SubscriberFactory,
    UserFactory,
    make_full_issue,
    make_pending_reader,
)

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/delivery/send/add/"
COUNT_URL = "/admin/delivery/send/audience-count/"


def approved_issue(**kwargs: Any) -> Any:
    return make_full_issue(status=IssueStatus.APPROVED, **kwargs)


def list_with_readers(n: int = 3, name: str = "News") -> Any:
    news = MailingListFactory.create(name=name)
    for _ in range(n):
        SubscriberFactory.create(lists=[news])
    return news


def post_send(client: Any, issue: Any, **data: Any) -> Any:
    payload = {"issue": issue.pk, "when": "now", **data}
    return client.post(ADD_URL, payload, follow=True)


def page_text(response: Any) -> str:
    return response.content.decode()


def control_url(send: Send) -> str:
    return reverse("admin:delivery_send_control", args=[send.pk])


def progress_url(send: Send) -> str:
    return reverse("admin:delivery_send_progress", args=[send.pk])


def running_send(issue: Any, statuses: dict[str, int], **kwargs: Any) -> Send:
    """A send with Delivery rows in the given statuses (one reader each)."""
    started = kwargs.pop("started_at", timezone.now() - datetime.timedelta(seconds=10))
    send = SendFactory.create(
        issue=issue, status=kwargs.pop("status", SendStatus.SENDING), started_at=started, **kwargs
    )
    now = timezone.now()
    for status, count in statuses.items():
        for _ in range(count):
            reader = SubscriberFactory.create()
            sent_at = now if status == DeliveryStatus.SENT else None
            error = "Provider said no." if status == DeliveryStatus.FAILED else ""
            Delivery.objects.create(
                send=send, subscriber=reader, email=reader.email, status=status, sent_at=sent_at, error=error
            )
    Send.objects.filter(pk=send.pk).update(total=send.deliveries.count())
    send.refresh_from_db()
    return send


@pytest.fixture
def scheduler_without_permission(db: None) -> Any:
    """Staff who may add and view sends but not schedule issues."""
    user = UserFactory.create(username="sam")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="delivery", codename__in=["add_send", "view_send"])
    )
    return user


# --- From the issue page to the create page --------------------------------


def test_an_approved_issue_offers_editors_a_schedule_button(client: Any, editor: Any) -> None:
    issue = approved_issue()
    client.force_login(editor)
    page = page_text(client.get(reverse("admin:issues_issue_change", args=[issue.pk])))
    assert f'href="{ADD_URL}?issue={issue.pk}"' in page
    assert 'id="schedule-send"' in page


def test_contributors_and_unapproved_issues_get_no_schedule_button(client: Any, editor: Any, contributor: Any) -> None:
    approved, draft = approved_issue(), make_full_issue(status=IssueStatus.DRAFT)
    client.force_login(contributor)
    assert 'id="schedule-send"' not in page_text(client.get(reverse("admin:issues_issue_change", args=[approved.pk])))
    client.force_login(editor)
    page = page_text(client.get(reverse("admin:issues_issue_change", args=[draft.pk])))
    assert 'id="schedule-send"' not in page
    assert "Approve the issue to send it." in page


def test_the_create_page_names_the_issue_and_offers_lists_and_segments(client: Any, editor: Any) -> None:
    issue = approved_issue()
    list_with_readers(name="Daily")
    Segment.objects.create(name="Engaged readers")
    client.force_login(editor)
    page = page_text(client.get(f"{ADD_URL}?issue={issue.pk}"))
    assert f'<input type="hidden" name="issue" value="{issue.pk}">' in page
    assert "Daily" in page and "Engaged readers" in page
    assert "Europe/London" in page
    assert "delivery/send_form.js" in page


@pytest.mark.parametrize("raw", ["²", "1" * 30, "abc"])
def test_the_create_page_with_an_issue_id_that_is_not_ascii_digits_names_no_issue(
    client: Any, editor: Any, raw: str
) -> None:
    client.force_login(editor)
    response = client.get(ADD_URL, {"issue": raw})
    assert response.status_code == 200
    assert "Send an issue" in page_text(response)


# --- Creating ------------------------------------------------------------------


def test_an_editor_sends_an_issue_now_to_lists(client: Any, editor: Any) -> None:
    issue, news, tech = approved_issue(), list_with_readers(2), list_with_readers(1, name="Tech")
    client.force_login(editor)
    response = post_send(client, issue, lists=[news.pk, tech.pk])
    send = Send.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:delivery_send_change", args=[send.pk])
    assert "is sending now" in page_text(response)
    assert sorted(send.lists.values_list("pk", flat=True)) == sorted([news.pk, tech.pk])
    assert send.created_by == editor
    assert abs((send.scheduled_at - timezone.now()).total_seconds()) < 60
    assert "is sending now" in page_text(client.get(reverse("admin:delivery_send_history", args=[send.pk])))
    issue.refresh_from_db()
    assert issue.status == IssueStatus.SCHEDULED


@pytest.mark.parametrize(
    ("day", "time", "utc"),
    [
        ("2099-07-01", "10:00", datetime.datetime(2099, 7, 1, 9, 0, tzinfo=datetime.UTC)),  # British Summer Time
        ("2099-01-15", "10:00", datetime.datetime(2099, 1, 15, 10, 0, tzinfo=datetime.UTC)),  # GMT
    ],
)
def test_a_later_time_is_read_on_the_publications_clock(
    client: Any, editor: Any, settings: Any, day: str, time: str, utc: datetime.datetime
) -> None:
    settings.TIME_ZONE = "Europe/London"
    issue, news = approved_issue(), list_with_readers()
    client.force_login(editor)
    response = post_send(client, issue, lists=[news.pk], when="later", send_date=day, send_time=time)
    assert "is scheduled for" in page_text(response)
    send = Send.objects.get()
    assert send.scheduled_at == utc
    # Named as the page shows it, on the publication's clock.
    assert str(send).endswith(f"@ {day} {time} {'BST' if utc.month == 7 else 'GMT'}")


def test_a_segment_alone_is_an_audience(client: Any, editor: Any) -> None:
    issue, news = approved_issue(), list_with_readers()
    segment = Segment.objects.create(name="News readers")
    segment.lists.add(news)
    client.force_login(editor)
    post_send(client, issue, segment=segment.pk)
    assert Send.objects.get().segment == segment


def refused(client: Any, issue: Any, expected: str, **data: Any) -> None:
    """The page shows ``expected`` as a form error, and nothing was stored."""
    before_status = issue.status
    before = Send.objects.count()
    response = post_send(client, issue, **data)
    assert response.status_code == 200
    assert response.redirect_chain == []
    page = page_text(response)
    assert "errornote" in page
    assert expected in page
    assert Send.objects.count() == before
    issue.refresh_from_db()
    assert issue.status == before_status


def test_it_refuses_an_issue_that_is_not_approved(client: Any, editor: Any) -> None:
    issue = make_full_issue(status=IssueStatus.REVIEW)
    client.force_login(editor)
    refused(client, issue, "Only an approved issue can be sent.", lists=[list_with_readers().pk])


def test_it_refuses_an_audience_nobody_in_it_can_receive(client: Any, editor: Any) -> None:
    news = MailingListFactory.create()
    make_pending_reader(lists=[news])
    SubscriberFactory.create(lists=[news], status=SubscriberStatus.UNSUBSCRIBED)
    client.force_login(editor)
    refused(client, approved_issue(), "This audience has no readers who can receive the issue.", lists=[news.pk])


def test_it_refuses_no_audience_at_all(client: Any, editor: Any) -> None:
    client.force_login(editor)
    refused(client, approved_issue(), "Choose at least one list or a segment.")


def test_it_refuses_lists_and_a_segment_together(client: Any, editor: Any) -> None:
    news = list_with_readers()
    segment = Segment.objects.create(name="All")
    client.force_login(editor)
    refused(client, approved_issue(), "Choose lists or a segment, not both.", lists=[news.pk], segment=segment.pk)


def test_it_refuses_a_time_in_the_past(client: Any, editor: Any) -> None:
    client.force_login(editor)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    refused(
        client,
        approved_issue(),
        "The sending time is in the past.",
        lists=[list_with_readers().pk],
        when="later",
        send_date=yesterday.isoformat(),
        send_time="09:00",
    )


def test_it_refuses_a_later_send_without_date_and_time(client: Any, editor: Any) -> None:
    client.force_login(editor)
    refused(client, approved_issue(), "Give a date and a time", lists=[list_with_readers().pk], when="later")


def test_it_refuses_a_time_the_clocks_skip(client: Any, editor: Any, settings: Any) -> None:
    settings.TIME_ZONE = "Europe/London"
    client.force_login(editor)
    # 01:30 does not happen on the last Sunday of March in London.
    refused(
        client,
        approved_issue(),
        "does not exist on 29 Mar 2099",
        lists=[list_with_readers().pk],
        when="later",
        send_date="2099-03-29",
        send_time="01:30",
    )


def test_it_refuses_a_second_send_of_the_issue_to_the_same_audience(client: Any, editor: Any) -> None:
    issue, news, tech = approved_issue(), list_with_readers(), list_with_readers(1, name="Tech")
    client.force_login(editor)
    post_send(client, issue, lists=[news.pk, tech.pk])
    issue.refresh_from_db()
    refused(client, issue, "This issue already has a send to this audience.", lists=[tech.pk, news.pk])


def test_it_refuses_an_issue_with_pre_send_errors_and_lists_them(client: Any, editor: Any) -> None:
    issue = approved_issue(preheader="")
    client.force_login(editor)
    assert "The email has no preheader" in page_text(client.get(f"{ADD_URL}?issue={issue.pk}"))
    refused(client, issue, "The issue has pre-send errors; fix them first.", lists=[list_with_readers().pk])


def test_it_refuses_someone_who_may_not_schedule_issues(client: Any, scheduler_without_permission: Any) -> None:
    client.force_login(scheduler_without_permission)
    refused(client, approved_issue(), "You may not schedule issues.", lists=[list_with_readers().pk])


def test_a_contributor_cannot_create_a_send_even_with_a_crafted_post(client: Any, contributor: Any) -> None:
    issue, news = approved_issue(), list_with_readers()
    client.force_login(contributor)
    assert client.get(f"{ADD_URL}?issue={issue.pk}").status_code == 403
    response = client.post(ADD_URL, {"issue": issue.pk, "lists": [news.pk], "when": "now"})
    assert response.status_code == 403
    assert client.get(COUNT_URL, {"lists": news.pk}).status_code == 403
    assert not Send.objects.exists()
    issue.refresh_from_db()
    assert issue.status == IssueStatus.APPROVED


# --- Audience count ------------------------------------------------------------


def test_the_audience_count_counts_each_sendable_reader_once(client: Any, editor: Any) -> None:
    news, tech = list_with_readers(3), list_with_readers(2, name="Tech")
    SubscriberFactory.create(lists=[news, tech])
    make_pending_reader(lists=[news])
    SubscriberFactory.create(lists=[tech], status=SubscriberStatus.UNSUBSCRIBED)
    client.force_login(editor)
    assert client.get(COUNT_URL, {"lists": [news.pk, tech.pk]}).json() == {"count": 6}
    assert client.get(COUNT_URL, {"lists": [tech.pk]}).json() == {"count": 3}
    assert client.get(COUNT_URL).json() == {"count": 0}


def test_the_audience_count_follows_a_segment_and_rejects_bad_input(client: Any, editor: Any) -> None:
    news, _ = list_with_readers(2), list_with_readers(4, name="Tech")
    segment = Segment.objects.create(name="News only")
    segment.lists.add(news)
    client.force_login(editor)
    assert client.get(COUNT_URL, {"segment": segment.pk}).json() == {"count": 2}
    both = client.get(COUNT_URL, {"segment": segment.pk, "lists": news.pk})
    assert both.status_code == 400 and "not both" in both.json()["error"]
    assert client.get(COUNT_URL, {"lists": "999999"}).status_code == 400


def test_the_audience_count_is_for_signed_in_staff_only(client: Any) -> None:
    response = client.get(COUNT_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- Progress --------------------------------------------------------------------


def test_progress_reports_counts_rate_and_time_left(client: Any, editor: Any) -> None:
    send = running_send(
        approved_issue(),
        {DeliveryStatus.SENT: 6, DeliveryStatus.FAILED: 1, DeliveryStatus.UNCERTAIN: 1, DeliveryStatus.QUEUED: 12},
    )
    client.force_login(editor)
    data = client.get(progress_url(send)).json()
    assert {k: data[k] for k in ["status", "total", "sent", "failed", "uncertain", "skipped", "remaining"]} == {
        "status": "sending",
        "total": 20,
        "sent": 6,
        "failed": 1,
        "uncertain": 1,
        "skipped": 0,
        "remaining": 12,
    }
    assert data["percent"] == 40.0
    assert data["ended"] is False
    # Six sent in the ~10 s since it started: about 0.6 a second, so about 20 s for the 12 left.
    assert 0.4 <= data["rate"] <= 0.7
    assert 15 <= data["eta_seconds"] <= 30


def test_progress_of_a_finished_send_has_no_time_left(client: Any, editor: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.SENT: 4}, status=SendStatus.DONE)
    client.force_login(editor)
    data = client.get(progress_url(send)).json()
    assert (data["status_label"], data["ended"], data["percent"], data["eta_seconds"]) == ("Done", True, 100.0, None)


def test_progress_takes_two_queries_whatever_the_audience_size(client: Any, editor: Any) -> None:
    small = running_send(approved_issue(), {DeliveryStatus.SENT: 2, DeliveryStatus.QUEUED: 1})
    large = running_send(approved_issue(), {DeliveryStatus.SENT: 150, DeliveryStatus.QUEUED: 90})
    with CaptureQueriesContext(connection) as selector_queries:
        selectors.send_progress(send=large)
    assert len(selector_queries) == 2  # the Delivery aggregate, and the sending limits in force
    with CaptureQueriesContext(connection) as selector_queries:
        selectors.send_progress(send=large)
    assert len(selector_queries) == 1  # the limits' row is cached for a few seconds (delivery.pacing)

    client.force_login(editor)
    counts = []
    for send in (small, large):
        with CaptureQueriesContext(connection) as endpoint_queries:
            assert client.get(progress_url(send)).status_code == 200
        counts.append(len(endpoint_queries))
    # The user, their own and their groups' permissions (one query: core.auth), the send, the
    # aggregate; the session and the limits come from the cache (cached_db; delivery.pacing).
    assert counts[0] == counts[1] == 4


def test_progress_is_refused_to_contributors(client: Any, contributor: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.QUEUED: 1})
    client.force_login(contributor)
    assert client.get(progress_url(send)).status_code == 403


# --- The send's page and its buttons -----------------------------------------------


def test_a_running_send_shows_progress_and_pause_and_cancel(client: Any, editor: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.SENT: 3, DeliveryStatus.QUEUED: 1})
    client.force_login(editor)
    page = page_text(client.get(reverse("admin:delivery_send_change", args=[send.pk])))
    assert 'id="send-progress"' in page and f'data-progress-url="{progress_url(send)}"' in page
    assert 'value="pause"' in page and 'value="cancel"' in page and 'value="resume"' not in page
    assert "delivery/send_progress.js" in page
    assert "Analytics" in page
    # Read-only: no save button, no delete link.
    assert 'name="_save"' not in page
    assert "deletelink" not in page


def test_pause_and_resume_by_post(client: Any, editor: Any, django_capture_on_commit_callbacks: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.QUEUED: 2})
    client.force_login(editor)
    response = client.post(control_url(send), {"action": "pause"}, follow=True)
    assert "Paused." in page_text(response)
    send.refresh_from_db()
    assert send.status == SendStatus.PAUSED
    assert 'value="resume"' in page_text(response)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(control_url(send), {"action": "resume"}, follow=True)
    assert "Resumed." in page_text(response)
    send.refresh_from_db()
    assert send.status == SendStatus.SENDING
    assert callbacks  # the batches were queued again once the resume committed
    history = page_text(client.get(reverse("admin:delivery_send_history", args=[send.pk])))
    assert "Paused. Workers stop within seconds" in history and "Resumed." in history


def test_a_control_that_does_not_apply_shows_the_reason_and_changes_nothing(client: Any, editor: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.SENT: 2}, status=SendStatus.DONE)
    client.force_login(editor)
    response = client.post(control_url(send), {"action": "pause"}, follow=True)
    assert "Only a send that is sending can be paused." in page_text(response)
    response = client.post(control_url(send), {"action": "explode"}, follow=True)
    assert "Unknown action." in page_text(response)
    send.refresh_from_db()
    assert send.status == SendStatus.DONE


def test_cancelling_a_scheduled_send_returns_the_issue_to_approved(client: Any, editor: Any) -> None:
    issue, news = approved_issue(), list_with_readers()
    later = timezone.now() + datetime.timedelta(days=2)
    send = services.send_create(issue=issue, lists=[news], segment=None, at=later, acting_user=editor)
    client.force_login(editor)
    page = page_text(client.get(reverse("admin:delivery_send_change", args=[send.pk])))
    assert "3 readers in this audience now" in page
    response = client.post(control_url(send), {"action": "cancel"}, follow=True)
    assert "Cancelled." in page_text(response)
    send.refresh_from_db()
    issue.refresh_from_db()
    assert (send.status, issue.status) == (SendStatus.CANCELLED, IssueStatus.APPROVED)


def test_a_scheduled_send_is_moved_on_the_publications_clock(client: Any, editor: Any) -> None:
    issue, news = approved_issue(), list_with_readers()
    send = services.send_create(
        issue=issue, lists=[news], segment=None, at=timezone.now() + datetime.timedelta(days=2), acting_user=editor
    )
    client.force_login(editor)
    page = page_text(client.get(reverse("admin:delivery_send_change", args=[send.pk])))
    assert 'value="reschedule"' in page
    start = send.scheduled_at.astimezone(publication_tz())
    assert f'value="{start:%Y-%m-%d}"' in page and f'value="{start:%H:%M}"' in page
    day = (timezone.now() + datetime.timedelta(days=5)).date()
    response = client.post(
        control_url(send), {"action": "reschedule", "send_date": day.isoformat(), "send_time": "07:30"}, follow=True
    )
    assert "Rescheduled for" in page_text(response)
    send.refresh_from_db()
    local = send.scheduled_at.astimezone(publication_tz())
    assert (local.date(), local.hour, local.minute) == (day, 7, 30)


def test_a_send_is_not_moved_into_the_past_or_once_it_started(client: Any, editor: Any) -> None:
    issue, news = approved_issue(), list_with_readers()
    at = timezone.now() + datetime.timedelta(days=2)
    send = services.send_create(issue=issue, lists=[news], segment=None, at=at, acting_user=editor)
    client.force_login(editor)
    past = {"action": "reschedule", "send_date": "2020-01-01", "send_time": "07:00"}
    assert "The sending time is in the past." in page_text(client.post(control_url(send), past, follow=True))
    missing = page_text(client.post(control_url(send), {"action": "reschedule", "send_date": ""}, follow=True))
    assert "This field is required." in missing
    Send.objects.filter(pk=send.pk).update(status=SendStatus.SENDING)
    later = {"action": "reschedule", "send_date": "2099-01-01", "send_time": "07:00"}
    assert "has not started" in page_text(client.post(control_url(send), later, follow=True))
    send.refresh_from_db()
    assert send.scheduled_at == at


def test_controls_need_the_schedule_permission(
    client: Any, scheduler_without_permission: Any, contributor: Any
) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.QUEUED: 2})
    client.force_login(contributor)
    assert client.post(control_url(send), {"action": "cancel"}).status_code == 403
    client.force_login(scheduler_without_permission)
    page = page_text(client.get(reverse("admin:delivery_send_change", args=[send.pk])))
    assert 'value="cancel"' not in page
    response = client.post(control_url(send), {"action": "cancel"}, follow=True)
    assert "You may not control sends." in page_text(response)
    send.refresh_from_db()
    assert send.status == SendStatus.SENDING


def test_controls_answer_only_post(client: Any, editor: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.QUEUED: 2})
    client.force_login(editor)
    assert client.get(control_url(send), {"action": "pause"}).status_code == 405
    send.refresh_from_db()
    assert send.status == SendStatus.SENDING


# --- After it ends: failed and uncertain readers ---------------------------------


def ended_send_with_problems(editor: Any) -> tuple[Send, dict[str, Any]]:
    """A finished send: one failed reader to retry, one failed reader whom another send of
    the same issue already reached, one uncertain reader, one sent."""
    issue = approved_issue()
    send = running_send(issue, {}, status=SendStatus.DONE, finished_at=timezone.now())
    readers = {name: SubscriberFactory.create(email=f"{name}@example.org") for name in ["retry", "has", "unsure", "ok"]}
    rows = [("retry", DeliveryStatus.FAILED), ("has", DeliveryStatus.FAILED), ("unsure", DeliveryStatus.UNCERTAIN)]
    rows.append(("ok", DeliveryStatus.SENT))
    for name, status in rows:
        reason = {"failed": "Mailbox full (552).", "uncertain": "Timed out after the request was sent."}.get(status, "")
        Delivery.objects.create(
            send=send, subscriber=readers[name], email=readers[name].email, status=status, error=reason
        )
    other = SendFactory.create(issue=issue, status=SendStatus.DONE, audience_key="other")
    Delivery.objects.create(send=other, subscriber=readers["has"], email="has@example.org", status=DeliveryStatus.SENT)
    Send.objects.filter(pk=send.pk).update(total=4)
    return send, readers


def test_an_ended_send_lists_failed_and_uncertain_readers_with_the_reason(client: Any, editor: Any) -> None:
    send, _ = ended_send_with_problems(editor)
    client.force_login(editor)
    page = page_text(client.get(reverse("admin:delivery_send_change", args=[send.pk])))
    assert "Readers who need attention (3)" in page
    assert "Mailbox full (552)." in page and "Timed out after the request was sent." in page
    assert "retry@example.org" in page and "unsure@example.org" in page and "ok@example.org" not in page
    assert "Retry failed readers (2)" in page
    assert "re-sending may give a second copy" in page


def test_the_problem_list_is_paginated(client: Any, editor: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.FAILED: 55}, status=SendStatus.DONE)
    client.force_login(editor)
    first = page_text(client.get(reverse("admin:delivery_send_change", args=[send.pk])))
    assert "Readers who need attention (55)" in first and "Page 1 of 2" in first
    assert first.count('class="problem-failed"') == 50
    second = page_text(client.get(reverse("admin:delivery_send_change", args=[send.pk]), {"problems": 2}))
    assert second.count('class="problem-failed"') == 5


def test_retry_failed_reaches_only_readers_without_the_issue(
    client: Any, editor: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send, _ = ended_send_with_problems(editor)
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(control_url(send), {"action": "retry_failed"}, follow=True)
    assert "Sending again to 1 failed reader." in page_text(response)
    assert [address for message in mail.outbox for address in message.to] == ["retry@example.org"]
    statuses = dict(send.deliveries.values_list("email", "status"))
    assert statuses == {
        "retry@example.org": "sent",
        "has@example.org": "failed",
        "unsure@example.org": "uncertain",
        "ok@example.org": "sent",
    }
    send.refresh_from_db()
    assert send.status == SendStatus.DONE

    response = client.post(control_url(send), {"action": "retry_failed"}, follow=True)
    assert "No failed reader to retry" in page_text(response)


def test_retry_waits_for_the_send_to_end(client: Any, editor: Any) -> None:
    send = running_send(approved_issue(), {DeliveryStatus.FAILED: 1, DeliveryStatus.QUEUED: 1})
    client.force_login(editor)
    response = client.post(control_url(send), {"action": "retry_failed"}, follow=True)
    assert "only once the send has ended" in page_text(response)
    assert send.deliveries.filter(status=DeliveryStatus.FAILED).count() == 1


def test_uncertain_readers_can_be_marked_sent_without_any_email(client: Any, editor: Any) -> None:
    send, _ = ended_send_with_problems(editor)
    client.force_login(editor)
    response = client.post(control_url(send), {"action": "mark_sent"}, follow=True)
    assert "1 uncertain reader marked as sent." in page_text(response)
    assert send.deliveries.get(email="unsure@example.org").status == DeliveryStatus.SENT
    assert mail.outbox == []


def test_resending_uncertain_readers_needs_the_duplicate_warning_ticked(
    client: Any, editor: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send, _ = ended_send_with_problems(editor)
    client.force_login(editor)
    response = client.post(control_url(send), {"action": "resend_uncertain"}, follow=True)
    assert "Tick the box to confirm that some readers may get the issue twice." in page_text(response)
    assert send.deliveries.get(email="unsure@example.org").status == DeliveryStatus.UNCERTAIN

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            control_url(send), {"action": "resend_uncertain", "confirm_duplicates": "on"}, follow=True
        )
    assert "Sending again to 1 uncertain reader." in page_text(response)
    assert [address for message in mail.outbox for address in message.to] == ["unsure@example.org"]
    assert send.deliveries.get(email="unsure@example.org").status == DeliveryStatus.SENT


# --- List and delete ------------------------------------------------------------------


def test_the_send_list_shows_status_audience_and_counts(client: Any, editor: Any) -> None:
    news = MailingListFactory.create(name="Morning list")
    send = running_send(approved_issue(), {DeliveryStatus.SENT: 3, DeliveryStatus.FAILED: 1, DeliveryStatus.QUEUED: 2})
    send.lists.add(news)
    client.force_login(editor)
    page = page_text(client.get(reverse("admin:delivery_send_changelist")))
    assert "Lists: Morning list" in page
    assert "3 / 6" in page
    assert 'class="send-status send-status-sending"' in page


def test_a_started_send_cannot_be_deleted_but_an_unstarted_cancelled_one_can(client: Any, editor: Any) -> None:
    started = running_send(approved_issue(), {DeliveryStatus.SENT: 1}, status=SendStatus.CANCELLED)
    unstarted = SendFactory.create(status=SendStatus.CANCELLED, started_at=None)
    client.force_login(editor)
    assert client.post(reverse("admin:delivery_send_delete", args=[started.pk]), {"post": "yes"}).status_code == 403
    assert Send.objects.filter(pk=started.pk).exists()
    response = client.post(reverse("admin:delivery_send_delete", args=[unstarted.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Send.objects.filter(pk=unstarted.pk).exists()


@pytest.mark.parametrize(
    ("rows", "in_flight", "issue_after"),
    [
        ({DeliveryStatus.SENT: 2, DeliveryStatus.QUEUED: 3}, 0, IssueStatus.SENT),
        ({DeliveryStatus.QUEUED: 4}, 1, IssueStatus.SENT),  # one reader's row is at the provider now
        ({DeliveryStatus.QUEUED: 3}, 0, IssueStatus.APPROVED),
    ],
)
def test_cancelling_a_started_send_never_leaves_the_issue_sending(
    client: Any, editor: Any, rows: dict[str, int], in_flight: int, issue_after: str
) -> None:
    issue = approved_issue()
    issue.__class__.objects.filter(pk=issue.pk).update(status=IssueStatus.SENDING)
    send = running_send(issue, rows)
    if in_flight:  # a worker claimed part of the batch and is sending it
        assert len(claims.batch_claim(send_id=send.pk, batch=0, limit=in_flight)) == in_flight
    client.force_login(editor)

    response = client.post(control_url(send), {"action": "cancel"}, follow=True)

    assert "Cancelled." in page_text(response)
    issue.refresh_from_db()
    send.refresh_from_db()
    assert (send.status, issue.status) == (SendStatus.CANCELLED, issue_after)
    # Every queued row is skipped but those being sent, which wait for their answer.
    assert send.deliveries.filter(status=DeliveryStatus.QUEUED).count() == in_flight
