"""Reads over sequences: each step's funnel and its preview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from automations.models import Run, RunStatus, Sequence, Step, StepDelivery, Trigger
from automations.services import EXIT_UNSUBSCRIBED
from core.merge import mailgun_tag, merge, merge_html
from delivery.models import DeliveryStatus
from issues.rendering import RenderedEmail, render_message

REACHED = [DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN]


@dataclass(frozen=True)
class StepFunnel:
    step: Step
    waiting: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    unsubscribed_after: int
    skipped: int
    failed: int


def sequence_funnel(sequence: Sequence) -> list[StepFunnel]:
    """Per step: readers waiting for it, and of those sent it, how many it reached, who opened and
    clicked, and who unsubscribed with it as the last step they got."""
    steps = list(sequence.steps.order_by("position", "id"))
    waiting = dict(
        Run.objects.filter(sequence=sequence, status=RunStatus.ACTIVE)
        .values_list("current_step")
        .annotate(n=Count("pk"))
        .values_list("current_step", "n")
    )
    counts = {
        row["step"]: row
        for row in StepDelivery.objects.filter(step__sequence=sequence)
        .values("step")
        .annotate(
            sent=Count("pk", filter=Q(status__in=REACHED)),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            skipped=Count("pk", filter=Q(status=DeliveryStatus.SKIPPED)),
            failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
        )
    }
    funnel = []
    for step in steps:
        later = StepDelivery.objects.filter(run=OuterRef("run"), step__position__gt=step.position, status__in=REACHED)
        unsubscribed = (
            StepDelivery.objects.filter(step=step, status__in=REACHED, run__exit_reason=EXIT_UNSUBSCRIBED)
            .exclude(Exists(later))
            .count()
        )
        c: dict[str, Any] = dict(counts.get(step.pk, {}))
        funnel.append(
            StepFunnel(
                step=step,
                waiting=waiting.get(step.pk, 0),
                sent=c.get("sent", 0),
                delivered=c.get("delivered", 0),
                opened=c.get("opened", 0),
                clicked=c.get("clicked", 0),
                unsubscribed_after=unsubscribed,
                skipped=c.get("skipped", 0),
                failed=c.get("failed", 0),
            )
        )
    return funnel


def step_preview(step: Step, *, name: str = "Alex") -> RenderedEmail:
    """The step's email as a reader would get it (the current content), with sample values."""
    keep = step.sequence.trigger == Trigger.SUNSET
    rendered = render_message(
        subject=step.subject,
        preheader=step.preheader,
        body=step.body,
        merge_tag=mailgun_tag,
        action=("Keep me subscribed", "keep_url") if keep else None,
    )
    values = {"name": name, "unsubscribe_url": "#unsubscribe", "preferences_url": "#preferences", "keep_url": "#keep"}
    return RenderedEmail(
        subject=merge(rendered.subject, values, tag=mailgun_tag),
        preheader=rendered.preheader,
        html=merge_html(rendered.html, values, tag=mailgun_tag),
        text=merge(rendered.text, values, tag=mailgun_tag),
    )
