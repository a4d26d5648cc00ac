"""Engagement rules of segments, answered from deliveries and events, and the per-reader fields.

Registered with subscribers.engagement at start-up. The question is always
"which readers", counted live at every change of the segment form, at a
million readers and ten million events, so:

* opened / clicked any of the last N sends: fields of the reader, kept when an
  open or click of a person is recorded (``last_open_send_at`` /
  ``last_click_send_at``: when the newest send they opened / clicked started),
  compared with the start of the Nth newest send. An EXISTS over the
  deliveries of N sends would read a quarter of N audiences each time.
* clicked any link of an issue: EXISTS on ``delivery_clicked``, a partial index
  on (send, subscriber) of clicked deliveries only, for the issue's sends;
* clicked a link: EXISTS on ``event_person_click_url``, (url's first 300
  characters, delivery) over people's clicks only;
* received at least N issues and never opened: fields of the reader
  (``received_count``, ``last_engaged_at``), in subscribers.selectors.

``received_count`` is kept up when a send ends (:func:`send_count_received`, on
the ``send.finished`` event, in the send's own transaction). Every field can be
worked out again from the deliveries and events (:func:`engagement_recount`,
``manage.py engagement_recount``).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Left

from core.events import EventName, listen
from delivery.models import URL_KEY_LENGTH, Delivery, DeliveryStatus, Event, Send, SendStatus
from issues.models import Issue
from issues.rendering import render_email
from subscribers import services as subscriber_services
from subscribers.engagement import EngagementSource, engagement_source_register
from subscribers.models import Subscriber

#: Sent issues the segment form offers, and whose emails are searched for a link.
ISSUES_OFFERED = 200
ISSUES_SEARCHED = 20
LINKS_SUGGESTED = 50


def _went_out() -> Any:
    """Sends that reached readers (or are reaching them now), newest first."""
    return (
        Send.objects.filter(started_at__isnull=False).exclude(status=SendStatus.FAILED).order_by("-started_at", "-id")
    )


def _last_send_ids(n: int) -> list[int]:
    return list(_went_out().values_list("pk", flat=True)[:n])


def _in_sends(send_ids: list[int], stage: str) -> Q:
    rows = Delivery.objects.filter(subscriber_id=OuterRef("pk"), send_id__in=send_ids, **{f"{stage}__isnull": False})
    return Q(Exists(rows))


def _since_nth_send(n: int, field: str) -> Q:
    starts = list(_went_out().values_list("started_at", flat=True)[:n])
    if not starts:
        return Q(pk__in=[])
    return Q(**{f"{field}__gte": starts[-1]})


def opened_in_last_sends(n: int) -> Q:
    # A click is an open too (delivery.tracking), so "opened" is "opened or clicked".
    return _since_nth_send(n, "last_open_send_at")


def clicked_in_last_sends(n: int) -> Q:
    return _since_nth_send(n, "last_click_send_at")


def clicked_issue(issue_id: int) -> Q:
    return _in_sends(list(Send.objects.filter(issue_id=issue_id).values_list("pk", flat=True)), "clicked_at")


def person_clicks(url: str) -> Any:
    """People's clicks on exactly this URL, found through the click index."""
    return (
        Event.objects.annotate(url_key=Left("url", URL_KEY_LENGTH))
        .filter(event_type=Event.Type.CLICKED, machine="", url_key=url[:URL_KEY_LENGTH])
        .filter(url=url)
    )


def clicked_url(url: str) -> Q:
    return Q(Exists(person_clicks(url).filter(delivery__subscriber_id=OuterRef("pk"))))


def sent_issue_choices() -> list[tuple[int, str]]:
    issues = Issue.objects.filter(Exists(_went_out().filter(issue_id=OuterRef("pk"))))
    return [(issue.pk, str(issue)) for issue in issues.order_by("-pk")[:ISSUES_OFFERED]]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.add(href.strip())


def issue_links(issue: Issue) -> set[str]:
    """The links in the issue's email."""
    parser = _Links()
    parser.feed(render_email(issue).html)
    return parser.hrefs


