from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from subscribers.models import Segment, Subscriber, SubscriberTag, Suppression
from subscribers.selectors import SegmentRules, segment_count, segment_counts, segment_filter, sendable_subscribers
from testing.factories import MailingListFactory, make_confirmed_reader, make_pending_reader

pytestmark = pytest.mark.django_db


def test_sendable_excludes_pending_paused_and_suppressed_readers() -> None:
    active = make_confirmed_reader()
    make_pending_reader()
    make_confirmed_reader(paused_until=timezone.localdate() + datetime.timedelta(days=3))
    pause_over = make_confirmed_reader(paused_until=timezone.localdate())
    suppressed = make_confirmed_reader(email="Blocked@Example.org")
    Suppression.objects.create(email="blocked@example.org", email_hash="x" * 64, reason=Suppression.Reason.MANUAL)
    assert set(sendable_subscribers()) == {active, pause_over}
    assert suppressed not in sendable_subscribers()


def test_sendable_in_several_lists_lists_each_reader_once() -> None:
    a, b, c = MailingListFactory.create(), MailingListFactory.create(), MailingListFactory.create()
    both = make_confirmed_reader(lists=[a, b])
    only_c = make_confirmed_reader(lists=[c])
    result = list(sendable_subscribers(lists=[a, b]))
    assert result == [both]
    assert only_c not in result
    assert sendable_subscribers(lists=[a.pk, b.pk, c.pk]).count() == 2


def test_a_segment_filters_by_list_tag_signup_date_and_engagement() -> None:
    daily = MailingListFactory.create()
    vip = SubscriberTag.objects.create(name="vip")
    engaged = make_confirmed_reader(lists=[daily], last_engaged_at=timezone.now())
    engaged.tags.add(vip)
    stale = make_confirmed_reader(lists=[daily], last_engaged_at=timezone.now() - datetime.timedelta(days=90))
    stale.tags.add(vip)
    make_confirmed_reader(lists=[daily])
    segment = Segment.objects.create(name="Engaged VIPs", engaged_within_days=30)
    segment.lists.add(daily)
    segment.tags.add(vip)
    assert list(sendable_subscribers(segment=segment)) == [engaged]
    assert segment_count(segment) == 1
    Subscriber.objects.filter(pk=engaged.pk).update(created_at=timezone.now() - datetime.timedelta(days=10))
    segment.signed_up_after = timezone.localdate() - datetime.timedelta(days=5)
    segment.save()
    assert segment_count(segment) == 0


def test_a_segment_by_status_and_inactivity_counts_readers_a_send_would_not_reach() -> None:
    never = make_pending_reader()
    make_pending_reader(last_engaged_at=timezone.now())
    quiet = make_confirmed_reader(last_engaged_at=timezone.now() - datetime.timedelta(days=120))
    make_confirmed_reader(last_engaged_at=timezone.now())
    pending_quiet = Segment.objects.create(name="Pending, never opened", status="pending", inactive_for_days=90)
    assert set(Subscriber.objects.filter(segment_filter(pending_quiet))) == {never}
    # A send only reaches active readers, so this segment reaches nobody.
    assert segment_count(pending_quiet) == 0
    lapsed = Segment.objects.create(name="Lapsed", inactive_for_days=90)
    assert segment_counts(SegmentRules.of(lapsed)) == {"matching": 2, "sendable": 1}
    assert list(sendable_subscribers(segment=lapsed)) == [quiet]


def test_unsaved_rules_count_like_the_saved_segment() -> None:
    daily = MailingListFactory.create()
    make_confirmed_reader(lists=[daily])
    make_pending_reader(lists=[daily])
    make_confirmed_reader()
    assert segment_counts(SegmentRules(list_ids=(daily.pk,))) == {"matching": 2, "sendable": 1}
    assert segment_counts(SegmentRules(list_ids=(daily.pk,), status="pending")) == {"matching": 1, "sendable": 0}
    assert segment_counts(SegmentRules()) == {"matching": 3, "sendable": 2}
