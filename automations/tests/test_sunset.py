"""The lists' sunset policy: notice, re-engagement email with its keep button, move to inactive, reactivate."""

from __future__ import annotations

import datetime
import itertools
import re
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from automations import pipeline, sunset
from automations.models import NoticeOutcome, Run, RunStatus, Sequence, SunsetNotice, Trigger
from automations.tests.conftest import make_sequence
from core.models import OutboxMessage
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import Issue
from subscribers import services as subscriber_services
from subscribers.admin_services import subscribers_reactivate
from subscribers.models import MailingList, Subscriber, SubscriberStatus
from subscribers.selectors import sendable_subscribers
from testing.factories import IssueFactory, MailingListFactory, make_confirmed_reader, make_editor

pytestmark = pytest.mark.django_db
ISSUE_NUMBERS = itertools.count(1)
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def policy_list(*, after: int = 3, grace: int = 14, name: str = "Daily") -> MailingList:
    return MailingListFactory.create(name=name, sunset_enabled=True, sunset_after_sends=after, sunset_grace_days=grace)


def sends_to(
    mailing_list: MailingList, readers: list[Subscriber], *, count: int, first: datetime.datetime
) -> list[Send]:
    """``count`` finished sends to the list, a day apart, each received by every reader."""
    made = []
    for n in range(count):
        issue: Issue = IssueFactory.create(title=f"Issue {next(ISSUE_NUMBERS)}")
        at = first + datetime.timedelta(days=n)
        send = Send.objects.create(issue=issue, scheduled_at=at, started_at=at, finished_at=at, status=SendStatus.DONE)
        send.lists.add(mailing_list)
        Delivery.objects.bulk_create(
            [Delivery(send=send, subscriber=r, email=r.email, status=DeliveryStatus.SENT, sent_at=at) for r in readers]
        )
        made.append(send)
    return made


def apply(at: datetime.datetime, capture: Any) -> sunset.SunsetResult:
    with time_machine.travel(at, tick=False), capture(execute=True):
        result = sunset.sunset_apply()
        pipeline.steps_send_due()
    return result


@pytest.fixture
def readers() -> tuple[MailingList, list[Subscriber]]:
    daily = policy_list()
    people = [make_confirmed_reader(email=f"r{n}@example.org") for n in range(4)]
    for r in people:
        r.lists.add(daily)
    return daily, people


