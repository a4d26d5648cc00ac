"""Writes over sequences: readers entering and leaving, an editor's pause, resume and stop,
and the snapshot of each step's content. The sending path is automations.pipeline."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from automations import schedule
from automations.models import (
    PausePolicy,
    Run,
    RunStatus,
    Sequence,
    SequenceStatus,
    Step,
    StepDelivery,
    StepVersion,
    Trigger,
)
from core.queue import enqueue_on_commit
from core.sanitize import sanitize_html
from delivery.models import DeliveryStatus
from subscribers.models import Subscriber
from subscribers.selectors import segment_filter, sendable_subscribers

# Exit reasons, as the runs list shows them.
EXIT_UNSUBSCRIBED = "Unsubscribed"
EXIT_SUPPRESSED = "Suppressed (bounced or complained)"
EXIT_ERASED = "Erased"
EXIT_LEFT_LIST = "Left the trigger list"
EXIT_LEFT_SEGMENT = "Left the trigger segment"
STOPPED_BY_EDITOR = "Stopped by an editor"
SKIPPED_WHILE_PAUSED = "Came due while the sequence was paused; skipped on resume."


def _check_perm(acting_user: Any) -> None:
    if acting_user is not None and not acting_user.has_perm("automations.change_sequence"):
        raise PermissionDenied("You may not change sequences.")


# --- content -----------------------------------------------------------------------


def step_versions_sync(*, sequence: Sequence) -> int:
    """Give every step whose content changed a new version; returns how many were made.

    Readers given a step keep the version they were given (StepDelivery.version); readers
    who have not reached it yet get the new one."""
    made = 0
    for step in sequence.steps.select_related("current_version"):
        step.body = sanitize_html(step.body)
        current = step.current_version
        content = (step.subject, step.preheader, step.body)
        if current is not None and (current.subject, current.preheader, current.body) == content:
            continue
        number = (current.number if current else 0) + 1
        version = StepVersion.objects.create(
            step=step, number=number, subject=step.subject, preheader=step.preheader, body=step.body
        )
        Step.objects.filter(pk=step.pk).update(current_version=version, body=step.body)
        made += 1
    return made


def sequence_steps(sequence_id: int) -> list[Step]:
    return list(Step.objects.filter(sequence_id=sequence_id).order_by("position", "id"))


def step_after(steps: list[Step], step_id: int | None) -> Step | None:
    """The step after ``step_id`` in ``steps`` (the first when None), or None at the end."""
    if step_id is None:
        return steps[0] if steps else None
    ids = [s.pk for s in steps]
    index = ids.index(step_id) if step_id in ids else len(ids)
    return steps[index + 1] if index + 1 < len(steps) else None


# --- entering ----------------------------------------------------------------------


def runs_enter(*, sequence: Sequence, subscriber_ids: Iterable[int], now: datetime.datetime | None = None) -> int:
    """Put these readers into the sequence at its first step; returns how many entered.

    A reader enters once, unless the sequence allows re-entry (then once more after each
    run ends); a reader already in it is left where they are. Runs the caller's transaction."""
    ids = set(subscriber_ids)
    steps = sequence_steps(sequence.pk)
    if not ids or not steps:
        return 0
    now = now or timezone.now()
    had = Run.objects.filter(sequence=sequence, subscriber_id__in=ids)
    if sequence.allow_reentry:
        had = had.filter(status=RunStatus.ACTIVE)
    ids -= set(had.values_list("subscriber_id", flat=True))
    first = steps[0]
    due = schedule.step_due(first, after=now)
    runs = [
        Run(sequence=sequence, subscriber_id=pk, current_step=first, next_due_at=due, entered_at=now)
        for pk in sorted(ids)
    ]
    # The partial unique index (one active run per reader) settles two entries at once.
    Run.objects.bulk_create(runs, ignore_conflicts=True, batch_size=2000)
    if runs and due <= now and sequence.status == SequenceStatus.ACTIVE:
        _poll_soon()
    return len(runs)


def _poll_soon() -> None:
    """A step due at once (a welcome) goes at once, not at the next poll: ask for a poll after the commit.

    If the queue is down the caller gets TaskQueueUnavailable after the commit; the run is
    stored, so the beat's poll sends the step once the queue is back."""
    from automations.tasks import send_due_steps

    enqueue_on_commit(
        lambda: send_due_steps.delay(),
        message="We could not send the first email just now; it will follow once our mail queue is back.",
    )


