"""The event bus: listeners hear what they asked for, inside the emitter's transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from core.events import EventName, emit, emit_many, listen, unlisten
from subscribers.models import SubscriberTag, Suppression
from subscribers.services import subscriber_confirm, subscriber_unsubscribe, suppression_add
from testing.factories import make_confirmed_reader, make_editor, make_pending_reader


@pytest.fixture
def heard() -> Iterator[list[tuple[str, dict]]]:
    got: list[tuple[str, dict]] = []

    def listener(name: str, payloads: list) -> None:
        got.extend((name, dict(p)) for p in payloads)

    listen(listener)
    yield got
    unlisten(listener)


def test_a_listener_hears_only_the_names_it_asked_for() -> None:
    # Names of no real event, so that the project's own listeners (outgoing webhooks, sequences) stay out.
    got: list[str] = []

    def listener(name: str, payloads: list) -> None:
        got.extend(f"{name}:{p['send_id']}" for p in payloads)

    listen(listener, names=["test.one"])
    listen(listener, names=["test.one"])  # registered once
    try:
        emit("test.one", {"send_id": 1})
        emit("test.two", {"send_id": 2})
        emit_many("test.one", [{"send_id": 3}, {"send_id": 4}])
        emit_many("test.one", [])
    finally:
        unlisten(listener)
    emit("test.one", {"send_id": 5})
    assert got == ["test.one:1", "test.one:3", "test.one:4"]


@pytest.mark.django_db
def test_the_readers_journey_is_told(heard: list[tuple[str, dict]]) -> None:
    reader = make_pending_reader()
    subscriber_confirm(subscriber=reader)
    subscriber_confirm(subscriber=reader)  # twice changes nothing, tells nothing
    subscriber_unsubscribe(subscriber=reader, via="test")
    subscriber_unsubscribe(subscriber=reader, via="test")
    names = [name for name, _p in heard]
    assert names == ["subscriber.confirmed", "subscriber.unsubscribed"]
    assert all(p["subscriber_id"] == reader.pk for _n, p in heard)


@pytest.mark.django_db
def test_a_complaint_and_a_new_tag_are_told_once(heard: list[tuple[str, dict]]) -> None:
    from subscribers.admin_services import subscribers_tag

    reader = make_confirmed_reader()
    tag = SubscriberTag.objects.create(name="vip")
    subscribers_tag(subscribers=[reader], tag=tag)
    subscribers_tag(subscribers=[reader], tag=tag)
    suppression_add(email=reader.email, reason=Suppression.Reason.COMPLAINT)
    suppression_add(email=reader.email, reason=Suppression.Reason.COMPLAINT)
    assert [(n, p.get("tag_id")) for n, p in heard] == [("subscriber.tagged", tag.pk), ("subscriber.complained", None)]


@pytest.mark.django_db
def test_a_listener_writes_inside_the_emitters_transaction() -> None:
    def listener(name: str, payloads: list) -> None:
        make_editor("told")

    listen(listener, names=[EventName.SUBSCRIBER_CONFIRMED])
    try:
        reader = make_pending_reader()
        with pytest.raises(RuntimeError), transaction.atomic():
            subscriber_confirm(subscriber=reader)
            raise RuntimeError("rolled back")
    finally:
        unlisten(listener)
    from django.contrib.auth.models import User

    assert not User.objects.filter(username="told").exists()
