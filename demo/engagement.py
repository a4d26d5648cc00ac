"""Demo readers' history: the sent issue's send, its opens and clicks, and segments on them.

So that an editor who runs ``make run`` sees the analytics page with people's
and machines' opens apart, and engagement segments that match someone. The
history is made up (no provider was called) and made once: if the sent issue
has a send already, nothing is added.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from delivery.engagement import engagement_recount
from delivery.machine import MachineKind
from delivery.models import Delivery, DeliveryStatus, Event, Send, SendStatus
from demo import content
from issues.models import Issue
from subscribers.models import Consent, MailingList, Segment, Subscriber, SubscriberSource, SubscriberStatus

NAMES = [
    "Abebe", "Beatriz", "Cem", "Dana", "Emeka", "Freya", "Goran", "Hana", "Iker", "Jun", "Kofi", "Lena",
    "Mateo", "Nia", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tala", "Umar", "Vera", "Wim", "Xiu",
    "Yara", "Zeno", "Alba", "Bo", "Chen", "Dilan", "Eda", "Femi", "Gia", "Hugo", "Ines", "Jonas",
]  # fmt: skip
APPLE_PROXY = "Mozilla/5.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
SCANNER = "Mimecast URL Protect"
STORY = "https://example.com/larchmont/sparrow-3b"
OTHER_LINKS = ["https://example.org/halcyon/open-evals", "https://example.net/westmere/ai-guidance"]


def _readers() -> list[Subscriber]:
    """The demo's readers of the daily digest, with three dozen more so that the figures mean something."""
    daily = MailingList.objects.get(slug="daily-digest")
    now = timezone.now()
    for n, name in enumerate(NAMES):
        email = f"{name.lower()}.reader{n}@example.org"
        if Subscriber.objects.filter(email__iexact=email).exists():
            continue
        reader = Subscriber.objects.create(
            email=email,
            name=name,
            status=SubscriberStatus.ACTIVE,
            source=SubscriberSource.IMPORT,
            confirmed_at=now - timedelta(days=30),
        )
        reader.lists.add(daily)
        Consent.objects.create(
            subscriber=reader, action=Consent.Action.IMPORT, form="load_demo", text="Demo reader; not a real person."
        )
    return list(Subscriber.objects.filter(status=SubscriberStatus.ACTIVE, lists=daily).order_by("pk"))


def _event(row: Delivery, kind: str, at: datetime, *, agent: str = "", url: str = "", machine: str = "") -> Event:
    return Event(
        dedupe_key=f"demo:{row.pk}:{kind}:{url}:{machine}",
        delivery=row,
        send_id=row.send_id,
        event_type=kind,
        at=at,
        recipient=row.email,
        esp_name="demo",
        url=url,
        user_agent=agent,
        machine=machine,
    )


def _history(send: Send, readers: list[Subscriber]) -> None:
    """Of the readers: a third on Apple Mail (the proxy opens at once), some open, fewer click, a scanner clicks."""
    start = send.started_at
    assert start is not None
    rows = Delivery.objects.bulk_create(
        Delivery(
            send=send,
            subscriber=reader,
            email=reader.email,
            status=DeliveryStatus.SENT,
            sent_at=start,
            delivered_at=start + timedelta(seconds=20),
            provider_message_id=f"<demo-{send.pk}-{reader.pk}@newsroom.test>",
        )
        for reader in readers
    )
    chance = random.Random(send.pk)
    events: list[Event] = []
    for n, row in enumerate(rows):
        delivered = start + timedelta(seconds=20)
        events.append(_event(row, "delivered", delivered))
        if n % 3 == 0:  # Apple Mail with Privacy Protection: a machine open within seconds of delivery
            row.machine_opened_at = delivered + timedelta(seconds=5)
            events.append(
                _event(row, "opened", row.machine_opened_at, agent=APPLE_PROXY, machine=MachineKind.APPLE_MPP)
            )
        if n % 2 == 0:  # half of the readers open it themselves, over the first two days
            opened = start + timedelta(minutes=chance.randint(20, 2 * 24 * 60))
            row.opened_at = opened
            events.append(_event(row, "opened", opened, agent=IPHONE if n % 3 == 0 else DESKTOP))
            if n % 4 == 0:
                url = STORY if n % 8 == 0 else chance.choice(OTHER_LINKS)
                row.clicked_at = opened + timedelta(minutes=2)
                events.append(_event(row, "clicked", row.clicked_at, agent=DESKTOP, url=url))
        if n % 11 == 5:  # a company's gateway follows every link before its reader sees the message
            events.append(_event(row, "clicked", delivered + timedelta(seconds=3), agent=SCANNER, url=STORY,
                                 machine=MachineKind.SCANNER))  # fmt: skip
            row.machine_opened_at = row.machine_opened_at or delivered + timedelta(seconds=3)
    Delivery.objects.bulk_update(rows, ["opened_at", "clicked_at", "machine_opened_at"])
    Event.objects.bulk_create(events)


