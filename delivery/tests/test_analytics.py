"""Analytics pages: the figures on seeded data, CSV, permissions, and a bounded number of queries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from delivery import analytics
from delivery.models import Delivery, DeliveryStatus, Event, Send, SendStatus
from issues.models import Issue, IssueStatus
from subscribers.models import Subscriber, SubscriberStatus
from testing import factories

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
LINK_A = "https://example.org/a-story"
LINK_B = "https://example.org/b-tool"


def seed_send(*, issue: Issue | None = None, prefix: str = "r", start: datetime = START) -> Send:
    """Ten readers: 8 delivered, 5 opened (7 open events), 2 clicked, 1 bounce, 1 complaint, 1 unsubscribe."""
    issue = issue or factories.IssueFactory.create(status=IssueStatus.SENT)
    send = factories.SendFactory.create(
        issue=issue, status=SendStatus.DONE, scheduled_at=start, started_at=start, total=10
    )
    deliveries = []
    for n in range(10):
        reader = factories.make_confirmed_reader(email=f"{prefix}{n}@example.org")
        deliveries.append(
            Delivery.objects.create(
                send=send,
                subscriber=reader,
                email=reader.email,
                status=DeliveryStatus.SENT,
                sent_at=start,
                delivered_at=start + timedelta(minutes=1) if n < 8 else None,
                opened_at=start + timedelta(minutes=10) if n < 5 else None,
                clicked_at=start + timedelta(minutes=100) if n < 2 else None,
                # Readers 5 and 6: only Apple's proxy fetched the images; reader 0 read it after the proxy.
                machine_opened_at=start + timedelta(minutes=1) if n in (0, 5, 6) else None,
            )
        )

    def event(n: int, kind: str, minutes: float, url: str = "", machine: str = "") -> Event:
        item = deliveries[n]
        key = f"{prefix}-{send.pk}-{n}-{kind}-{minutes}-{url}"
        return Event(
            dedupe_key=key,
            delivery=item,
            send=send,
            event_type=kind,
            at=start + timedelta(minutes=minutes),
            recipient=item.email,
            url=url,
            machine=machine,
        )

    events = [event(n, "delivered", 1) for n in range(8)]
    events += [event(n, "opened", 10) for n in range(5)]  # hour +0: 5 opens
    events += [event(n, "opened", 1, machine="apple_mpp") for n in (0, 5, 6)]  # hour +0: 3 machine opens
    events += [event(0, "opened", 90), event(1, "opened", 95)]  # hour +1: 2 opens
    events += [event(0, "opened", 49 * 60)]  # after 48 hours: not charted
    events += [event(0, "clicked", 100, LINK_A), event(0, "clicked", 101, LINK_A), event(1, "clicked", 102, LINK_A)]
    events += [event(1, "clicked", 103, LINK_B)]
    events += [event(9, "bounced", 2), event(9, "bounced", 3), event(7, "deferred", 2)]
    events += [event(3, "complained", 200), event(4, "unsubscribed", 210)]
    Event.objects.bulk_create(events)
    deliveries[3].subscriber.status = SubscriberStatus.COMPLAINED  # type: ignore[union-attr]
    deliveries[3].subscriber.save()  # type: ignore[union-attr]
    return send


def figures_by_key(sends: Any) -> dict[str, analytics.Figure]:
    return {fig.key: fig for fig in analytics.send_figures(sends=sends)}


def test_send_figures_count_each_reader_once_with_rates_of_sent_or_delivered() -> None:
    send = seed_send()

    figs = figures_by_key(Send.objects.filter(pk=send.pk))

    counts = {key: fig.count for key, fig in figs.items()}
    assert counts == {
        "sent": 10,
        "delivered": 8,
        "opened": 5,
        "machine_opened": 2,
        "all_opened": 7,
        "clicked": 2,
        "bounced": 1,
        "deferred": 1,
        "complained": 1,
        "unsubscribed": 1,
        "uncertain": 0,
        "failed": 0,
    }
    assert (figs["delivered"].base, figs["delivered"].percent) == ("sent", "80.0%")
    assert (figs["opened"].base, figs["opened"].percent) == ("delivered", "62.5%")
    assert (figs["clicked"].base, figs["clicked"].percent) == ("delivered", "25.0%")
    assert (figs["bounced"].base, figs["bounced"].percent) == ("sent", "10.0%")
    assert (figs["complained"].base, figs["complained"].percent) == ("delivered", "12.5%")


def test_rates_of_an_empty_send_are_not_a_division_by_zero() -> None:
    send = factories.SendFactory.create()

    figs = figures_by_key(Send.objects.filter(pk=send.pk))

    assert figs["opened"].count == 0 and figs["opened"].rate is None and figs["opened"].percent == "-"


def test_hourly_engagement_covers_48_hours_from_the_start_hour() -> None:
    send = seed_send()
    sends = Send.objects.filter(pk=send.pk)

    rows = analytics.hourly_engagement(sends=sends, start=analytics.sends_start(sends=sends))

    assert len(rows) == 48
    assert rows[0].hour == START
    assert [(r.offset, r.opens, r.clicks) for r in rows if r.opens or r.clicks] == [(0, 5, 0), (1, 2, 4)]
    assert [(r.offset, r.machine_opens) for r in rows if r.machine_opens] == [(0, 3)]


def test_top_links_rank_by_unique_readers() -> None:
    send = seed_send()

    links = analytics.top_links(sends=Send.objects.filter(pk=send.pk))

    assert [(link["url"], link["readers"], link["clicks"]) for link in links] == [(LINK_A, 2, 3), (LINK_B, 1, 1)]


def test_the_send_page_shows_figures_chart_links_readers_and_the_privacy_note(client: Client) -> None:
    send = seed_send()
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:send", args=[send.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "62.5%" in page and "of delivered" in page
    assert "Apple Mail Privacy Protection" in page
    assert 'id="engagement-chart"' in page and 'id="engagement-chart-data"' in page
    assert "delivery/vendor/chartjs/chart.umd.min.js" in page
    assert LINK_A in page
    assert "r9@example.org" in page and "r3@example.org" in page  # bounced and complained readers
    assert "complained" in page


def test_the_issue_page_adds_up_all_its_sends(client: Client) -> None:
    issue = factories.IssueFactory.create(status=IssueStatus.SENT)
    seed_send(issue=issue, prefix="a")
    seed_send(issue=issue, prefix="b", start=START + timedelta(days=1))
    seed_send(prefix="other")
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:issue", args=[issue.pk]))

    assert response.status_code == 200
    figs = {fig.key: fig for fig in response.context["figures"]}
    assert (figs["sent"].count, figs["opened"].count, figs["clicked"].count) == (20, 10, 4)
    assert figs["opened"].percent == "62.5%"
    assert response.context["hourly"][0].opens == 5  # the second send's opens fall on hour +24
    assert response.context["hourly"][24].opens == 5


@pytest.mark.parametrize("table", ["figures", "hourly", "links", "readers"])
def test_every_table_downloads_as_csv(client: Client, table: str) -> None:
    send = seed_send()
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:send", args=[send.pk]), {"csv": table})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    expected = {"figures": 13, "hourly": 49, "links": 3, "readers": 3}[table]
    assert len(rows) == expected
    if table == "hourly":
        assert rows[1][0] == "0" and rows[1][2:] == ["5", "0", "3"]
    if table == "readers":
        assert {row[2] for row in rows[1:]} == {"r9@example.org", "r3@example.org"}


def test_csv_cells_that_a_spreadsheet_would_run_stay_text(client: Client) -> None:
    send = seed_send()
    Event.objects.filter(send=send, event_type="bounced").update(description='=HYPERLINK("http://evil.example")')
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:send", args=[send.pk]), {"csv": "readers"})

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    bounced = next(row for row in rows if row[1] == "bounced")
    assert bounced[5] == '\'=HYPERLINK("http://evil.example")'


def test_analytics_need_staff_and_the_view_send_permission(client: Client) -> None:
    send = seed_send()
    url = reverse("delivery_analytics:send", args=[send.pk])

    assert client.get(url).status_code == 302  # to the admin login
    contributor = factories.make_contributor()
    contributor.is_staff = True
    contributor.save()
    client.force_login(contributor)
    assert client.get(url).status_code == 403
    client.force_login(factories.make_editor())
    assert client.get(url).status_code == 200


def test_the_index_lists_sends_with_links(client: Client) -> None:
    send = seed_send()
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:index"))

    assert reverse("delivery_analytics:send", args=[send.pk]) in response.content.decode()


def test_the_index_shows_events_that_matched_no_delivery(client: Client) -> None:
    seed_send()
    Event.objects.create(
        dedupe_key="stray-1",
        event_type="bounced",
        at=START,
        recipient="stranger@elsewhere.example",
        message_id="<not-ours@mg.example>",
        esp_name="Mailgun",
        description="550 5.1.1 no such user",
    )
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:index"))
    download = client.get(reverse("delivery_analytics:index"), {"csv": "unmatched"})

    page = response.content.decode()
    assert "1 event named a message this site cannot find" in page
    assert "stranger@elsewhere.example" in page and "&lt;not-ours@mg.example&gt;" in page
    assert "r9@example.org" not in page  # matched events are not listed
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))  # type: ignore[attr-defined]
    assert [row[3:5] for row in rows[1:]] == [["bounced", "stranger@elsewhere.example"]]


def test_the_index_says_when_every_event_found_its_delivery(client: Client) -> None:
    seed_send()
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:index"))

    assert "every provider event found its delivery" in response.content.decode()


def test_the_issue_page_says_web_page_views_are_not_counted(client: Client) -> None:
    send = seed_send()
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:issue", args=[send.issue_id]))

    assert "Visits to the issue's web page are not counted" in response.content.decode()


def test_more_bounced_readers_than_shown_says_how_many(client: Client) -> None:
    send = seed_send()
    delivery = send.deliveries.first()
    Event.objects.bulk_create(
        Event(
            dedupe_key=f"many-{n}",
            delivery=delivery,
            send=send,
            event_type="bounced",
            at=START,
            recipient=f"x{n}@e.org",
        )
        for n in range(analytics.READERS_SHOWN + 5)
    )
    client.force_login(factories.make_editor())

    response = client.get(reverse("delivery_analytics:send", args=[send.pk]))

    assert response.context["reader_total"] == analytics.READERS_SHOWN + 5 + 2
    assert f"Showing the newest {analytics.READERS_SHOWN} of {analytics.READERS_SHOWN + 7} readers" in (
        response.content.decode()
    )


def test_audience_counts_joined_confirmed_and_left_per_day_by_list(client: Client) -> None:
    today = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    news = factories.MailingListFactory.create(name="News", slug="news")
    other = factories.MailingListFactory.create(name="Other", slug="other")
    readers = [factories.SubscriberFactory.create(lists=[news]) for _ in range(3)]
    outsider = factories.SubscriberFactory.create(lists=[other])
    Subscriber.objects.filter(pk__in=[r.pk for r in readers] + [outsider.pk]).update(
        created_at=today - timedelta(days=2), confirmed_at=today - timedelta(days=1)
    )
    Subscriber.objects.filter(pk=readers[0].pk).update(status=SubscriberStatus.UNSUBSCRIBED, unsubscribed_at=today)

    rows = analytics.audience_daily(days=30, mailing_list=news, today=today.date())

    by_day = {row.day: (row.joined, row.confirmed, row.left) for row in rows if row.joined or row.confirmed or row.left}
    assert by_day == {
        (today - timedelta(days=2)).date(): (3, 0, 0),
        (today - timedelta(days=1)).date(): (0, 3, 0),
        today.date(): (0, 0, 1),
    }
    assert len(rows) == 30


def test_the_audience_page_draws_a_chart_and_downloads_csv(client: Client) -> None:
    news = factories.MailingListFactory.create(name="News", slug="news")
    factories.SubscriberFactory.create(lists=[news])
    client.force_login(factories.make_editor())
    url = reverse("delivery_analytics:audience")

    page = client.get(url, {"list": "news", "days": "30"})
    download = client.get(url, {"list": "news", "days": "30", "csv": "daily"})

    assert page.status_code == 200 and 'id="audience-chart"' in page.content.decode()
    assert page.context["totals"]["joined"] == 1
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0] == ["day", "joined", "confirmed", "left"] and len(rows) == 31
    assert sum(int(row[1]) for row in rows[1:]) == 1


def add_open_events(send: Send, count: int) -> None:
    delivery = send.deliveries.first()
    Event.objects.bulk_create(
        Event(
            dedupe_key=f"bulk-{send.pk}-{n}",
            delivery=delivery,
            send=send,
            event_type="opened" if n % 3 else "clicked",
            at=START + timedelta(minutes=n % (47 * 60)),
            url=f"https://example.org/link-{n % 25}" if n % 3 == 0 else "",
        )
        for n in range(count)
    )


def page_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_send_page_runs_the_same_few_queries_for_10_or_1000_events(client: Client) -> None:
    small, large = seed_send(prefix="s"), seed_send(prefix="l")
    add_open_events(small, 10)
    add_open_events(large, 1000)
    client.force_login(factories.make_editor())
    small_url = reverse("delivery_analytics:send", args=[small.pk])
    large_url = reverse("delivery_analytics:send", args=[large.pk])
    page_queries(client, small_url)  # warm the session and the content-type cache

    with_10, with_1000 = page_queries(client, small_url), page_queries(client, large_url)

    assert with_10 == with_1000
    assert with_1000 <= 12


def test_the_issue_page_queries_do_not_grow_with_events(client: Client) -> None:
    small, large = seed_send(prefix="s"), seed_send(prefix="l")
    add_open_events(large, 1000)
    client.force_login(factories.make_editor())
    page_queries(client, reverse("delivery_analytics:issue", args=[small.issue_id]))

    small_count = page_queries(client, reverse("delivery_analytics:issue", args=[small.issue_id]))
    large_count = page_queries(client, reverse("delivery_analytics:issue", args=[large.issue_id]))

    assert small_count == large_count


def test_the_audience_page_queries_do_not_grow_with_readers(client: Client) -> None:
    news = factories.MailingListFactory.create(name="News", slug="news")
    client.force_login(factories.make_editor())
    url = reverse("delivery_analytics:audience")
    factories.SubscriberFactory.create(lists=[news])
    page_queries(client, url + "?list=news")
    few = page_queries(client, url + "?list=news")

    for _ in range(30):
        factories.SubscriberFactory.create(lists=[news])
    many = page_queries(client, url + "?list=news")

    assert few == many
