"""Engagement rules of segments, counted against seeded deliveries and events, alone and combined."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from delivery.engagement import engagement_recount, send_count_received
from delivery.models import Delivery, DeliveryStatus, Event, Send, SendStatus
from delivery.pipeline import send_finish_if_complete
from issues.models import Issue, IssueStatus
from subscribers.models import MailingList, Segment, Subscriber
from subscribers.selectors import SegmentRules, rules_filter
from testing import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LINK_A = "https://example.org/a-story"
LINK_B = "https://example.org/b-story?utm_source=newsletter"
COUNT_URL = "/admin/subscribers/segment/count/"
AGES = (30, 20, 10)  # days since each send


@dataclass
class World:
    issues: list[Issue]
    sends: list[Send]
    readers: dict[str, Subscriber]
    mailing_list: MailingList


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture
def world(db: None) -> Any:
    """Three sends (30, 20 and 10 days ago) and a failed one; six readers who did different things.

    ann  got 1-3, opened and clicked LINK_A in send 3
    bob  got 1-3, opened send 1
    cat  got 2-3, only Apple's proxy opened them (and a scanner "clicked" LINK_A)
    dan  got 3, nothing
    eve  got 1-3, clicked LINK_B in send 2
    fay  got nothing, and is not on the list
    """
    with time_machine.travel(NOW, tick=False):
        mailing_list = factories.MailingListFactory.create(name="Daily")
        names = ["ann", "bob", "cat", "dan", "eve", "fay"]
        readers = {name: factories.make_confirmed_reader(email=f"{name}@example.org") for name in names}
        for name in names[:5]:
            readers[name].lists.add(mailing_list)
        issues = [factories.IssueFactory.create(status=IssueStatus.SENT, title=f"Issue {n}") for n in (1, 2, 3)]
        sends = [
            factories.SendFactory.create(
                issue=issue, status=SendStatus.DONE, scheduled_at=days_ago(age), started_at=days_ago(age)
            )
            for issue, age in zip(issues, AGES, strict=True)
        ]
        failed = factories.SendFactory.create(
            issue=issues[2], status=SendStatus.FAILED, scheduled_at=days_ago(5), started_at=days_ago(5)
        )
        got = {"ann": (0, 1, 2), "bob": (0, 1, 2), "cat": (1, 2), "dan": (2,), "eve": (0, 1, 2)}
        rows = {
            (name, n): Delivery(
                send=sends[n],
                subscriber=readers[name],
                email=readers[name].email,
                status=DeliveryStatus.SENT,
                sent_at=sends[n].started_at,
            )
            for name, numbers in got.items()
            for n in numbers
        }
        rows[("dan", 9)] = Delivery(send=failed, subscriber=readers["dan"], email="dan@example.org", status="failed")
        events: list[Event] = []

        def engage(name: str, n: int, kind: str, hours: float, url: str = "", machine: str = "") -> None:
            row, at = rows[(name, n)], days_ago(AGES[n]) + timedelta(hours=hours)
            if machine:
                row.machine_opened_at = row.machine_opened_at or at
            else:
                row.opened_at = row.opened_at or at
                row.clicked_at = row.clicked_at or (at if kind == "clicked" else None)
            key = f"{name}-{n}-{kind}-{hours}"
            events.append(Event(dedupe_key=key, event_type=kind, at=at, url=url, machine=machine, recipient=name))
            events[-1]._row = row  # type: ignore[attr-defined]

        engage("ann", 2, "opened", 1)
        engage("ann", 2, "clicked", 1.1, LINK_A)
        engage("bob", 0, "opened", 2)
        engage("cat", 1, "opened", 0, machine="apple_mpp")
        engage("cat", 2, "opened", 0, machine="apple_mpp")
        engage("cat", 2, "clicked", 0, LINK_A, machine="scanner")
        engage("eve", 1, "clicked", 3, LINK_B)
        Delivery.objects.bulk_create(rows.values())
        for event in events:
            event.delivery, event.send = event._row, event._row.send  # type: ignore[attr-defined]
        Event.objects.bulk_create(events)
        engagement_recount()
    return World(issues=issues, sends=sends, readers=readers, mailing_list=mailing_list)


def matching(**rules: Any) -> set[str]:
    with time_machine.travel(NOW, tick=False):
        found = Subscriber.objects.filter(rules_filter(SegmentRules(**rules)))
        return {email.split("@")[0] for email in found.values_list("email", flat=True)}


def test_the_recount_gives_each_reader_their_issues_and_last_open_by_a_person(world: World) -> None:
    readers = {s.email.split("@")[0]: s for s in Subscriber.objects.all()}

    assert {name: r.received_count for name, r in readers.items()} == {
        "ann": 3,
        "bob": 3,
        "cat": 2,
        "dan": 1,  # the failed send does not count
        "eve": 3,
        "fay": 0,
    }
    assert readers["ann"].last_engaged_at == days_ago(10) + timedelta(hours=1.1)
    assert readers["cat"].last_engaged_at is None  # machine opens only


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"opened_in_last_sends": 1}, {"ann"}),
        ({"opened_in_last_sends": 2}, {"ann", "eve"}),  # eve's click counts as an open
        ({"opened_in_last_sends": 3}, {"ann", "bob", "eve"}),
        ({"opened_in_last_sends": 50}, {"ann", "bob", "eve"}),
        ({"clicked_in_last_sends": 1}, {"ann"}),
        ({"clicked_in_last_sends": 2}, {"ann", "eve"}),
        ({"clicked_url": LINK_A}, {"ann"}),  # not cat: a scanner's click
        ({"clicked_url": LINK_B}, {"eve"}),
        ({"clicked_url": "https://example.org/never"}, set()),
        ({"never_opened": True}, {"cat", "dan", "fay"}),
        ({"received_at_least": 3}, {"ann", "bob", "eve"}),
        ({"received_at_least": 2}, {"ann", "bob", "cat", "eve"}),
        ({"inactive_for_days": 15}, {"bob", "cat", "dan", "eve", "fay"}),
        ({"engaged_within_days": 25}, {"ann", "eve"}),
    ],
)
def test_each_rule_matches_the_readers_who_did_it(world: World, rules: dict[str, Any], expected: set[str]) -> None:
    assert matching(**rules) == expected


def test_clicked_any_link_of_an_issue(world: World) -> None:
    first, second, third = (issue.pk for issue in world.issues)

    assert matching(clicked_issue=second) == {"eve"}
    assert matching(clicked_issue=third) == {"ann"}
    assert matching(clicked_issue=first) == set()


def test_rules_combine_with_each_other_and_with_lists(world: World) -> None:
    assert matching(never_opened=True, received_at_least=2) == {"cat"}
    assert matching(never_opened=True, list_ids=(world.mailing_list.pk,)) == {"cat", "dan"}
    assert matching(opened_in_last_sends=3, inactive_for_days=15) == {"bob", "eve"}
    assert matching(clicked_url=LINK_A, received_at_least=3, status="active") == {"ann"}
    assert matching(clicked_in_last_sends=2, clicked_issue=world.issues[1].pk) == {"eve"}


def test_the_live_count_endpoint_counts_the_engagement_rules(admin_client: Client, world: World) -> None:
    Subscriber.objects.filter(email="bob@example.org").update(status="unsubscribed")

    with time_machine.travel(NOW, tick=False):
        response = admin_client.get(COUNT_URL, {"opened_in_last_sends": 3})
        combined = admin_client.get(COUNT_URL, {"never_opened": "on", "lists": str(world.mailing_list.pk)})

    assert response.json() == {"matching": 3, "sendable": 2}
    assert combined.json() == {"matching": 2, "sendable": 2}


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"opened_in_last_sends": 0}, "opened_in_last_sends", "greater than or equal to 1"),
        ({"received_at_least": "-2"}, "received_at_least", "greater than or equal to 1"),
        ({"clicked_url": "not a link"}, "clicked_url", "valid URL"),
        ({"never_opened": "on", "opened_in_last_sends": 2}, "__all__", "cannot be combined"),
        ({"engaged_within_days": 7, "inactive_for_days": 30}, "__all__", "no reader can match both"),
    ],
)
def test_the_live_count_refuses_rules_no_one_can_meet(
    admin_client: Client, world: World, query: dict[str, Any], field: str, words: str
) -> None:
    response = admin_client.get(COUNT_URL, query)

    assert response.status_code == 400
    assert words in response.json()["errors"][field][0]["message"]


def segment_post(**fields: Any) -> dict[str, Any]:
    return {"name": "Engaged", "status": "", **fields}


def test_an_editor_saves_a_segment_with_engagement_rules(admin_client: Client, world: World) -> None:
    issue = world.issues[2]
    form = admin_client.get("/admin/subscribers/segment/add/")
    assert f'<option value="{issue.pk}">Issue 3</option>' in form.content.decode()
    assert f'<option value="{LINK_A}">' in form.content.decode()  # the link suggestions

    response = admin_client.post(
        "/admin/subscribers/segment/add/",
        segment_post(opened_in_last_sends=3, clicked_url=LINK_A, clicked_issue=issue.pk, received_at_least=2),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    segment = Segment.objects.get(name="Engaged")
    assert (segment.opened_in_last_sends, segment.clicked_url, segment.clicked_issue) == (3, LINK_A, issue.pk)
    with time_machine.travel(NOW, tick=False):
        changelist = admin_client.get("/admin/subscribers/segment/").content.decode()
    assert '<td class="field-matching">1</td>' in changelist


def test_a_link_no_sent_issue_has_is_refused_and_nothing_saved(admin_client: Client, world: World) -> None:
    response = admin_client.post(
        "/admin/subscribers/segment/add/", segment_post(clicked_url="https://elsewhere.example/story")
    )

    assert response.status_code == 200
    assert "No sent issue links to this address" in str(response.context["adminform"].form.errors["clicked_url"])
    assert not Segment.objects.exists()


def test_an_issue_never_sent_cannot_be_chosen(admin_client: Client, world: World) -> None:
    draft = factories.IssueFactory.create(status=IssueStatus.DRAFT)

    response = admin_client.post("/admin/subscribers/segment/add/", segment_post(clicked_issue=draft.pk))

    assert "clicked_issue" in response.context["adminform"].form.errors
    assert not Segment.objects.exists()


def test_a_finished_send_counts_one_more_issue_for_each_reader_it_reached(world: World) -> None:
    issue = factories.IssueFactory.create(status=IssueStatus.SENDING)
    send = factories.SendFactory.create(issue=issue, status=SendStatus.SENDING, started_at=NOW)
    reached = [world.readers[name] for name in ("ann", "fay")]
    Delivery.objects.bulk_create(
        [Delivery(send=send, subscriber=r, email=r.email, status=DeliveryStatus.SENT) for r in reached]
        + [Delivery(send=send, subscriber=world.readers["dan"], email="dan@example.org", status="failed")]
    )

    assert send_finish_if_complete(send_id=send.pk)
    again = factories.SendFactory.create(issue=issue, status=SendStatus.DONE, started_at=NOW)
    Delivery.objects.create(send=again, subscriber=reached[1], email=reached[1].email, status=DeliveryStatus.SENT)
    assert send_count_received(send_id=again.pk) == 0  # the same issue a second time is not another issue

    counts = dict(Subscriber.objects.values_list("email", "received_count"))
    assert (counts["ann@example.org"], counts["fay@example.org"], counts["dan@example.org"]) == (4, 1, 1)


def test_the_recount_command_repairs_the_counts(world: World) -> None:
    Subscriber.objects.update(received_count=0, last_engaged_at=None)

    call_command("engagement_recount", verbosity=0)

    assert Subscriber.objects.get(email="eve@example.org").received_count == 3
    assert Subscriber.objects.filter(last_engaged_at__isnull=False).count() == 3
