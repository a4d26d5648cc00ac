"""The live count's membership path (subscribers.selectors._membership_counts, PostgreSQL) gives the
figures of the ORM's query for every rule of lists, tags and a status: readers of each status, paused
until yesterday, today and tomorrow, suppressed while active (an editor's suppression keeps the
status), in one list or two, with one tag or two."""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from subscribers.models import MailingList, Subscriber, SubscriberStatus, SubscriberTag, Suppression
from subscribers.selectors import SegmentRules, _membership_counts, rules_filter, segment_counts, sendable_condition
from subscribers.services import suppression_add
from testing.factories import make_confirmed_reader

pytestmark = pytest.mark.django_db


def _orm_counts(rules: SegmentRules) -> dict[str, int]:
    counts = Subscriber.objects.filter(rules_filter(rules)).aggregate(
        matching=Count("pk"), sendable=Count("pk", filter=sendable_condition())
    )
    return {"matching": counts["matching"], "sendable": counts["sendable"]}


@pytest.fixture
def audience() -> tuple[list[MailingList], list[SubscriberTag]]:
    lists = [MailingList.objects.create(name=f"L{n}", slug=f"l{n}") for n in range(3)]
    tags = [SubscriberTag.objects.create(name=f"T{n}") for n in range(3)]
    today = timezone.localdate()
    pauses = [None, today - datetime.timedelta(days=1), today, today + datetime.timedelta(days=1)]
    n = 0
    for status, paused in itertools.product(SubscriberStatus.values, pauses):
        for combo in range(4):
            n += 1
            reader = make_confirmed_reader(email=f"Reader{n}@Example.org")
            Subscriber.objects.filter(pk=reader.pk).update(status=status, paused_until=paused)
            reader.lists.add(*lists[combo % 3 : combo % 3 + 1 + combo // 2])
            reader.tags.add(*tags[(combo + 1) % 3 : (combo + 1) % 3 + 1 + combo % 2])
    # Suppressed while active (an editor's suppression keeps the status), and a bounced reader's address.
    sendable = Subscriber.objects.filter(status="active", paused_until=None).order_by("pk")
    bounced = Subscriber.objects.filter(status="bounced").order_by("pk")
    for reader in [*sendable[:2], bounced[0]]:
        suppression_add(email=reader.email.upper(), reason=Suppression.Reason.MANUAL)
    return lists, tags


def _check_every_rule(lists: list[MailingList], tags: list[SubscriberTag]) -> int:
    list_choices = [(), (lists[0].pk,), (lists[1].pk, lists[2].pk)]
    tag_choices = [(), (tags[0].pk,), (tags[0].pk, tags[2].pk)]
    checked = 0
    for list_ids, tag_ids, status in itertools.product(list_choices, tag_choices, ["", *SubscriberStatus.values]):
        if not (list_ids or tag_ids):
            continue
        rules = SegmentRules(list_ids=list_ids, tag_ids=tag_ids, status=status)
        fast = _membership_counts(rules)
        assert fast is not None
        assert fast == _orm_counts(rules), rules
        checked += 1
    return checked


def test_every_rule_of_lists_tags_and_status_counts_as_the_orm_does(audience: tuple) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the membership path is PostgreSQL's; elsewhere the ORM's query answers")
    lists, tags = audience
    everyone = SegmentRules(list_ids=tuple(x.pk for x in lists))
    assert _check_every_rule(lists, tags) == 8 * 7
    # Some of them count a reader the suppression, a pause or the status keeps from a send.
    figures = segment_counts(everyone)
    assert figures["matching"] > figures["sendable"] > 0
    sendable = figures["sendable"]
    # The database keeps each reader's suppressed mark: a suppression removed, a bulk one added (as the
    # import adds them), a suppression erased (its address emptied), an address changed to a suppressed one.
    first, second = Subscriber.objects.filter(status="active", paused_until=None, suppressed=True).order_by("pk")
    Suppression.objects.filter(email=first.email.lower()).delete()
    assert segment_counts(everyone)["sendable"] == sendable + 1
    others = list(Subscriber.objects.filter(status="active", paused_until=None, suppressed=False).order_by("pk")[:3])
    Suppression.objects.bulk_create(
        [Suppression(email_hash=f"{r.pk:064}", email=r.email.lower(), reason="bounced") for r in others[:2]]
    )
    assert segment_counts(everyone)["sendable"] == sendable + 1 - 2
    Suppression.objects.filter(email=second.email.lower()).update(email="")
    assert segment_counts(everyone)["sendable"] == sendable + 1 - 2 + 1
    # A reader given the suppressed address of a reader who is gone.
    gone = Subscriber.objects.get(pk=others[0].pk)
    address = gone.email
    gone.delete()
    moved = Subscriber.objects.get(pk=others[2].pk)
    moved.email = address.upper()
    moved.save()
    assert Subscriber.objects.get(pk=moved.pk).suppressed
    assert _check_every_rule(lists, tags) == 8 * 7
    # Django saving a stale flag does not change it.
    stale = Subscriber.objects.get(pk=moved.pk)
    stale.suppressed = False
    stale.save()
    assert Subscriber.objects.get(pk=moved.pk).suppressed


def test_other_rules_or_no_list_and_tag_take_the_orm_query(audience: tuple) -> None:
    lists, _ = audience
    assert _membership_counts(SegmentRules(status="active")) is None
    assert _membership_counts(SegmentRules(list_ids=(lists[0].pk,), never_opened=True)) is None
    rules = SegmentRules(list_ids=(lists[0].pk,), received_at_least=1)
    assert _membership_counts(rules) is None and segment_counts(rules) == _orm_counts(rules)
