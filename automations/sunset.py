"""The lists' sunset policy: readers who stopped opening are asked once, then moved to inactive.

A list with the policy on (MailingList.sunset_enabled) names N sends and D days. The
beat task (``sunset_apply``) does, with a few set-based statements per list:

1. **Notice.** Active readers of the list who received each of its last N sends and
   opened or clicked none of them (``last_engaged_at``: people only, machine opens
   never count) enter the re-engagement sequence, the one system sequence with the
   trigger "sunset" (its first step has a "keep me subscribed" button), and get a
   SunsetNotice. A reader noticed since those N sends began waits for N new ones.
2. **Settle.** A waiting reader who opened or clicked again is settled as engaged; one
   who unsubscribed or was suppressed meanwhile, as left. The button
   (subscribers.views.keep, a POST) settles them as kept, through the
   ``subscriber.kept`` event (``on_kept``).
3. **Move.** A waiting reader whose re-engagement email went out D days ago or more
   becomes ``inactive``: issue sends and sequence steps select active readers only, and
   their runs of other sequences end. An editor reactivates them in the admin (the
   action or the reader's page), and the reader by the same button or their
   preferences page; either settles the notice as reactivated.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from automations import services
from automations.models import NoticeOutcome, Run, RunStatus, Sequence, Step, StepDelivery, SunsetNotice, Trigger
from core.events import EventName, Payload, emit_many, listen
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from subscribers.models import MailingList, Subscriber, SubscriberStatus

EXIT_INACTIVE = "Moved to inactive (sunset policy)"
EXIT_ANSWERED = "Answered the re-engagement email"
SENT_STATES = [DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN]

SUNSET_NAME = "Re-engagement (sunset policy)"
SUNSET_SUBJECT = "Do you still want {publisher} in your inbox?"
SUNSET_PREHEADER = "One click keeps your subscription; otherwise we will stop sending for now."
SUNSET_BODY = (
    "<p>Our last few issues of {publisher} have gone unopened, so we would like to check in "
    "before sending you more.</p>"
    "<p>If you still want them, press the button below and nothing changes. If we do not hear from you, "
    "we will stop sending to this address in a couple of weeks. You can come back whenever you like "
    "from the subscribe form or your preferences page.</p>"
)


@dataclass(frozen=True)
class SunsetResult:
    noticed: int = 0
    engaged: int = 0
    left: int = 0
    moved: int = 0


@transaction.atomic
def sunset_sequence_ensure() -> Sequence:
    """The re-engagement sequence the policies use (one step, editable in the admin), made if missing."""
    found = Sequence.objects.filter(trigger=Trigger.SUNSET).first()
    if found is not None:
        return found
    publisher = settings.PUBLISHER_NAME
    name = SUNSET_NAME if not Sequence.objects.filter(name=SUNSET_NAME).exists() else f"{SUNSET_NAME} (built in)"
    sequence = Sequence.objects.create(name=name, trigger=Trigger.SUNSET, allow_reentry=True)
    Step.objects.create(
        sequence=sequence,
        position=0,
        subject=SUNSET_SUBJECT.format(publisher=publisher),
        preheader=SUNSET_PREHEADER,
        body=SUNSET_BODY.format(publisher=publisher),
        delay_value=0,
        delay_unit="minutes",
    )
    services.step_versions_sync(sequence=sequence)
    return sequence


def sunset_apply(*, now: datetime.datetime | None = None) -> SunsetResult:
    """One pass of every list's policy (the beat task); see the module's text."""
    now = now or timezone.now()
    lists = list(MailingList.objects.filter(sunset_enabled=True))
    with transaction.atomic():
        engaged, left = _settle(now)
    moved = 0
    for mailing_list in lists:
        with transaction.atomic():
            moved += _move(mailing_list, now)
    noticed = 0
    if lists:
        sequence = sunset_sequence_ensure()
        for mailing_list in lists:
            with transaction.atomic():
                noticed += _notice(mailing_list, sequence, now)
    return SunsetResult(noticed=noticed, engaged=engaged, left=left, moved=moved)


def sunset_candidates(mailing_list: MailingList) -> Q | None:
    """Readers of the list the policy would notice now, as a condition on Subscriber (None: nobody yet)."""
    sends = (
        Send.objects.filter(lists=mailing_list, started_at__isnull=False)
        .exclude(status=SendStatus.FAILED)
        .order_by("-started_at", "-id")
        .values_list("pk", "started_at")[: mailing_list.sunset_after_sends]
    )
    last = list(sends)
    if len(last) < mailing_list.sunset_after_sends:
        return None
    send_ids, oldest = [pk for pk, _ in last], last[-1][1]
    received_all = (
        Delivery.objects.filter(send_id__in=send_ids, status__in=SENT_STATES, subscriber__isnull=False)
        .values("subscriber_id")
        # One row per (send, reader) (delivery_once_per_reader): a plain count, no DISTINCT's sort.
        .annotate(n=Count("pk"))
        .filter(n__gte=len(send_ids))
        .values("subscriber_id")
    )
    recent_notice = SunsetNotice.objects.filter(subscriber=OuterRef("pk")).filter(
        Q(created_at__gte=oldest) | Q(outcome=NoticeOutcome.WAITING)
    )
    return (
        Q(status=SubscriberStatus.ACTIVE, lists=mailing_list, pk__in=received_all)
        & (Q(last_engaged_at__isnull=True) | Q(last_engaged_at__lt=oldest))
        & ~Q(Exists(recent_notice))
    )


def _notice(mailing_list: MailingList, sequence: Sequence, now: datetime.datetime) -> int:
    condition = sunset_candidates(mailing_list)
    if condition is None or not sequence.steps.exists():
        return 0
    ids = list(Subscriber.objects.filter(condition).values_list("pk", flat=True))
    if not ids:
        return 0
    # Readers still in an earlier run of it (an editor's longer sequence) are noticed when it ends.
    busy = set(
        Run.objects.filter(sequence=sequence, status=RunStatus.ACTIVE, subscriber_id__in=ids).values_list(
            "subscriber_id", flat=True
        )
    )
    ids = [pk for pk in ids if pk not in busy]
    services.runs_enter(sequence=sequence, subscriber_ids=ids, now=now)
    runs = dict(
        Run.objects.filter(
            sequence=sequence, status=RunStatus.ACTIVE, subscriber_id__in=ids, entered_at=now
        ).values_list("subscriber_id", "pk")
    )
    notices = [
        SunsetNotice(subscriber_id=pk, mailing_list=mailing_list, run_id=run, created_at=now)
        for pk, run in runs.items()
    ]
    SunsetNotice.objects.bulk_create(notices, ignore_conflicts=True, batch_size=2000)
    return len(notices)


def _settle(now: datetime.datetime) -> tuple[int, int]:
    """Waiting readers who opened or clicked again (engaged) or left the publication meanwhile (left)."""
    waiting = SunsetNotice.objects.filter(outcome=NoticeOutcome.WAITING)
    engaged_ids = list(
        waiting.filter(subscriber__last_engaged_at__gt=F("created_at")).values_list("subscriber_id", flat=True)
    )
    engaged = waiting.filter(subscriber_id__in=engaged_ids).update(outcome=NoticeOutcome.ENGAGED, decided_at=now)
    _end_sunset_runs(engaged_ids, reason=EXIT_ANSWERED)
    left = waiting.exclude(subscriber__status=SubscriberStatus.ACTIVE).update(
        outcome=NoticeOutcome.LEFT, decided_at=now
    )
    return engaged, left


def _move(mailing_list: MailingList, now: datetime.datetime) -> int:
    """Waiting readers of this list whose re-engagement email went out D days ago become inactive."""
    cutoff = now - datetime.timedelta(days=mailing_list.sunset_grace_days)
    went_out = StepDelivery.objects.filter(run=OuterRef("run"), status__in=SENT_STATES, sent_at__lte=cutoff)
    due = SunsetNotice.objects.filter(mailing_list=mailing_list, outcome=NoticeOutcome.WAITING).filter(Exists(went_out))
    ids = list(due.values_list("subscriber_id", flat=True))
    if not ids:
        return 0
    moved = list(Subscriber.objects.filter(pk__in=ids, status=SubscriberStatus.ACTIVE).values_list("pk", flat=True))
    Subscriber.objects.filter(pk__in=moved).update(status=SubscriberStatus.INACTIVE)
    SunsetNotice.objects.filter(outcome=NoticeOutcome.WAITING, subscriber_id__in=moved).update(
        outcome=NoticeOutcome.INACTIVE, decided_at=now
    )
    # Their other sequences end as an unsubscribe ends them: steps would be skipped one by one.
    services.runs_exit(subscriber_ids=moved, reason=EXIT_INACTIVE)
    emit_many(
        EventName.SUBSCRIBER_INACTIVE,
        [{"subscriber_id": pk, "list_id": mailing_list.pk, "via": "sunset policy"} for pk in moved],
    )
    return len(moved)


def _end_sunset_runs(subscriber_ids: Iterable[int], *, reason: str) -> None:
    runs = Run.objects.filter(
        sequence__trigger=Trigger.SUNSET, status=RunStatus.ACTIVE, subscriber_id__in=list(subscriber_ids)
    )
    services.end_runs(runs, status=RunStatus.DONE, reason=reason)


def on_kept(name: str, payloads: list[Payload]) -> None:
    """ "Keep me subscribed", or an editor's reactivation: the reader's notices are settled."""
    now = timezone.now()
    ids = [int(p["subscriber_id"]) for p in payloads]
    SunsetNotice.objects.filter(subscriber_id__in=ids, outcome=NoticeOutcome.WAITING).update(
        outcome=NoticeOutcome.KEPT, decided_at=now
    )
    SunsetNotice.objects.filter(subscriber_id__in=ids, outcome=NoticeOutcome.INACTIVE).update(
        outcome=NoticeOutcome.REACTIVATED, decided_at=now
    )
    _end_sunset_runs(ids, reason=EXIT_ANSWERED)


def register() -> None:
    listen(on_kept, names=[EventName.SUBSCRIBER_KEPT])