def runs_enter_on_trigger(
    *, trigger: str, subscriber_ids: list[int], list_ids: Iterable[int] = (), tag_id: int | None = None
) -> int:
    """Readers enter every sequence (active or paused) whose trigger this is."""
    sequences = Sequence.objects.filter(trigger=trigger)
    if trigger == Trigger.LIST_CONFIRMED:
        lists = list(list_ids)
        sequences = sequences.filter(trigger_list__isnull=True) | sequences.filter(trigger_list__in=lists)
    elif trigger == Trigger.TAG_ADDED:
        sequences = sequences.filter(trigger_tag_id=tag_id)
    return sum(runs_enter(sequence=s, subscriber_ids=subscriber_ids) for s in sequences)


def segment_triggers_check(*, now: datetime.datetime | None = None) -> int:
    """Readers who joined a trigger segment since the last check enter its sequence; returns how many.

    One INSERT ... SELECT per sequence: sendable segment members with no run of it (no active
    run, with re-entry). A reader who was in the segment when the sequence was made enters too.
    Readers who left the segment since the last check leave the sequence (one UPDATE)."""
    now = now or timezone.now()
    entered = 0
    for sequence in Sequence.objects.filter(trigger=Trigger.SEGMENT_JOINED).select_related("trigger_segment"):
        if sequence.trigger_segment is None:
            continue
        members = Subscriber.objects.filter(segment_filter(sequence.trigger_segment))
        with transaction.atomic():
            left = Run.objects.filter(sequence=sequence, status=RunStatus.ACTIVE).exclude(
                Exists(members.filter(pk=OuterRef("subscriber_id")))
            )
            _end(left, status=RunStatus.EXITED, reason=EXIT_LEFT_SEGMENT)
        steps = sequence_steps(sequence.pk)
        if not steps:
            continue
        runs = Run.objects.filter(sequence=sequence, subscriber=OuterRef("pk"))
        if sequence.allow_reentry:
            runs = runs.filter(status=RunStatus.ACTIVE)
        members = sendable_subscribers(segment=sequence.trigger_segment).exclude(Exists(runs))
        with transaction.atomic():
            entered += runs_enter(sequence=sequence, subscriber_ids=members.values_list("pk", flat=True), now=now)
    return entered


# --- leaving -----------------------------------------------------------------------


def runs_exit(*, subscriber_ids: Iterable[int], reason: str, list_ids: Iterable[int] | None = None) -> int:
    """End the active runs of these readers (only of sequences triggered on ``list_ids``, if given)."""
    runs = Run.objects.filter(subscriber_id__in=list(subscriber_ids), status=RunStatus.ACTIVE)
    if list_ids is not None:
        runs = runs.filter(sequence__trigger=Trigger.LIST_CONFIRMED, sequence__trigger_list__in=list(list_ids))
    return _end(runs, status=RunStatus.EXITED, reason=reason)


def end_runs(runs: QuerySet[Run], *, status: str, reason: str) -> int:
    """End these active runs with ``status`` (done, stopped or exited) and ``reason``; returns how many."""
    return _end(runs, status=status, reason=reason)


def _end(runs: QuerySet[Run], *, status: str, reason: str) -> int:
    now = timezone.now()
    ids = list(runs.values_list("pk", flat=True))
    if not ids:
        return 0
    # Steps queued for them and not yet claimed are not sent.
    StepDelivery.objects.filter(run_id__in=ids, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.SKIPPED, error=f"The run ended: {reason}"[:2000]
    )
    return Run.objects.filter(pk__in=ids, status=RunStatus.ACTIVE).update(
        status=status, exit_reason=reason[:200], ended_at=now, next_due_at=None
    )


@transaction.atomic
def runs_stop(*, runs: QuerySet[Run], acting_user: Any) -> int:
    """An editor ends these readers' runs; they get no further step."""
    _check_perm(acting_user)
    return _end(runs.filter(status=RunStatus.ACTIVE), status=RunStatus.STOPPED, reason=STOPPED_BY_EDITOR)


# --- pause and resume --------------------------------------------------------------


@transaction.atomic
def sequence_pause(*, sequence: Sequence, acting_user: Any) -> bool:
    """Stop sending the sequence's steps; readers keep entering and wait. False if it was paused."""
    _check_perm(acting_user)
    return bool(
        Sequence.objects.filter(pk=sequence.pk, status=SequenceStatus.ACTIVE).update(
            status=SequenceStatus.PAUSED, paused_at=timezone.now()
        )
    )


