"""Sequences end to end in one process: triggers, due steps at their time, exits, pause and resume,
versions, and the welcome sequence taking over the built-in welcome."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from automations import pipeline, services
from automations.models import (
    DelayUnit,
    PausePolicy,
    Run,
    RunStatus,
    Sequence,
    SequenceStatus,
    StepDelivery,
    Trigger,
)
from automations.tests.conftest import make_sequence
from core.models import OutboxMessage
from delivery.models import DeliveryStatus
from subscribers import services as subscriber_services
from subscribers.models import SubscriberTag
from testing.factories import make_editor, make_pending_reader

pytestmark = pytest.mark.django_db


def confirm(reader: Any, capture: Any) -> None:
    with capture(execute=True):
        subscriber_services.subscriber_confirm(subscriber=reader)


def poll(capture: Any, at: datetime.datetime) -> int:
    with time_machine.travel(at, tick=False), capture(execute=True):
        return pipeline.steps_send_due()


def subjects(email: str) -> list[str]:
    return list(OutboxMessage.objects.filter(to=email).order_by("id").values_list("subject", flat=True))


def test_each_step_goes_once_at_its_time(
    three_steps: Sequence, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    reader = make_pending_reader(email="ada@example.org")
    reader.lists.add(three_steps.trigger_list_id or 0)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        confirm(reader, django_capture_on_commit_callbacks)
    # Step 1 right away (delay 0), and the welcome sequence's step instead of the built-in welcome.
    assert "Step 1" in subjects(reader.email)
    assert [s for s in subjects(reader.email) if s.startswith("Welcome")] == ["Welcome to The Newsroom Daily"]
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(hours=23)) == 0
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(days=1, minutes=1)) == 1
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(days=1, minutes=2)) == 0
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(days=3, hours=23)) == 0
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(days=4, minutes=1)) == 1
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(days=30)) == 0
    mine = [s for s in subjects(reader.email) if s.startswith("Step")]
    assert mine == ["Step 1", "Step 2", "Step 3"]
    run = Run.objects.get(sequence=three_steps, subscriber=reader)
    assert run.status == RunStatus.DONE and run.current_step is None
    assert StepDelivery.objects.filter(run=run, status=DeliveryStatus.SENT).count() == 3
    message = OutboxMessage.objects.filter(to=reader.email, subject="Step 2").get()
    assert "Body of step 2" in message.text_body and "/unsubscribe/" in message.text_body
    assert "/one-click/" in message.headers["List-Unsubscribe"] and message.headers["List-Id"]


def test_a_send_at_time_lands_on_that_clock_time_in_the_publication_zone(db: None) -> None:
    from automations.schedule import step_due

    sequence = make_sequence(steps=[(1, DelayUnit.DAYS)])
    step = sequence.steps.get()
    step.send_at = datetime.time(9, 0)
    zone = timezone.get_current_timezone()
    after = datetime.datetime(2026, 3, 2, 15, 30, tzinfo=zone)
    assert step_due(step, after=after) == datetime.datetime(2026, 3, 3, 9, 0, tzinfo=zone)
    step.delay_value, step.delay_unit = 2, DelayUnit.HOURS
    assert step_due(step, after=after) == datetime.datetime(2026, 3, 3, 9, 0, tzinfo=zone)
    assert step_due(step, after=after.replace(hour=5)) == datetime.datetime(2026, 3, 2, 9, 0, tzinfo=zone)


def test_unsubscribing_mid_sequence_stops_it(
    three_steps: Sequence, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    reader = make_pending_reader(email="bo@example.org")
    reader.lists.add(three_steps.trigger_list_id or 0)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        confirm(reader, django_capture_on_commit_callbacks)
        subscriber_services.subscriber_unsubscribe(subscriber=reader, via="test")
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(days=10)) == 0
    run = Run.objects.get(sequence=three_steps, subscriber=reader)
    assert (run.status, run.exit_reason) == (RunStatus.EXITED, services.EXIT_UNSUBSCRIBED)
    assert [s for s in subjects(reader.email) if s.startswith("Step")] == ["Step 1"]


def test_leaving_the_trigger_list_ends_the_run(three_steps: Sequence, django_capture_on_commit_callbacks: Any) -> None:
    reader = make_pending_reader(email="cy@example.org")
    reader.lists.add(three_steps.trigger_list_id or 0)
    confirm(reader, django_capture_on_commit_callbacks)
    subscriber_services.subscriber_update_preferences(subscriber=reader, name="", lists=[], paused_until=None)
    run = Run.objects.get(sequence=three_steps, subscriber=reader)
    assert (run.status, run.exit_reason) == (RunStatus.EXITED, services.EXIT_LEFT_LIST)


@pytest.mark.parametrize("policy", [PausePolicy.SEND_LATE, PausePolicy.SKIP])
def test_pause_and_resume_send_late_or_skip_as_chosen(
    policy: str, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    sequence = make_sequence(steps=[(1, DelayUnit.HOURS), (1, DelayUnit.DAYS)], pause_policy=policy)
    editor = make_editor()
    reader = make_pending_reader(email="di@example.org")
    reader.lists.add(sequence.trigger_list_id or 0)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        confirm(reader, django_capture_on_commit_callbacks)
        assert services.sequence_pause(sequence=sequence, acting_user=editor)
    # Step 1 comes due while paused: nothing goes.
    assert poll(django_capture_on_commit_callbacks, start + datetime.timedelta(hours=2)) == 0
    resumed_at = start + datetime.timedelta(hours=3)
    with time_machine.travel(resumed_at, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert services.sequence_resume(sequence=sequence, acting_user=editor) == 1
    assert Sequence.objects.get(pk=sequence.pk).status == SequenceStatus.ACTIVE
    poll(django_capture_on_commit_callbacks, resumed_at + datetime.timedelta(seconds=5))
    poll(django_capture_on_commit_callbacks, resumed_at + datetime.timedelta(days=1, minutes=1))
    got = [s for s in subjects(reader.email) if s.startswith("Step")]
    rows = dict(StepDelivery.objects.filter(run__subscriber=reader).values_list("step__position", "status"))
    if policy == PausePolicy.SEND_LATE:
        assert got == ["Step 1", "Step 2"]  # late, and step 2 a day after step 1 actually went
        assert rows == {0: DeliveryStatus.SENT, 1: DeliveryStatus.SENT}
    else:
        # Step 2 was due a day after step 1 was due (start + 1 h + 1 day): it goes, step 1 never.
        assert got == ["Step 2"]
        assert rows == {0: DeliveryStatus.SKIPPED, 1: DeliveryStatus.SENT}


def test_an_edited_step_reaches_readers_who_had_not_got_it_and_keeps_the_sent_version(
    three_steps: Sequence, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    first, second = make_pending_reader(email="e1@example.org"), make_pending_reader(email="e2@example.org")
    for reader in (first, second):
        reader.lists.add(three_steps.trigger_list_id or 0)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        confirm(first, django_capture_on_commit_callbacks)
    step = three_steps.steps.get(position=0)
    old_version = step.current_version
    step.subject = "Step 1, edited"
    step.save()
    assert services.step_versions_sync(sequence=three_steps) == 1
    confirm(second, django_capture_on_commit_callbacks)
    assert "Step 1" in subjects(first.email) and "Step 1, edited" in subjects(second.email)
    kept = StepDelivery.objects.get(run__subscriber=first, step=step)
    assert kept.version == old_version and kept.version.subject == "Step 1"


def test_a_tag_starts_its_sequence_once_unless_reentry_is_allowed(django_capture_on_commit_callbacks: Any) -> None:
    from subscribers.admin_services import subscribers_tag
    from testing.factories import make_confirmed_reader

    tag = SubscriberTag.objects.create(name="trial")
    once = make_sequence(name="Trial", steps=[(1, DelayUnit.DAYS)], trigger=Trigger.TAG_ADDED, trigger_tag=tag)
    reader = make_confirmed_reader(email="fa@example.org")
    subscribers_tag(subscribers=[reader], tag=tag)
    services.runs_stop(runs=Run.objects.filter(subscriber=reader), acting_user=make_editor())
    reader.tags.clear()
    subscribers_tag(subscribers=[reader], tag=tag)
    assert Run.objects.filter(sequence=once, subscriber=reader).count() == 1
    Sequence.objects.filter(pk=once.pk).update(allow_reentry=True)
    reader.tags.clear()
    subscribers_tag(subscribers=[reader], tag=tag)
    assert Run.objects.filter(sequence=once, subscriber=reader).count() == 2


def test_segment_members_enter_on_the_periodic_check(db: None) -> None:
    from subscribers.models import Segment
    from testing.factories import make_confirmed_reader

    tag = SubscriberTag.objects.create(name="vip")
    segment = Segment.objects.create(name="VIPs")
    segment.tags.add(tag)
    sequence = make_sequence(
        name="VIP", steps=[(1, DelayUnit.DAYS)], trigger=Trigger.SEGMENT_JOINED, trigger_segment=segment
    )
    member, other = make_confirmed_reader(email="m@example.org"), make_confirmed_reader(email="o@example.org")
    member.tags.add(tag)
    assert services.segment_triggers_check() == 1
    assert services.segment_triggers_check() == 0
    assert list(Run.objects.filter(sequence=sequence).values_list("subscriber", flat=True)) == [member.pk]
    assert other.pk != member.pk
    # Leaving the segment ends the run at the next check; coming back does not start it again (no re-entry).
    member.tags.remove(tag)
    assert services.segment_triggers_check() == 0
    run = Run.objects.get(sequence=sequence, subscriber=member)
    assert (run.status, run.exit_reason) == (RunStatus.EXITED, services.EXIT_LEFT_SEGMENT)
    member.tags.add(tag)
    assert services.segment_triggers_check() == 0


def test_an_editor_taking_a_reader_off_the_trigger_list_or_tagging_them_in_the_admin(
    three_steps: Sequence, admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.urls import reverse

    tag = SubscriberTag.objects.create(name="course")
    tagged = make_sequence(name="Course", steps=[(1, DelayUnit.DAYS)], trigger=Trigger.TAG_ADDED, trigger_tag=tag)
    reader = make_pending_reader(email="dee@example.org")
    reader.lists.add(three_steps.trigger_list_id or 0)
    confirm(reader, django_capture_on_commit_callbacks)
    page = reverse("admin:subscribers_subscriber_change", args=[reader.pk])
    consents = list(reader.consents.values_list("pk", flat=True))
    data: dict[str, Any] = {"email": reader.email, "name": "Dee", "lists": [], "tags": [tag.pk]}
    data |= {"consents-TOTAL_FORMS": len(consents), "consents-INITIAL_FORMS": len(consents)}
    data |= {f"consents-{n}-id": pk for n, pk in enumerate(consents)}
    answer = admin_client.post(page, data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    run = Run.objects.get(sequence=three_steps, subscriber=reader)
    assert (run.status, run.exit_reason) == (RunStatus.EXITED, services.EXIT_LEFT_LIST)
    assert Run.objects.get(sequence=tagged, subscriber=reader).status == RunStatus.ACTIVE
    # A reader the editor adds by hand with the tag starts it too.
    added: dict[str, Any] = {"email": "new@example.org", "name": "", "status": "active", "tags": [tag.pk]}
    added |= {"consents-TOTAL_FORMS": 0, "consents-INITIAL_FORMS": 0}
    answer = admin_client.post(reverse("admin:subscribers_subscriber_add"), added)
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    assert Run.objects.get(sequence=tagged, subscriber__email="new@example.org").status == RunStatus.ACTIVE


def test_the_welcome_is_sent_once_by_the_sequence_and_never_by_the_missed_welcome_job(
    celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    reader = make_pending_reader(email="gw@example.org")
    confirm(reader, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert subscriber_services.welcomes_send_missed() == 0
        pipeline.steps_send_due()
    assert [s for s in subjects(reader.email) if s.startswith("Welcome")] == ["Welcome to The Newsroom Daily"]
    row = StepDelivery.objects.get(run__subscriber=reader)
    assert row.status == DeliveryStatus.SENT and row.run.sequence.replaces_welcome