def test_off_by_default_and_nobody_is_noticed_before_n_sends(
    readers: tuple[MailingList, list[Subscriber]], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    daily, people = readers
    assert MailingList._meta.get_field("sunset_enabled").default is False
    sends_to(daily, people, count=2, first=START)
    assert apply(START + datetime.timedelta(days=3), django_capture_on_commit_callbacks).noticed == 0
    MailingList.objects.filter(pk=daily.pk).update(sunset_enabled=False)
    sends_to(daily, people, count=3, first=START + datetime.timedelta(days=2))
    assert apply(START + datetime.timedelta(days=6), django_capture_on_commit_callbacks).noticed == 0
    assert not SunsetNotice.objects.exists()


def test_the_policy_on_a_moved_clock(
    readers: tuple[MailingList, list[Subscriber]], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    daily, (opener, machine_only, keeper, silent) = readers
    sends = sends_to(daily, [opener, machine_only, keeper, silent], count=3, first=START)
    # A person opened the last send; a privacy proxy "opened" it for another (machine opens never count).
    Subscriber.objects.filter(pk=opener.pk).update(last_engaged_at=START + datetime.timedelta(days=2, hours=1))
    Delivery.objects.filter(send=sends[-1], subscriber=machine_only).update(machine_opened_at=START)
    day3 = START + datetime.timedelta(days=3)
    result = apply(day3, django_capture_on_commit_callbacks)
    assert result.noticed == 3
    noticed = set(SunsetNotice.objects.values_list("subscriber__email", flat=True))
    assert noticed == {machine_only.email, keeper.email, silent.email}
    # Each got the re-engagement email once, with the keep button's own link.
    message = OutboxMessage.objects.get(to=keeper.email)
    assert message.subject.startswith("Do you still want")
    keep_links = re.findall(r"https?://\S+/subscription/[^/\s]+/keep/", message.text_body)
    assert len(keep_links) == 1 and "Keep me subscribed" in message.html_body
    assert apply(day3 + datetime.timedelta(hours=1), django_capture_on_commit_callbacks).noticed == 0
    assert OutboxMessage.objects.filter(to=keeper.email).count() == 1

    # The keeper presses the button: a GET only shows it, the POST keeps.
    client = Client()
    path = keep_links[0].split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    assert SunsetNotice.objects.get(subscriber=keeper).outcome == NoticeOutcome.WAITING
    with time_machine.travel(day3 + datetime.timedelta(days=1), tick=False):
        answer = client.post("/" + path)
    assert answer.status_code == 200 and b"You stay subscribed" in answer.content
    assert SunsetNotice.objects.get(subscriber=keeper).outcome == NoticeOutcome.KEPT
    # The machine-opened reader really opens meanwhile.
    Subscriber.objects.filter(pk=machine_only.pk).update(last_engaged_at=day3 + datetime.timedelta(days=2))

    # 13 days later nobody moves yet; at 14 days the silent one does.
    result = apply(day3 + datetime.timedelta(days=13), django_capture_on_commit_callbacks)
    assert (result.moved, result.engaged) == (0, 1)
    result = apply(day3 + datetime.timedelta(days=14, minutes=1), django_capture_on_commit_callbacks)
    assert (result.moved, result.engaged) == (1, 0)
    statuses = dict(Subscriber.objects.values_list("email", "status"))
    assert statuses[silent.email] == SubscriberStatus.INACTIVE
    assert {statuses[e.email] for e in (opener, machine_only, keeper)} == {SubscriberStatus.ACTIVE}
    assert SunsetNotice.objects.get(subscriber=machine_only).outcome == NoticeOutcome.ENGAGED

    # Sends and sequence steps skip the inactive reader.
    assert not sendable_subscribers(lists=[daily]).filter(pk=silent.pk).exists()
    assert sendable_subscribers(lists=[daily]).filter(pk=keeper.pk).exists()

    # More silent sends: the keeper is asked again only after N new sends, the inactive reader never.
    sends_to(daily, [opener, machine_only, keeper], count=3, first=day3 + datetime.timedelta(days=15))
    result = apply(day3 + datetime.timedelta(days=18), django_capture_on_commit_callbacks)
    waiting = set(SunsetNotice.objects.filter(outcome=NoticeOutcome.WAITING).values_list("subscriber", flat=True))
    assert result.noticed == 3 and waiting == {keeper.pk, opener.pk, machine_only.pk}

    # An editor reactivates the inactive reader; the notice says so.
    assert subscribers_reactivate(subscribers=Subscriber.objects.filter(pk=silent.pk), acting_user=make_editor()) == 1
    assert Subscriber.objects.get(pk=silent.pk).status == SubscriberStatus.ACTIVE
    assert SunsetNotice.objects.get(subscriber=silent).outcome == NoticeOutcome.REACTIVATED


def test_moving_to_inactive_ends_other_runs_and_the_form_asks_for_a_new_confirmation(
    readers: tuple[MailingList, list[Subscriber]], celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    daily, people = readers
    silent = people[0]
    other = make_sequence(steps=[(0, "minutes"), (30, "days")], name="Course", trigger=Trigger.LIST_CONFIRMED)
    Run.objects.create(
        sequence=other,
        subscriber=silent,
        current_step=other.steps.last(),
        entered_at=START,
        next_due_at=START + datetime.timedelta(days=60),
    )
    sends_to(daily, [silent], count=3, first=START)
    apply(START + datetime.timedelta(days=3), django_capture_on_commit_callbacks)
    apply(START + datetime.timedelta(days=20), django_capture_on_commit_callbacks)
    silent.refresh_from_db()
    assert silent.status == SubscriberStatus.INACTIVE
    run = Run.objects.get(sequence=other, subscriber=silent)
    assert (run.status, run.exit_reason) == (RunStatus.EXITED, sunset.EXIT_INACTIVE)
    # Subscribing again from the form: pending until the emailed link is confirmed, then active.
    with django_capture_on_commit_callbacks(execute=True):
        again = subscriber_services.subscriber_subscribe(email=silent.email, lists=[daily])
    assert again is not None and again.status == SubscriberStatus.PENDING
    assert OutboxMessage.objects.filter(to=silent.email, subject__icontains="confirm").exists()
    with django_capture_on_commit_callbacks(execute=True):
        subscriber_services.subscriber_confirm(subscriber=again)
    assert Subscriber.objects.get(pk=silent.pk).status == SubscriberStatus.ACTIVE


def test_the_inactive_reader_comes_back_from_their_preferences_page_or_unsubscribes(
    readers: tuple[MailingList, list[Subscriber]],
) -> None:
    from subscribers.links import links_for

    _, people = readers
    reader = people[0]
    Subscriber.objects.filter(pk=reader.pk).update(status=SubscriberStatus.INACTIVE)
    url = links_for(subscriber_id=reader.pk, email=reader.email)["preferences_url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    client = Client()
    page = client.get(path)
    assert b"Keep me subscribed" in page.content and b"went unopened" in page.content
    client.post(path, {"action": "resubscribe"})
    assert Subscriber.objects.get(pk=reader.pk).status == SubscriberStatus.ACTIVE
    Subscriber.objects.filter(pk=reader.pk).update(status=SubscriberStatus.INACTIVE)
    client.post(path, {"action": "unsubscribe"})
    assert Subscriber.objects.get(pk=reader.pk).status == SubscriberStatus.UNSUBSCRIBED


def test_the_admin_shows_filters_and_reactivates_inactive_readers(
    readers: tuple[MailingList, list[Subscriber]], admin_client: Client
) -> None:
    _, people = readers
    reader = people[0]
    Subscriber.objects.filter(pk=reader.pk).update(status=SubscriberStatus.INACTIVE)
    listing = admin_client.get(reverse("admin:subscribers_subscriber_changelist") + "?status__exact=inactive")
    assert reader.email.encode() in listing.content and people[1].email.encode() not in listing.content
    lists = admin_client.get(reverse("admin:subscribers_mailinglist_changelist"))
    assert b"status__exact=inactive" in lists.content and b"After 3 sends, 14 days to answer" in lists.content
    page = admin_client.get(reverse("admin:subscribers_subscriber_change", args=[reader.pk]))
    assert b"Reactivate" in page.content
    answer = admin_client.post(reverse("admin:subscribers_subscriber_reactivate", args=[reader.pk]))
    assert answer.status_code == 302
    assert Subscriber.objects.get(pk=reader.pk).status == SubscriberStatus.ACTIVE
    # The bulk action too.
    Subscriber.objects.filter(pk__in=[people[1].pk, people[2].pk]).update(status=SubscriberStatus.INACTIVE)
    admin_client.post(
        reverse("admin:subscribers_subscriber_changelist"),
        {"action": "reactivate", "_selected_action": [people[1].pk, people[2].pk, people[3].pk]},
    )
    assert Subscriber.objects.filter(status=SubscriberStatus.INACTIVE).count() == 0


def test_the_reengagement_sequence_is_there_and_keeps_its_trigger(admin_client: Client) -> None:
    sequence = sunset.sunset_sequence_ensure()
    assert Sequence.objects.filter(trigger=Trigger.SUNSET).count() == 1
    page = admin_client.get(reverse("admin:automations_sequence_change", args=[sequence.pk]))
    assert page.status_code == 200 and b"sunset policy" in page.content
    add = admin_client.get(reverse("admin:automations_sequence_add"))
    assert b'value="sunset"' not in add.content
    preview = admin_client.get(
        reverse("admin:automations_sequence_preview", args=[sequence.pk, sequence.steps.get().pk])
    )
    assert b"Keep me subscribed" in preview.content
