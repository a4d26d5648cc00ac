"""Provider events for step emails: tied to the step's row, counted in the funnel, and felt by
the reader as for an issue (a hard bounce suppresses them and ends their runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent

from automations import pipeline, selectors, services
from automations.models import DelayUnit, Run, RunStatus, StepDelivery, StepEvent
from automations.tests.conftest import make_sequence
from delivery.models import DeliveryStatus
from delivery.tracking import event_record
from subscribers.models import SubscriberStatus
from testing.factories import make_confirmed_reader

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_step(celery_eager: None, django_capture_on_commit_callbacks: Any) -> StepDelivery:
    sequence = make_sequence(steps=[(0, DelayUnit.MINUTES), (1, DelayUnit.DAYS)])
    reader = make_confirmed_reader(email="t@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.runs_enter(sequence=sequence, subscriber_ids=[reader.pk])
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.steps_send_due()
    row = StepDelivery.objects.get(run__subscriber=reader)
    assert row.status == DeliveryStatus.SENT
    return row


def event(kind: str, row: StepDelivery, n: int) -> AnymailTrackingEvent:
    return AnymailTrackingEvent(
        event_type=kind,
        timestamp=datetime(2026, 5, 1, 9, n, tzinfo=UTC),
        event_id=f"ev-{kind}-{n}",
        recipient=row.email,
        message_id=row.provider_message_id,
        metadata={"step_delivery_id": str(row.pk)},
    )


def test_opens_and_clicks_of_a_step_reach_its_funnel(sent_step: StepDelivery) -> None:
    for n, kind in enumerate(["delivered", "opened", "clicked"]):
        event_record(event=event(kind, sent_step, n), esp_name="Mailgun")
    sent_step.refresh_from_db()
    assert sent_step.delivered_at and sent_step.opened_at and sent_step.clicked_at
    assert StepEvent.objects.filter(step_delivery=sent_step).count() == 3
    first = selectors.sequence_funnel(sent_step.run.sequence)[0]
    assert (first.sent, first.delivered, first.opened, first.clicked) == (1, 1, 1, 1)


def test_a_hard_bounce_of_a_step_suppresses_the_reader_and_ends_the_run(sent_step: StepDelivery) -> None:
    event_record(event=event("bounced", sent_step, 5), esp_name="Mailgun")
    run = Run.objects.get(pk=sent_step.run_id)
    assert sent_step.subscriber is not None
    sent_step.subscriber.refresh_from_db()
    assert sent_step.subscriber.status == SubscriberStatus.BOUNCED
    assert (run.status, run.exit_reason) == (RunStatus.EXITED, services.EXIT_SUPPRESSED)


def test_an_unsubscribe_after_a_step_is_counted_against_it(sent_step: StepDelivery) -> None:
    event_record(event=event("unsubscribed", sent_step, 7), esp_name="Mailgun")
    funnel = selectors.sequence_funnel(sent_step.run.sequence)
    assert [row.unsubscribed_after for row in funnel] == [1, 0]
    assert [row.waiting for row in funnel] == [0, 0]