def sequence_resume(*, sequence: Sequence, acting_user: Any, now: datetime.datetime | None = None) -> int:
    """Send again, as the sequence's pause policy says; returns how many readers' steps came due meanwhile.

    Send late: each reader whose step came due goes out at the next poll, and their next
    steps count from now. Skip: those steps are recorded as skipped and the reader moves on
    to the first step due after now (a step is skipped only if it came due)."""
    _check_perm(acting_user)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Sequence.objects.select_for_update().get(pk=sequence.pk)
        if locked.status != SequenceStatus.PAUSED:
            return 0
        overdue = Run.objects.filter(sequence=locked, status=RunStatus.ACTIVE, next_due_at__lte=now)
        if locked.pause_policy == PausePolicy.SEND_LATE:
            count = overdue.update(next_due_at=now)
        else:
            count = _skip_overdue(locked, overdue, now)
        Sequence.objects.filter(pk=locked.pk).update(status=SequenceStatus.ACTIVE, paused_at=None)
    from automations import pipeline

    # Rows already made into batches before the pause go out (send late) or were skipped above.
    pipeline.batches_enqueue_waiting(sequence_id=locked.pk)
    return count


def _skip_overdue(sequence: Sequence, overdue: QuerySet[Run], now: datetime.datetime) -> int:
    steps = sequence_steps(sequence.pk)
    by_id = {s.pk: s for s in steps}
    skipped: list[StepDelivery] = []
    runs = list(overdue.select_related("subscriber").select_for_update())
    # Steps already handed to batches before the pause, and not sent, came due too.
    StepDelivery.objects.filter(step__sequence=sequence, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.SKIPPED, error=SKIPPED_WHILE_PAUSED
    )
    for run in runs:
        step, due = by_id.get(run.current_step_id or 0), run.next_due_at
        while step is not None and due is not None and due <= now:
            skipped.append(_skipped_row(run, step, now))
            step = step_after(steps, step.pk)
            due = schedule.step_due(step, after=due) if step is not None else None
        run.current_step, run.next_due_at = step, due
        if step is None:
            run.status, run.ended_at = RunStatus.DONE, now
    StepDelivery.objects.bulk_create(skipped, ignore_conflicts=True, batch_size=2000)
    Run.objects.bulk_update(runs, ["current_step", "next_due_at", "status", "ended_at"], batch_size=1000)
    return len(runs)


def _skipped_row(run: Run, step: Step, now: datetime.datetime) -> StepDelivery:
    return StepDelivery(
        run=run,
        step=step,
        version_id=step.current_version_id or 0,
        subscriber_id=run.subscriber_id,
        email=run.subscriber.email,
        status=DeliveryStatus.SKIPPED,
        error=SKIPPED_WHILE_PAUSED,
        created_at=now,
    )


def welcome_taken(subscriber_id: int) -> bool:
    """The reader's welcome is the welcome sequence's first step (they have a run of it)."""
    return Run.objects.filter(sequence__replaces_welcome=True, subscriber_id=subscriber_id).exists()


def subscribers_exist(ids: Iterable[int]) -> list[int]:
    return list(Subscriber.objects.filter(pk__in=list(ids)).values_list("pk", flat=True))


WELCOME_BODY = (
    "<p>Your subscription to {publisher} is confirmed. The next issue will be in your inbox.</p>"
    "<p>You can choose your newsletters or pause them at any time with the preferences link below.</p>"
)


@transaction.atomic
def welcome_sequence_ensure() -> Sequence:
    """The welcome sequence (its first step is the welcome email), made if it is missing.

    Migration automations/0002 makes it for an existing install; the demo loader and
    tests that empty the database call this."""
    from django.conf import settings

    found = Sequence.objects.filter(replaces_welcome=True).first()
    if found is not None:
        return found
    name = "Welcome" if not Sequence.objects.filter(name="Welcome").exists() else "Welcome (built in)"
    sequence = Sequence.objects.create(name=name, trigger=Trigger.LIST_CONFIRMED, replaces_welcome=True)
    Step.objects.create(
        sequence=sequence,
        position=0,
        subject=f"Welcome to {settings.PUBLISHER_NAME}",
        body=WELCOME_BODY.format(publisher=settings.PUBLISHER_NAME),
        delay_value=0,
        delay_unit="minutes",
    )
    step_versions_sync(sequence=sequence)
    return sequence
