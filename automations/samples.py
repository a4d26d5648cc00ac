"""Samples of every sequence step's email as one reader's copy leaves the worker
(core.mail.email_sample_group_register): the SpamAssassin test scores each one."""

from __future__ import annotations

from django.core.mail import EmailMessage

from automations.models import Step, Trigger
from automations.pipeline import Row, recipients_for, rendered_for
from core.mail import EmailSample, SampleReader, email_sample_group_register
from delivery.providers import STRATEGIES
from delivery.recipients import common_headers


def step_sample(step_id: int) -> EmailSample:
    def build(reader: SampleReader) -> EmailMessage | None:
        step = Step.objects.select_related("sequence", "current_version").filter(pk=step_id).first()
        if step is None or step.current_version is None:
            return None
        # One message per reader, as the SMTP strategy sends it; batch providers merge the same values.
        strategy = STRATEGIES["smtp"]
        keep = step.sequence.trigger == Trigger.SUNSET
        row = Row(step_delivery_id=1, subscriber_id=reader.subscriber_id, email=reader.email, name=reader.name)
        (recipient,) = recipients_for(0, [row], strategy, keep=keep)
        rendered = rendered_for(step.current_version, strategy.merge_tag, keep=keep)
        metadata = {"step_batch_id": "0", "step_id": str(step.pk)}
        return strategy.build_one(rendered, recipient, headers=common_headers(), metadata=metadata)

    return build


def step_samples() -> dict[str, EmailSample]:
    """Each step of each sequence, named "sequence name / step n"."""
    steps = Step.objects.select_related("sequence").order_by("sequence__name", "position", "id")
    names: dict[str, EmailSample] = {}
    for step in steps:
        number = sum(1 for key in names if key.startswith(f"{step.sequence.name} / ")) + 1
        names[f"{step.sequence.name} / step {number}"] = step_sample(step.pk)
    return names


def register_samples() -> None:
    email_sample_group_register("sequence", step_samples)
