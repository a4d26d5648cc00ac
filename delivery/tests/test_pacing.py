"""The shared budget (Redis), the warm-up across a day boundary, the send window, and the
bad limits refused at start-up and in the admin."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import time_machine
from anymail.exceptions import AnymailRequestsAPIError
from django.core.exceptions import ImproperlyConfigured, ValidationError

from core.env import env_date, env_positive
from delivery import pacing, pipeline, posting, selectors, services
from delivery.forms import SendCreateForm, publication_tz
from delivery.models import Batch, Delivery, DeliveryStatus, SendingLimit, SendStatus
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_budget(settings: Any) -> Iterator[None]:
    """No budget left over from another test (the keys live in the test Redis)."""
    import redis

    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("newsroom:budget:*"):
            client.delete(key)
    yield


def limits(**values: Any) -> pacing.Limits:
    return pacing.Limits(provider="outbox", **values)


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=publication_tz())


# --- the budget ----------------------------------------------------------------------


def test_the_budget_grants_one_batch_then_makes_the_next_wait(settings: Any) -> None:
    settings.NEWSROOM_BATCH_SIZE = 10
    rule = limits(per_second=20)

    first = pacing.budget_take(10, limits=rule)
    second = pacing.budget_take(10, limits=rule)

    assert (first.granted, first.wait) == (10, 0.0)
    # The bucket holds one batch and refills at 20 a second: the next batch waits about half a second.
    assert second.granted == 0 and 0.4 < second.wait <= 0.5


def test_every_window_counts_and_the_tightest_decides(settings: Any) -> None:
    settings.NEWSROOM_BATCH_SIZE = 100
    rule = limits(per_second=1000, per_hour=30)

    assert pacing.batch_size(rule) == 30  # a batch fits in every window's bucket
    assert pacing.budget_take(30, limits=rule).granted == 30
    wait = pacing.budget_take(30, limits=rule).wait
    assert 3500 < wait <= 3600  # an hour's 30, one batch


def test_a_429_with_retry_after_stops_the_budget_for_that_long(settings: Any) -> None:
    settings.NEWSROOM_BATCH_SIZE = 10
    rule = limits(per_second=100)
    pacing.budget_penalize(4, limits=rule)

    grant = pacing.budget_take(5, limits=rule)

    assert grant.granted == 0 and 3.5 < grant.wait <= 4.0


def test_retry_after_is_read_from_the_providers_429() -> None:
    response = requests.Response()
    response.status_code, response._content = 429, b"slow down"
    response.headers["Retry-After"] = "7"
    assert posting.retry_after(AnymailRequestsAPIError("429", response=response)) == 7.0
    response.status_code = 503
    assert posting.retry_after(AnymailRequestsAPIError("503", response=response)) is None


def test_without_a_limit_everything_goes_at_once() -> None:
    assert pacing.budget_take(5000, limits=limits()) == pacing.Grant(granted=5000)


# --- warm-up across a day boundary ---------------------------------------------------------


def reader(daily: Any, email: str, engaged_days_ago: int | None) -> Any:
    now = datetime.datetime(2026, 6, 1, 9, 0, tzinfo=datetime.UTC)
    engaged = None if engaged_days_ago is None else now - datetime.timedelta(days=engaged_days_ago)
    return SubscriberFactory.create(lists=[daily], email=email, last_engaged_at=engaged)


def test_a_warm_up_sends_the_most_engaged_first_and_the_rest_the_next_day(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    day1 = datetime.date(2026, 6, 1)
    settings.NEWSROOM_BATCH_SIZE = 2
    settings.SEND_WARMUP_START = day1
    settings.SEND_WARMUP_DAILY_CAPS = [3, 6]
    daily = MailingListFactory.create(name="Daily")
    for n, days in enumerate([40, 2, None, 30, 1, None, 20, 3]):
        reader(daily, f"r{n}@example.org", days)

    with time_machine.travel(local(day1, 10), tick=False) as clock:
        send = services.send_create(
            issue=make_full_issue(status=IssueStatus.APPROVED),
            lists=[daily],
            segment=None,
            at=None,
            acting_user=make_editor(),
        )
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.sends_start_due()

        sent = set(Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).values_list("email", flat=True))
        assert sent == {"r4@example.org", "r1@example.org", "r7@example.org"}  # engaged 1, 2 and 3 days ago
        assert Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED).count() == 5
        send.refresh_from_db()
        progress = selectors.send_progress(send=send)
        assert progress["status"] == SendStatus.SENDING
        assert "warm-up day 1: 3 today" in progress["limit"]
        assert progress["eta_seconds"] >= 14 * 3600  # the rest waits for tomorrow's budget
        # The waiting batches are due at midnight in the database, not held in the broker.
        waiting = Batch.objects.filter(send=send).exclude(status="done")
        assert {b.due_at for b in waiting} == {local(day1 + datetime.timedelta(days=1), 0)}

        clock.move_to(local(day1 + datetime.timedelta(days=1), 0, 2))
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.sends_recover_stalled()

    send.refresh_from_db()
    assert send.status == SendStatus.DONE
    assert Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count() == 8


# --- the send window -------------------------------------------------------------------


def test_outside_its_window_a_send_waits_and_goes_when_it_opens(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    day = datetime.date(2026, 3, 10)
    daily = MailingListFactory.create(name="Daily")
    SubscriberFactory.create_batch(3, lists=[daily])
    with time_machine.travel(local(day, 22), tick=False) as clock:
        send = services.send_create(
            issue=make_full_issue(status=IssueStatus.APPROVED),
            lists=[daily],
            segment=None,
            at=None,
            acting_user=make_editor(),
            window=(datetime.time(7, 0), datetime.time(21, 0)),
        )
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.sends_start_due()
        assert Delivery.objects.filter(send=send, status=DeliveryStatus.QUEUED).count() == 3
        assert Batch.objects.get(send=send).due_at == local(day + datetime.timedelta(days=1), 7)
        send.refresh_from_db()
        assert selectors.send_progress(send=send)["window_wait"] == "9 h 0 min"

        clock.move_to(local(day + datetime.timedelta(days=1), 7, 2))
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.sends_recover_stalled()

    assert Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count() == 3


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="ends"):
        services.window_check((datetime.time(21, 0), datetime.time(7, 0)))
    form = SendCreateForm({"when": "now", "window_start": "21:00", "window_end": "07:00"})
    assert not form.is_valid()
    assert "The sending window ends (07:00) before it starts (21:00)." in form.non_field_errors()


# --- bad limits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SEND_RATE_PER_SECOND": "0"}, "SEND_RATE_PER_SECOND=0 must be at least 1"),
        ({"SEND_RATE_PER_HOUR": "-5"}, "SEND_RATE_PER_HOUR=-5 must be at least 1"),
        (
            {"SEND_WARMUP_START": "2026-06-01", "SEND_WARMUP_DAILY_CAPS": "500,1000,800"},
            "SEND_WARMUP_DAILY_CAPS shrinks on day 3 (1000 then 800)",
        ),
        ({"SEND_WARMUP_DAILY_CAPS": "500,1000"}, "A warm-up needs SEND_WARMUP_START"),
    ],
)
def test_bad_limits_stop_start_up_with_what_to_fix(variables: dict[str, str], message: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "newsroom.settings", **variables}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert message in done.stderr


def test_the_env_helpers_name_the_variable(monkeypatch: Any) -> None:
    monkeypatch.setenv("SEND_RATE_PER_DAY", "lots")
    with pytest.raises(ImproperlyConfigured, match="SEND_RATE_PER_DAY='lots' is not a whole number"):
        env_positive("SEND_RATE_PER_DAY")
    monkeypatch.setenv("SEND_WARMUP_START", "1 June")
    with pytest.raises(ImproperlyConfigured, match="YYYY-MM-DD"):
        env_date("SEND_WARMUP_START")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"per_second": 0}, "per_second", "at least 1"),
        ({"warmup_start": datetime.date(2026, 6, 1), "warmup_daily_caps": "500, 400"}, "warmup_daily_caps", "shrinks"),
        ({"warmup_daily_caps": "500, 1000"}, "warmup_start", "needs its first day"),
        ({"warmup_start": datetime.date(2026, 6, 1), "warmup_first_day": 100}, "warmup_daily_caps", "both"),
        ({"max_batch": 5000, "provider": "mailgun"}, "max_batch", "at most 1000"),
    ],
)
def test_the_admin_refuses_bad_limits(values: dict[str, Any], field: str, message: str) -> None:
    row = SendingLimit(**{"provider": "outbox", **values})
    with pytest.raises(ValidationError) as caught:
        row.full_clean()
    assert any(message in text for text in caught.value.message_dict[field])


def test_a_saved_admin_row_is_in_force_instead_of_the_settings(settings: Any) -> None:
    settings.SEND_RATE_PER_SECOND = 500
    assert pacing.limits_in_force().per_second == 500
    SendingLimit.objects.create(provider=settings.EMAIL_PROVIDER, per_second=40, per_day=10_000)
    rule = pacing.limits_in_force()
    assert (rule.per_second, rule.per_day, rule.source) == (40, 10_000, "admin")
    assert rule.describe().startswith("40/second, 10,000/day (admin")


def test_a_reservation_takes_the_next_turn_now_and_says_when_it_may_go(settings: Any) -> None:
    settings.NEWSROOM_BATCH_SIZE = 10
    rule = limits(per_second=20)  # one batch of 10 every half second

    first = pacing.budget_take(10, limits=rule, reserve=2.0)
    second = pacing.budget_take(10, limits=rule, reserve=2.0)
    third = pacing.budget_take(10, limits=rule, reserve=2.0)
    far = pacing.budget_take(10, limits=rule, reserve=0.6)

    assert (first.granted, first.wait) == (10, 0.0)
    # Each reservation queues behind the one before: the budget's own pace, half a second apart.
    assert second.granted == 10 and 0.4 < second.wait <= 0.5
    assert third.granted == 10 and 0.9 < third.wait <= 1.0
    # Beyond the horizon nothing is taken: come back when the turn is within it.
    assert far.granted == 0 and 0.8 < far.wait <= 0.9
    assert pacing.budget_take(10, limits=rule, reserve=2.0).wait <= 1.5  # the refused one took no turn


def test_posts_are_spaced_by_their_share_of_the_per_second_cap(settings: Any) -> None:
    rule = limits(per_second=20)

    waits = [pacing.post_wait(10, limits=rule) for _ in range(3)]

    # Ten messages are half a second of a 20-a-second cap: each post waits for the one before.
    assert waits[0] == 0.0
    assert 0.4 < waits[1] <= 0.5 and 0.9 < waits[2] <= 1.0
    assert pacing.post_wait(10, limits=limits(per_hour=30)) == 0.0  # only the per-second cap spaces posts