def _segments(issue: Issue) -> list[str]:
    wanted: list[tuple[str, dict[str, Any]]] = [
        ("Opened the last send", {"opened_in_last_sends": 1}),
        (f"Clicked a link of “{issue.title}”"[:100], {"clicked_issue": issue.pk}),
        ("Clicked the Sparrow-3B story", {"clicked_url": STORY}),
        ("Never opened (machine opens only, or none)", {"never_opened": True, "received_at_least": 1}),
    ]
    made = []
    for name, rules in wanted:
        _, new = Segment.objects.get_or_create(name=name, defaults=rules)
        if new:
            made.append(f"segment {name!r}")
    return made


def engagement_ensure() -> list[str]:
    """The sent issue's send to the daily digest's readers, three days ago, with its opens and clicks."""
    issue = Issue.objects.filter(slug=content.SENT_ISSUE["slug"]).first()
    if issue is None or issue.sends.exists():
        return []
    with transaction.atomic():
        readers = _readers()
        start = (issue.publish_date or timezone.now() - timedelta(days=3)).replace(second=0, microsecond=0)
        send = Send.objects.create(
            issue=issue,
            scheduled_at=start,
            started_at=start,
            finished_at=start + timedelta(minutes=1),
            status=SendStatus.DONE,
            total=len(readers),
            audience_key="demo",
        )
        send.lists.add(MailingList.objects.get(slug="daily-digest"))
        _history(send, readers)
        engagement_recount()
        made = [f"a send of {issue.title!r} to {len(readers)} readers, with opens and clicks"]
        return made + _segments(issue)


def sunset_ensure() -> list[str]:
    """The daily digest's sunset policy, on: after 1 send without an open or click, 14 days to answer.

    Once: one reader who never answered is inactive already (so the filter, the list's figures and
    "Reactivate" have someone to show), and the policy runs once, so the readers who did not open
    the demo send get the re-engagement email in the dev outbox (Automations → Sunset notices)."""
    from automations.models import NoticeOutcome, SunsetNotice
    from automations.sunset import sunset_apply, sunset_sequence_ensure
    from core.queue import TaskQueueUnavailable

    daily = MailingList.objects.get(slug="daily-digest")
    if daily.sunset_enabled or SunsetNotice.objects.exists():
        return []
    made = []
    with transaction.atomic():
        MailingList.objects.filter(pk=daily.pk).update(sunset_enabled=True, sunset_after_sends=1, sunset_grace_days=14)
        sunset_sequence_ensure()
        # A reader who has opened nothing, asked two weeks ago, moved yesterday.
        quiet = (
            Subscriber.objects.filter(lists=daily, status=SubscriberStatus.ACTIVE, last_engaged_at__isnull=True)
            .filter(deliveries__isnull=False)
            .order_by("pk")
            .last()
        )
        if quiet is not None:
            now = timezone.now()
            Subscriber.objects.filter(pk=quiet.pk).update(status=SubscriberStatus.INACTIVE)
            SunsetNotice.objects.create(
                subscriber=quiet,
                mailing_list=daily,
                outcome=NoticeOutcome.INACTIVE,
                created_at=now - timedelta(days=15),
                decided_at=now - timedelta(days=1),
            )
            made.append(f"inactive reader {quiet.email}")
    try:
        result = sunset_apply()
    except TaskQueueUnavailable:
        # Stored all the same: the worker's poll sends the re-engagement emails once the queue is back.
        result = None
    made.append("sunset policy on the daily digest" + (f" ({result.noticed} readers asked)" if result else ""))
    return made
