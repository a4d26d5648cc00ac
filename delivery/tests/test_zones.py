"""Sends at each reader's local time (delivery.zones): when each zone is due on the days the
clocks change, and a send across zones that reaches every reader once, in their zone's hour."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from delivery import pipeline, selectors, services, tasks, zones
from delivery.forms import SendCreateForm
from delivery.models import Batch, Delivery, DeliveryStatus, Send, SendStatus, SendZone, SendZoneStatus
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
SEVEN = datetime.time(7, 0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_budget(settings: Any) -> Iterator[None]:
    import redis

    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("newsroom:budget:*"):
            client.delete(key)
    yield


# --- when each zone is due -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at", "zone", "expected"),
    [
        # New York springs forward on 8 March 2026: 07:00 is EDT (UTC-4) that day, EST (UTC-5) the day before.
        (datetime.date(2026, 3, 7), SEVEN, "America/New_York", utc(2026, 3, 7, 12, 0)),
        (datetime.date(2026, 3, 8), SEVEN, "America/New_York", utc(2026, 3, 8, 11, 0)),
        # ... and falls back on 1 November 2026: 07:00 is EST again.
        (datetime.date(2026, 10, 31), SEVEN, "America/New_York", utc(2026, 10, 31, 11, 0)),
        (datetime.date(2026, 11, 1), SEVEN, "America/New_York", utc(2026, 11, 1, 12, 0)),
        # Berlin springs forward on 29 March 2026: CEST (UTC+2).
        (datetime.date(2026, 3, 28), SEVEN, "Europe/Berlin", utc(2026, 3, 28, 6, 0)),
        (datetime.date(2026, 3, 29), SEVEN, "Europe/Berlin", utc(2026, 3, 29, 5, 0)),
        # A time the clocks skip (02:30 does not exist): read with the offset before the gap, so 03:30 on the new clock.
        (datetime.date(2026, 3, 8), datetime.time(2, 30), "America/New_York", utc(2026, 3, 8, 7, 30)),
        (datetime.date(2026, 3, 29), datetime.time(2, 30), "Europe/Berlin", utc(2026, 3, 29, 1, 30)),
        # A time that happens twice (01:30 on fall-back night): the first of the two (still EDT).
        (datetime.date(2026, 11, 1), datetime.time(1, 30), "America/New_York", utc(2026, 11, 1, 5, 30)),
        # No zone known: the publication's (Europe/London, which also springs forward on 29 March 2026).
        (datetime.date(2026, 3, 29), SEVEN, "", utc(2026, 3, 29, 6, 0)),
        (datetime.date(2026, 3, 28), SEVEN, "", utc(2026, 3, 28, 7, 0)),
    ],
)
def test_each_zone_is_due_at_the_local_time_on_its_own_clock(
    day: datetime.date, at: datetime.time, zone: str, expected: datetime.datetime
) -> None:
    assert zones.zone_due(day, at, zone) == expected


def test_a_skipped_local_time_falls_an_hour_later_on_the_new_clock() -> None:
    due = zones.zone_due(datetime.date(2026, 3, 8), datetime.time(2, 30), "America/New_York")
    local = due.astimezone(zones.zone_info("America/New_York"))
    assert (local.hour, local.minute, local.tzname()) == (3, 30, "EDT")


# --- a send across three zones --------------------------------------------------------------


def audience(per_zone: dict[str, int]) -> Any:
    daily = MailingListFactory.create(name="Daily")
    for zone, count in per_zone.items():
        label = zone.replace("/", "-").lower() or "none"
        for n in range(count):
            SubscriberFactory.create(lists=[daily], email=f"{label}{n}@example.org", time_zone=zone)
    return daily


def create_local_send(daily: Any, day: datetime.date, at: datetime.time = SEVEN) -> Send:
    return services.send_create(
        issue=make_full_issue(status=IssueStatus.APPROVED),
        lists=[daily],
        segment=None,
        at=None,
        acting_user=make_editor(),
        local=(day, at),
    )


def sent_emails(send: Send) -> set[str]:
    return set(Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).values_list("email", flat=True))


def beat(capture: Any) -> None:
    """What celery beat runs every few seconds: start due sends and release due zones."""
    with capture(execute=True):
        tasks.start_due_sends()


def test_a_three_zone_send_across_the_spring_change_reaches_each_zone_at_its_hour(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NEWSROOM_BATCH_SIZE = 2
    day = datetime.date(2026, 3, 29)  # Berlin and London change their clocks this morning
    daily = audience({"Europe/Berlin": 3, "": 2, "America/New_York": 3})
    with time_machine.travel(utc(2026, 3, 28, 20, 0), tick=False) as clock:
        send = create_local_send(daily, day)
        assert send.scheduled_at == utc(2026, 3, 29, 5, 0)  # the earliest zone: 07:00 CEST in Berlin

        beat(django_capture_on_commit_callbacks)
        assert Delivery.objects.filter(send=send).count() == 0  # not started before its first zone

        clock.move_to(utc(2026, 3, 29, 5, 0, 5))
        beat(django_capture_on_commit_callbacks)
        assert sent_emails(send) == {f"europe-berlin{n}@example.org" for n in range(3)}
        assert Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED).count() == 5
        send.refresh_from_db()
        progress = selectors.send_progress(send=send)
        assert [(z["label"], z["state"]) for z in progress["zones"]] == [
            ("Europe/Berlin", "done"),
            ("No zone known (Europe/London)", "waiting"),
            ("America/New_York", "waiting"),
        ]
        assert progress["zones"][1]["local"] == "29 Mar 07:00 BST"
        assert progress["eta_seconds"] == 6 * 3600 - 5  # not before 07:00 in New York, six hours on

        clock.move_to(utc(2026, 3, 29, 5, 59))  # a minute before 07:00 BST: London still waits
        beat(django_capture_on_commit_callbacks)
        assert len(sent_emails(send)) == 3

        clock.move_to(utc(2026, 3, 29, 6, 0, 5))
        beat(django_capture_on_commit_callbacks)
        assert {"none0@example.org", "none1@example.org"} <= sent_emails(send)
        assert len(sent_emails(send)) == 5

        clock.move_to(utc(2026, 3, 29, 11, 0, 5))  # 07:00 EDT (New York changed on 8 March)
        beat(django_capture_on_commit_callbacks)

    send.refresh_from_db()
    assert send.status == SendStatus.DONE
    assert Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count() == 8
    assert {z.zone: z.status for z in send.zones.all()} == {
        "Europe/Berlin": SendZoneStatus.RELEASED,
        "": SendZoneStatus.RELEASED,
        "America/New_York": SendZoneStatus.RELEASED,
    }


def test_each_zone_has_batches_of_its_own(settings: Any, celery_eager: None) -> None:
    settings.NEWSROOM_BATCH_SIZE = 2
    daily = audience({"Asia/Tokyo": 3, "Europe/Berlin": 1, "America/Chicago": 2})
    with time_machine.travel(utc(2026, 11, 1, 0, 0), tick=False):
        send = create_local_send(daily, datetime.date(2026, 11, 1))
        Send.objects.filter(pk=send.pk).update(status=SendStatus.SNAPSHOTTING)
        zones.snapshot_by_zone(send_id=send.pk, enqueue=lambda *_: None)

    by_zone = {}
    for zone in SendZone.objects.filter(send=send):
        rows = Delivery.objects.filter(send=send, batch__gte=zone.first_batch, batch__lte=zone.last_batch)
        by_zone[zone.zone] = (zone.readers, zone.last_batch - zone.first_batch + 1, {r.email[:5] for r in rows})
    assert by_zone == {
        "Asia/Tokyo": (3, 2, {"asia-"}),
        "Europe/Berlin": (1, 1, {"europ"}),
        "America/Chicago": (2, 1, {"ameri"}),
    }
    due = dict(SendZone.objects.filter(send=send).values_list("zone", "due_at"))
    assert due["America/Chicago"] == utc(2026, 11, 1, 13, 0)  # 07:00 CST: Chicago fell back at 02:00


def test_zones_past_their_hour_when_the_send_starts_get_it_at_once(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    daily = audience({"Europe/Berlin": 1, "": 1, "America/New_York": 1})
    # "Send now" at 10:00 in London on 1 November: 07:00 has passed in Berlin and London, not in New York.
    with time_machine.travel(utc(2026, 11, 1, 10, 0), tick=False):
        form = SendCreateForm({"when": "now", "local_time": "07:00"})
        form.is_valid()
        assert form.cleaned_data["local"] == (datetime.date(2026, 11, 1), SEVEN)
        send = create_local_send(daily, datetime.date(2026, 11, 1))
        beat(django_capture_on_commit_callbacks)
        send.refresh_from_db()
        progress = selectors.send_progress(send=send)

    assert sent_emails(send) == {"europe-berlin0@example.org", "none0@example.org"}
    assert [(z["zone"], z["state"], z["late"]) for z in progress["zones"]] == [
        ("Europe/Berlin", "done", True),
        ("", "done", True),
        ("America/New_York", "waiting", False),
    ]


def test_a_batch_of_a_zone_not_yet_due_waits_even_when_its_task_runs(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    daily = audience({"Europe/Berlin": 1, "America/New_York": 2})
    with time_machine.travel(utc(2026, 3, 8, 6, 0, 5), tick=False):
        send = create_local_send(daily, datetime.date(2026, 3, 8))
        beat(django_capture_on_commit_callbacks)
        waiting = SendZone.objects.get(send=send, zone="America/New_York")
        assert waiting.status == SendZoneStatus.WAITING

        # Pausing and resuming enqueues every queued batch, New York's too: it is not sent early.
        services.send_pause(send=send, acting_user=None)
        with django_capture_on_commit_callbacks(execute=True):
            services.send_resume(send=send, acting_user=None)
        outcome = pipeline.send_batch_process(send_id=send.pk, batch=waiting.first_batch)

    assert outcome.wait == (utc(2026, 3, 8, 11, 0) - utc(2026, 3, 8, 6, 0, 5)).total_seconds()
    assert sent_emails(send) == {"europe-berlin0@example.org"}
    assert Batch.objects.get(send=send, number=waiting.first_batch).due_at == utc(2026, 3, 8, 11, 0)


def test_a_lost_release_is_recovered_and_a_second_one_sends_no_one_twice(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SEND_RECOVERY_GRACE_SECONDS = 60
    daily = audience({"Europe/Berlin": 2, "America/New_York": 2})
    with time_machine.travel(utc(2026, 11, 1, 6, 0, 5), tick=False) as clock:
        send = create_local_send(daily, datetime.date(2026, 11, 1))
        beat(django_capture_on_commit_callbacks)
        assert len(sent_emails(send)) == 2

        # New York is due: released, but its tasks never reach the broker (the worker died after the commit).
        clock.move_to(utc(2026, 11, 1, 12, 0, 5))
        with django_capture_on_commit_callbacks(execute=False):
            assert zones.zones_release_due(enqueue=pipeline.enqueue_batches) == 1
        assert len(sent_emails(send)) == 2

        clock.move_to(utc(2026, 11, 1, 12, 2))
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.sends_recover_stalled()
        # A second snapshot run and a second release change nothing.
        Send.objects.filter(pk=send.pk).update(status=SendStatus.SNAPSHOTTING)
        with django_capture_on_commit_callbacks(execute=True):
            zones.snapshot_by_zone(send_id=send.pk, enqueue=pipeline.enqueue_batches)
        Send.objects.filter(pk=send.pk).update(status=SendStatus.SENDING)
        beat(django_capture_on_commit_callbacks)

    assert Delivery.objects.filter(send=send).count() == 4
    assert Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count() == 4
    assert all(d.attempts == 1 for d in Delivery.objects.filter(send=send))


# --- the form and bad input -----------------------------------------------------------------


def test_the_form_needs_a_date_for_a_later_local_send_and_refuses_a_window_with_it() -> None:
    later = SendCreateForm({"when": "later", "local_time": "07:00"})
    assert not later.is_valid()
    assert "Give the date on which each reader gets the issue at their local time." in later.non_field_errors()

    both = SendCreateForm({"when": "now", "local_time": "07:00", "window_start": "08:00", "window_end": "20:00"})
    assert not both.is_valid()
    assert any("cannot also have a sending window" in e for e in both.non_field_errors())

    dated = SendCreateForm({"when": "later", "send_date": "2026-11-01", "local_time": "07:00"})
    dated.is_valid()
    assert dated.cleaned_data["local"] == (datetime.date(2026, 11, 1), SEVEN)
    assert dated.cleaned_data["at"] is None  # the time comes from the zones, not the "Time" field


def test_a_local_send_on_a_past_day_is_refused_and_nothing_is_stored() -> None:
    daily = audience({"Europe/Berlin": 1})
    with time_machine.travel(utc(2026, 11, 2, 9, 0), tick=False), pytest.raises(ValidationError, match="past"):
        create_local_send(daily, datetime.date(2026, 11, 1))
    assert not Send.objects.exists()


# --- the admin ------------------------------------------------------------------------------


def test_an_editor_schedules_at_each_readers_local_time_and_watches_the_zones(
    client: Any, editor: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    daily = audience({"Asia/Tokyo": 1, "": 1})
    issue = make_full_issue(status=IssueStatus.APPROVED)
    client.force_login(editor)
    with time_machine.travel(utc(2026, 10, 31, 12, 0), tick=False) as clock:
        form_page = client.get(f"/admin/delivery/send/add/?issue={issue.pk}").content.decode()
        assert "Or: at this time in each reader&#x27;s time zone" in form_page
        response = client.post(
            "/admin/delivery/send/add/",
            {"issue": issue.pk, "lists": [daily.pk], "when": "later", "send_date": "2026-11-01", "local_time": "07:00"},
            follow=True,
        )
        text = response.content.decode()
        assert "goes out at 07:00 on 01 Nov 2026 in each reader&#x27;s time zone" in text
        assert "the first zone starts 31 Oct 2026 22:00 (Europe/London)" in text  # 07:00 in Tokyo
        send = Send.objects.get()
        assert "Goes out at 07:00 on 1 Nov 2026 in each reader" in text

        clock.move_to(utc(2026, 10, 31, 22, 0, 5))
        beat(django_capture_on_commit_callbacks)
        page = client.get(f"/admin/delivery/send/{send.pk}/change/").content.decode()

    assert "Time zones, in the order they are due" in page
    assert "01 Nov 07:00 JST" in page and "No zone known (Europe/London)" in page and "01 Nov 07:00 GMT" in page
    assert sent_emails(send) == {"asia-tokyo0@example.org"}
