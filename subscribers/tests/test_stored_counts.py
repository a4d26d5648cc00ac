"""The lists' and segments' admin pages at sizes where counting on each view is slow: stored counts
(subscribers.counts), taken in one grouped query, shown with their time, taken again by the periodic
task, by the "Count again now" action and when a segment is saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from subscribers import counts
from subscribers.models import ListCount, MailingList, Segment, SegmentCount, Subscriber, SubscriberStatus
from subscribers.tasks import refresh_counts_task
from testing.factories import make_confirmed_reader, make_pending_reader

pytestmark = pytest.mark.django_db

LISTS = "/admin/subscribers/mailinglist/"
SEGMENTS = "/admin/subscribers/segment/"


@pytest.fixture
def editor_client(client: Client, editor: object) -> Client:
    client.force_login(editor)  # type: ignore[arg-type]
    return client


@pytest.fixture
def audience() -> tuple[MailingList, MailingList, MailingList]:
    daily, weekly, empty = (
        MailingList.objects.create(name=name, slug=name.lower()) for name in ("Daily", "Weekly", "Empty")
    )
    for _ in range(3):
        make_confirmed_reader().lists.add(daily, weekly)
    make_pending_reader().lists.add(daily)
    gone = make_confirmed_reader()
    gone.lists.add(daily)
    Subscriber.objects.filter(pk=gone.pk).update(status=SubscriberStatus.INACTIVE)
    return daily, weekly, empty


@pytest.fixture
def stored(settings: Any) -> None:
    # Any reader at all is "many": the pages show stored counts.
    settings.AUDIENCE_COUNT_LIVE_LIMIT = 0


def test_counts_are_live_below_the_limit_and_stored_above_it(settings: Any, audience: Any) -> None:
    if connection.vendor == "postgresql":
        # PostgreSQL's estimate as it would be: an earlier test may have left it at 0 or at thousands.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Subscriber._meta.db_table}")
    settings.AUDIENCE_COUNT_LIVE_LIMIT = 5
    assert counts.counts_live()  # five readers
    settings.AUDIENCE_COUNT_LIVE_LIMIT = 4
    assert not counts.counts_live()
    # Small, the periodic task has nothing to do.
    settings.AUDIENCE_COUNT_LIVE_LIMIT = 100
    assert refresh_counts_task() == 0 and not ListCount.objects.exists()


def test_one_grouped_query_counts_every_list_and_a_list_without_readers_is_zero(audience: Any) -> None:
    daily, weekly, empty = audience
    with CaptureQueriesContext(connection) as queries:
        assert counts.list_counts_refresh() == 3
    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1
    got = {c.mailing_list_id: (c.readers, c.active, c.inactive) for c in ListCount.objects.all()}
    assert got == {daily.pk: (5, 3, 1), weekly.pk: (3, 3, 0), empty.pk: (0, 0, 0)}
    # Counted again after a change: the same rows, new figures.
    make_confirmed_reader().lists.add(empty)
    counts.list_counts_refresh([empty])
    assert ListCount.objects.get(mailing_list=empty).readers == 1 and ListCount.objects.count() == 3


def test_the_lists_page_shows_stored_counts_and_when_they_were_taken(
    editor_client: Client, audience: Any, stored: None
) -> None:
    daily, _, _ = audience
    page = editor_client.get(LISTS).content.decode()
    assert "Readers counted: not yet" in page
    assert refresh_counts_task() == 3 + 0  # three lists, no segment
    with CaptureQueriesContext(connection) as queries:
        page = editor_client.get(LISTS).content.decode()
    # No membership is read on the view: the figures are the stored ones.
    assert not [q for q in queries.captured_queries if "subscribers_subscriber_lists" in q["sql"]]
    assert "Readers counted: " in page and "not yet" not in page and "every 10 minutes" in page
    inactive = f"?lists__id__exact={daily.pk}&amp;status__exact=inactive"
    assert f'{inactive}">1</a>' in page
    # Stale until counted again: a new reader shows after the next count, or at once with the action.
    make_confirmed_reader().lists.add(daily)
    response = editor_client.post(LISTS, {"action": "count_again", ACTION_CHECKBOX_NAME: [str(daily.pk)]}, follow=True)
    assert "Counted the readers of 1 lists." in response.content.decode()
    assert ListCount.objects.get(mailing_list=daily).readers == 6


def test_the_lists_page_counts_live_when_the_readers_are_few(editor_client: Client, audience: Any) -> None:
    daily, _, _ = audience
    page = editor_client.get(LISTS).content.decode()
    assert "Readers counted" not in page and not ListCount.objects.exists()
    assert f'?lists__id__exact={daily.pk}&amp;status__exact=inactive">1</a>' in page


def test_a_saved_segment_is_counted_again_and_the_page_shows_stored_counts(
    editor_client: Client, audience: Any, stored: None, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    daily, weekly, _ = audience
    segment = Segment.objects.create(name="Daily readers")
    segment.lists.add(daily)
    assert counts.segment_counts_refresh() == 1
    assert SegmentCount.objects.get(segment=segment).matching == 5
    assert SegmentCount.objects.get(segment=segment).sendable == 3
    # Saved with other rules: the old count goes, and the task counts it by the new ones.
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            f"{SEGMENTS}{segment.pk}/change/", {"name": "Weekly readers", "lists": [weekly.pk]}
        )
    assert response.status_code == 302
    stored_count = SegmentCount.objects.get(segment=segment)
    assert (stored_count.matching, stored_count.sendable) == (3, 3)
    with CaptureQueriesContext(connection) as queries:
        page = editor_client.get(SEGMENTS).content.decode()
    assert not [q for q in queries.captured_queries if "subscribers_subscriber_lists" in q["sql"]]
    assert "Readers counted: " in page and '<td class="field-matching">3</td>' in page


def test_a_segment_saved_while_the_broker_is_down_waits_for_the_periodic_count(
    editor_client: Client, audience: Any, stored: None, broker_down: Any, django_capture_on_commit_callbacks: Any
) -> None:
    daily, _, _ = audience
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(f"{SEGMENTS}add/", {"name": "Daily", "lists": [daily.pk]})
    assert response.status_code == 302
    segment = Segment.objects.get(name="Daily")
    assert not SegmentCount.objects.filter(segment=segment).exists()
    page = editor_client.get(SEGMENTS).content.decode()
    assert "Readers counted: not yet" in page
    broker_down.end()
    refresh_counts_task()
    assert SegmentCount.objects.get(segment=segment).matching == 5
