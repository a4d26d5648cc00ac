"""Engagement rules of segments, answered from deliveries and events, and the per-reader counts.

Registered with subscribers.engagement at start-up. Every rule is an ``EXISTS``
on a partial index that holds only what the rule looks for, so its cost
follows the readers who opened or clicked the sends named, not the size of
the tables:

* opened / clicked any of the last N sends: ``delivery_opened`` /
  ``delivery_clicked`` on (send, subscriber) where opened_at / clicked_at is set;
* clicked any link of an issue: ``delivery_clicked`` for the issue's sends;
* clicked a link: ``event_person_click_url`` on (url's first 300 characters,
  delivery) over people's clicks only.

"Received at least N issues" and "never opened" read fields of the reader
(``received_count``, ``last_engaged_at``): counting each reader's deliveries
at every keystroke of the segment form would read every delivery row. The
count is kept up when a send ends (:func:`send_count_received`, on the
``send.finished`` event, in the send's own transaction) and can be worked out
again from the deliveries (:func:`engagement_recount`, ``manage.py
engagement_recount``).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Left

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


def opened_in_last_sends(n: int) -> Q:
    # A click fills opened_at too (delivery.tracking), so "opened" is "opened or clicked".
    return _in_sends(_last_send_ids(n), "opened_at")


def clicked_in_last_sends(n: int) -> Q:
    return _in_sends(_last_send_ids(n), "clicked_at")


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


def engagement_recount() -> int:
    """Work out every reader's received_count and last_engaged_at again from deliveries and events.

    For a database that had sends before these fields existed, or after a fix by hand.
    Two UPDATEs; how many readers.
    """
    issues = (
        Delivery.objects.filter(subscriber_id=OuterRef("pk"), status=DeliveryStatus.SENT)
        .order_by()
        .values("subscriber_id")
        .annotate(n=Count("send__issue_id", distinct=True))
        .values("n")
    )
    latest = (
        Event.objects.filter(
            delivery__subscriber_id=OuterRef("pk"),
            event_type__in=[Event.Type.OPENED, Event.Type.CLICKED],
            machine="",
        )
        .order_by()
        .values("delivery__subscriber_id")
        .annotate(last=Max("at"))
        .values("last")
    )
    with transaction.atomic():
        changed = Subscriber.objects.update(received_count=Coalesce(Subquery(issues), 0))
        Subscriber.objects.update(last_engaged_at=Subquery(latest))
    return changed


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
