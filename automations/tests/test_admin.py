"""The sequence page: an editor's mistakes get clear errors and nothing is saved; the funnel,
preview, pause/resume buttons and the runs list's stop action work."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from automations.models import DelayUnit, Run, RunStatus, Sequence, SequenceStatus, Step, StepVersion, Trigger
from automations.tests.conftest import make_sequence
from subscribers.models import SubscriberTag
from testing.factories import MailingListFactory, make_confirmed_reader, make_editor

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_client() -> Client:
    client = Client()
    client.force_login(make_editor())
    return client


def form_data(*, steps: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Series",
        "trigger": Trigger.LIST_CONFIRMED,
        "trigger_list": "",
        "trigger_tag": "",
        "trigger_segment": "",
        "pause_policy": "send_late",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, step in enumerate(steps):
        values = {"subject": f"Step {i + 1}", "body": "<p>Hello</p>", "delay_value": "1", "delay_unit": "days"}
        values |= {"position": str(i + 1), "preheader": "", "send_at": "", "add_tag": "", **step}
        data |= {f"steps-{i}-{k}": v for k, v in values.items()}
    return data


def add(client: Client, data: dict[str, Any]) -> str:
    response = client.post(reverse("admin:automations_sequence_add"), data)
    return response.content.decode() if response.status_code == 200 else f"redirect {response.status_code}"


def test_an_editor_builds_a_three_step_series(editor_client: Client) -> None:
    daily = MailingListFactory.create(name="Daily")
    answer = add(editor_client, form_data(trigger_list=str(daily.pk), steps=[{"delay_value": "0"}, {}, {}]))
    assert answer == "redirect 302"
    sequence = Sequence.objects.get(name="Series")
    assert sequence.trigger_list == daily
    assert [s.subject for s in sequence.steps.all()] == ["Step 1", "Step 2", "Step 3"]
    assert StepVersion.objects.filter(step__sequence=sequence).count() == 3


@pytest.mark.parametrize(
    ("steps", "extra", "error"),
    [
        ([], {}, "A sequence needs at least one step."),
        ([{"delay_value": "-2"}], {}, "The delay cannot be negative."),
        ([{}], {"trigger_list": "999999"}, "Select a valid choice."),
        ([{}], {"trigger": Trigger.TAG_ADDED}, "Choose which one starts the sequence."),
    ],
    ids=["no steps", "negative delay", "deleted list", "tag trigger without a tag"],
)
def test_bad_input_gets_a_clear_error_and_nothing_is_saved(
    editor_client: Client, steps: list[dict[str, Any]], extra: dict[str, Any], error: str
) -> None:
    page = add(editor_client, form_data(steps=steps, **extra))
    assert error in page
    assert not Sequence.objects.filter(name="Series").exists() and not Step.objects.filter(subject="Step 1").exists()


def test_a_step_that_adds_the_trigger_tag_is_refused_as_a_loop(editor_client: Client) -> None:
    tag = SubscriberTag.objects.create(name="trial")
    data = form_data(trigger=Trigger.TAG_ADDED, trigger_tag=str(tag.pk), steps=[{"add_tag": str(tag.pk)}])
    page = add(editor_client, data)
    assert "adds the tag “trial”, which starts this sequence" in page
    assert not Sequence.objects.filter(name="Series").exists()


def test_a_loop_through_another_sequence_is_refused(editor_client: Client) -> None:
    a, b = SubscriberTag.objects.create(name="a"), SubscriberTag.objects.create(name="b")
    other = make_sequence(name="Other", steps=[(1, DelayUnit.DAYS)], trigger=Trigger.TAG_ADDED, trigger_tag=b)
    Step.objects.filter(sequence=other).update(add_tag=a)
    page = add(
        editor_client, form_data(trigger=Trigger.TAG_ADDED, trigger_tag=str(a.pk), steps=[{"add_tag": str(b.pk)}])
    )
    assert "would start a loop through other sequences: Series → Other → Series" in page
    assert not Sequence.objects.filter(name="Series").exists()


def test_the_page_shows_the_funnel_and_the_preview_and_pauses_and_resumes(editor_client: Client) -> None:
    sequence = make_sequence(steps=[(0, DelayUnit.MINUTES), (1, DelayUnit.DAYS)])
    page = editor_client.get(reverse("admin:automations_sequence_change", args=[sequence.pk])).content.decode()
    assert "Unsubscribed after it" in page and "Open the email preview" in page and "Pause sending" in page
    step = sequence.steps.first()
    preview = editor_client.get(reverse("admin:automations_sequence_preview", args=[sequence.pk, step.pk]))
    assert "Body of step 1" in preview.content.decode() and "Hi Alex," in preview.content.decode()
    editor_client.post(reverse("admin:automations_sequence_pause", args=[sequence.pk]))
    assert Sequence.objects.get(pk=sequence.pk).status == SequenceStatus.PAUSED
    editor_client.post(reverse("admin:automations_sequence_resume", args=[sequence.pk]))
    assert Sequence.objects.get(pk=sequence.pk).status == SequenceStatus.ACTIVE


def test_the_runs_list_stops_a_readers_run(editor_client: Client) -> None:
    from automations import services

    sequence = make_sequence(steps=[(1, DelayUnit.DAYS)])
    reader = make_confirmed_reader(email="stop@example.org")
    services.runs_enter(sequence=sequence, subscriber_ids=[reader.pk])
    run = Run.objects.get(subscriber=reader)
    response = editor_client.post(
        reverse("admin:automations_run_changelist"),
        {"action": "stop_selected", "_selected_action": [str(run.pk)]},
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED and run.next_due_at is None


def test_a_list_that_starts_a_sequence_cannot_be_deleted_under_it(admin_client: Client) -> None:
    sequence = make_sequence(name="Series", steps=[(1, DelayUnit.DAYS)])
    listing = sequence.trigger_list
    assert listing is not None
    page = admin_client.post(reverse("admin:subscribers_mailinglist_delete", args=[listing.pk]), {"post": "yes"})
    assert "would require deleting the following protected related objects" in page.content.decode()
    assert Sequence.objects.get(pk=sequence.pk).trigger_list == listing


def test_the_reengagement_sequence_keeps_its_trigger_when_edited(editor_client: Client) -> None:
    from automations.sunset import sunset_sequence_ensure

    sequence = sunset_sequence_ensure()
    step = sequence.steps.get()
    data = form_data(steps=[], name=sequence.name, trigger=Trigger.LIST_CONFIRMED, allow_reentry="on")
    data |= {"steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "1", "steps-0-id": str(step.pk)}
    data |= {"steps-0-sequence": str(sequence.pk), "steps-0-subject": "Still with us?", "steps-0-body": "<p>Hi</p>"}
    data |= {"steps-0-delay_value": "0", "steps-0-delay_unit": "minutes", "steps-0-position": "1"}
    answer = editor_client.post(reverse("admin:automations_sequence_change", args=[sequence.pk]), data)
    assert answer.status_code == 302
    sequence.refresh_from_db()
    assert sequence.trigger == Trigger.SUNSET and sequence.steps.get().subject == "Still with us?"