def url_of_sent_issue(url: str) -> bool:
    """True when a reader clicked this URL in a send, or the email of a recent sent issue links to it."""
    if Event.objects.filter(event_type=Event.Type.CLICKED, url=url, send__isnull=False).exists():
        return True
    issue_ids = list(dict.fromkeys(_went_out().values_list("issue_id", flat=True)[: ISSUES_SEARCHED * 5]))
    issues = Issue.objects.in_bulk(issue_ids[:ISSUES_SEARCHED])
    return any(url in issue_links(issue) for issue in issues.values())


def clicked_url_suggestions() -> list[str]:
    send_ids = _last_send_ids(ISSUES_SEARCHED)
    rows = (
        Event.objects.filter(send_id__in=send_ids, event_type=Event.Type.CLICKED, machine="")
        .exclude(url="")
        .values("url")
        .annotate(n=Count("id"))
        .order_by("-n", "url")
    )
    return [row["url"] for row in rows[:LINKS_SUGGESTED]]


def send_count_received(*, send_id: int) -> int:
    """Count the issue as received by each reader the send reached who had not received it before."""
    send = Send.objects.get(pk=send_id)
    before = Delivery.objects.filter(
        subscriber_id=OuterRef("subscriber_id"), send__issue_id=send.issue_id, status=DeliveryStatus.SENT
    ).exclude(send_id=send_id)
    reached = (
        Delivery.objects.filter(send_id=send_id, status=DeliveryStatus.SENT, subscriber_id__isnull=False)
        .exclude(Exists(before))
        .values("subscriber_id")
    )
    return subscriber_services.subscribers_count_received(subscriber_ids=reached)


def _on_send_finished(name: str, payloads: list[Any]) -> None:
    for payload in payloads:
        send_count_received(send_id=int(payload["send_id"]))


#: Per reader, from the deliveries: issues received, and when the newest send they opened / clicked started.
_DELIVERY_FIELDS = """
    UPDATE subscribers_subscriber SET received_count = agg.received, last_open_send_at = agg.open_send,
        last_click_send_at = agg.click_send
    FROM (
        SELECT d.subscriber_id AS reader,
            COUNT(DISTINCT CASE WHEN d.status = 'sent' THEN s.issue_id END) AS received,
            MAX(CASE WHEN d.opened_at IS NOT NULL THEN s.started_at END) AS open_send,
            MAX(CASE WHEN d.clicked_at IS NOT NULL THEN s.started_at END) AS click_send
        FROM delivery_delivery d JOIN delivery_send s ON s.id = d.send_id
        WHERE d.subscriber_id IS NOT NULL
        GROUP BY d.subscriber_id
    ) AS agg
    WHERE subscribers_subscriber.id = agg.reader
"""
#: Per reader, from the events: the last open or click of a person.
_EVENT_FIELDS = """
    UPDATE subscribers_subscriber SET last_engaged_at = agg.engaged
    FROM (
        SELECT d.subscriber_id AS reader, MAX(e.at) AS engaged
        FROM delivery_event e JOIN delivery_delivery d ON d.id = e.delivery_id
        WHERE e.event_type IN ('opened', 'clicked') AND e.machine = '' AND d.subscriber_id IS NOT NULL
        GROUP BY d.subscriber_id
    ) AS agg
    WHERE subscribers_subscriber.id = agg.reader
"""


def engagement_recount() -> int:
    """Work out every reader's engagement fields again from the deliveries and events.

    For a database that had sends before these fields existed, or after a fix by hand.
    Set-based: each table is read once, grouped by reader (three UPDATEs in one
    transaction). Returns how many readers there are.
    """
    with transaction.atomic():
        readers = Subscriber.objects.update(
            received_count=0, last_open_send_at=None, last_click_send_at=None, last_engaged_at=None
        )
        with connection.cursor() as cursor:
            cursor.execute(_DELIVERY_FIELDS)
            cursor.execute(_EVENT_FIELDS)
    return readers


def register() -> None:
    engagement_source_register(
        EngagementSource(
            opened_in_last_sends=opened_in_last_sends,
            clicked_in_last_sends=clicked_in_last_sends,
            clicked_url=clicked_url,
            clicked_issue=clicked_issue,
            sent_issue_choices=sent_issue_choices,
            url_of_sent_issue=url_of_sent_issue,
            clicked_url_suggestions=clicked_url_suggestions,
        )
    )
    listen(_on_send_finished, names=[EventName.SEND_FINISHED])
