"""The subscribe request does the same work whatever the address is, so its timing tells an outsider nothing.

Counted, not timed: the queries the request runs and the tasks it queues. The
time itself is measured by bench/subscribe_timing.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from celery.app.task import Task
from django.db import connection
from django.test import Client

from subscribers import tasks
from subscribers.models import Subscriber, SubscriberStatus, Suppression
from subscribers.privacy import subscriber_erase
from subscribers.services import subscriber_unsubscribe, suppression_add
from testing.factories import MailingListFactory, make_confirmed_reader, make_pending_reader

pytestmark = pytest.mark.django_db

OUTCOMES = ["new", "pending", "active", "unsubscribed", "bounced", "complained", "erased", "manual", "soft_bounces"]


def _make(outcome: str) -> str:
    """An address in the state ``outcome`` names (and the reader behind it, if any)."""
    address = f"{outcome}@example.org"
    if outcome == "pending":
        make_pending_reader(email=address, name="Pat")
    elif outcome == "active":
        make_confirmed_reader(email=address, name="Ari")
    elif outcome == "unsubscribed":
        subscriber_unsubscribe(subscriber=make_confirmed_reader(email=address), via="test")
    elif outcome == "erased":
        subscriber_erase(subscriber=make_confirmed_reader(email=address))
    elif outcome in ("bounced", "complained", "soft_bounces"):
        make_confirmed_reader(email=address)
        suppression_add(email=address, reason=outcome)
    elif outcome == "manual":
        suppression_add(email=address, reason=Suppression.Reason.MANUAL)
    return address


class _Published:
    """Every task the code under test puts on the queue, recorded instead of sent."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

        def record(task: Task, args: Any = None, kwargs: Any = None, **options: Any) -> None:
            self.calls.append((task.name, dict(kwargs or {})))

        monkeypatch.setattr(Task, "apply_async", record)


def _one_request(client: Client, url: str, data: dict[str, str]) -> tuple[list[str], Any]:
    """The queries a POST ran (with placeholders: their shape, not the address in them) and its response."""
    sql: list[str] = []

    def record(execute: Any, query: str, params: Any, many: bool, context: Any) -> Any:
        sql.append(query)
        return execute(query, params, many, context)

    with connection.execute_wrapper(record):
        response = client.post(url, data, REMOTE_ADDR="203.0.113.9")
    return sql, response


def test_every_outcome_runs_the_same_queries_and_queues_the_same_one_task(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    daily = MailingListFactory.create(name="Daily")
    addresses = {outcome: _make(outcome) for outcome in OUTCOMES}
    published = _Published(monkeypatch)
    # The form's lists are cached on first use, whatever the address; start with them cached.
    assert client.get("/subscribe/").status_code == 200
    seen: dict[str, tuple[Any, ...]] = {}
    for outcome, address in addresses.items():
        published.calls.clear()
        data = {"email": address, "name": "Someone", "lists": str(daily.pk)}
        sql, response = _one_request(client, "/subscribe/", data)
        names = [name for name, _kwargs in published.calls]
        seen[outcome] = (tuple(sql), tuple(names), response.status_code, response["Location"], response.content)
    assert seen["new"][1] == ("subscribers.subscribe",)
    assert all("subscribers_subscriber" not in q and "suppression" not in q for q in seen["new"][0])
    different = {outcome: work for outcome, work in seen.items() if work != seen["new"]}
    assert different == {}, f"these outcomes did other work than a new address: {sorted(different)}"


def test_the_queued_request_carries_the_consent_data_as_json_and_the_task_stores_it(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    daily = MailingListFactory.create(name="Daily")
    published = _Published(monkeypatch)
    client.post(
        "/subscribe/",
        {
            "email": "Json@Example.org",
            "name": "Jo",
            "lists": str(daily.pk),
            "source": "/archive/",
            "time_zone": "Europe/Berlin",
        },
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="TestBrowser/2.0",
    )
    [(name, kwargs)] = published.calls
    assert name == "subscribers.subscribe"
    assert (
        json.loads(json.dumps(kwargs))
        == kwargs
        == {
            "email": "Json@example.org",
            "name": "Jo",
            "list_ids": [daily.pk],
            "form": "subscribe form on /archive/",
            "ip": "203.0.113.9",
            "user_agent": "TestBrowser/2.0",
            "time_zone": "Europe/Berlin",
        }
    )
    assert not Subscriber.objects.exists(), "the request itself stores nothing"
    tasks.subscribe_task.run(**kwargs)
    reader = Subscriber.objects.get()
    assert (reader.email, reader.name, reader.status) == ("Json@example.org", "Jo", SubscriberStatus.PENDING)
    assert reader.time_zone == "Europe/Berlin"
    assert list(reader.lists.all()) == [daily]
    consent = reader.consents.get()
    assert (consent.ip, consent.user_agent, consent.form) == ("203.0.113.9", "TestBrowser/2.0", kwargs["form"])


def test_the_task_joins_only_lists_still_offered_to_readers() -> None:
    hidden = MailingListFactory.create(name="Made private since", public=False)
    shown = MailingListFactory.create(name="Daily")
    tasks.subscribe_task.run(
        email="late@example.org", name="", list_ids=[hidden.pk, shown.pk], form="subscribe form", ip=None, user_agent=""
    )
    assert list(Subscriber.objects.get().lists.all()) == [shown]


def test_the_fresh_link_form_too_runs_the_same_queries_and_queues_the_same_task_for_every_address(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = {outcome: _make(outcome) for outcome in OUTCOMES}
    published = _Published(monkeypatch)
    seen: dict[str, tuple[Any, ...]] = {}
    for outcome, address in addresses.items():
        published.calls.clear()
        sql, response = _one_request(client, "/subscribe/resend/", {"email": address})
        names = tuple(name for name, _kwargs in published.calls)
        seen[outcome] = (tuple(sql), names, response.status_code, response["Location"])
    assert seen["new"][1:] == (("subscribers.resend_confirmation",), 302, "/subscribe/thanks/")
    different = sorted(outcome for outcome, work in seen.items() if work != seen["new"])
    assert different == []
