"""Sequences: a series of emails a reader gets one after another once a trigger fires.

A Sequence has ordered Steps; each Step's content is kept as StepVersions, so a
step edited while it is being sent keeps the version its readers were given. A
Run is one reader's way through one sequence; a StepDelivery is one step sent to
one reader, claimed exactly once like delivery.Delivery, in StepBatches."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django_ckeditor_5.fields import CKEditor5Field

from delivery.models import DeliveryStatus


class Trigger(models.TextChoices):
    LIST_CONFIRMED = "list_confirmed", "A reader confirms their subscription"
    TAG_ADDED = "tag_added", "A tag is added to a reader"
    SEGMENT_JOINED = "segment_joined", "A reader joins a segment"
    # The system sequence of the lists' sunset policies (automations.sunset): one, made by the app.
    SUNSET = "sunset", "A list's sunset policy finds a reader who stopped opening"


class SequenceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class PausePolicy(models.TextChoices):
    SEND_LATE = "send_late", "Send the steps that came due while paused on resume"
    SKIP = "skip", "Skip the steps that came due while paused"


class Sequence(models.Model):
    name = models.CharField(max_length=100, unique=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.LIST_CONFIRMED)
    trigger_list = models.ForeignKey(
        "subscribers.MailingList",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For “confirms”: readers who confirm on this list (any list when empty).",
    )
    trigger_tag = models.ForeignKey(
        "subscribers.SubscriberTag",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For “a tag is added”: the tag.",
    )
    trigger_segment = models.ForeignKey(
        "subscribers.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For “joins a segment”: the segment (checked every few minutes).",
    )
    allow_reentry = models.BooleanField(
        default=False, help_text="A reader whose run ended may enter again when the trigger fires again."
    )
    status = models.CharField(max_length=10, choices=SequenceStatus.choices, default=SequenceStatus.ACTIVE)
    pause_policy = models.CharField(
        max_length=10,
        choices=PausePolicy.choices,
        default=PausePolicy.SEND_LATE,
        help_text="What happens on resume to the steps that came due while the sequence was paused.",
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    replaces_welcome = models.BooleanField(
        default=False,
        editable=False,
        help_text="The welcome sequence: its first step is the welcome email readers get when they confirm.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=SequenceStatus.values), name="sequence_status_valid"),
            models.CheckConstraint(condition=Q(pause_policy__in=PausePolicy.values), name="sequence_policy_valid"),
            models.CheckConstraint(
                condition=(Q(trigger=Trigger.LIST_CONFIRMED) & Q(trigger_tag=None, trigger_segment=None))
                | (Q(trigger=Trigger.TAG_ADDED) & Q(trigger_tag__isnull=False, trigger_list=None, trigger_segment=None))
                | (
                    Q(trigger=Trigger.SEGMENT_JOINED)
                    & Q(trigger_segment__isnull=False, trigger_list=None, trigger_tag=None)
                )
                | (Q(trigger=Trigger.SUNSET) & Q(trigger_segment=None, trigger_list=None, trigger_tag=None)),
                name="sequence_trigger_consistent",
            ),
            models.UniqueConstraint(fields=["trigger"], condition=Q(trigger="sunset"), name="one_sunset_sequence"),
            models.UniqueConstraint(
                fields=["replaces_welcome"], condition=Q(replaces_welcome=True), name="one_welcome"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DelayUnit(models.TextChoices):
    MINUTES = "minutes", "minutes"
    HOURS = "hours", "hours"
    DAYS = "days", "days"


class Step(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0, db_index=True)
    subject = models.CharField(max_length=200)
    preheader = models.CharField(max_length=200, blank=True, help_text="The line inboxes show after the subject.")
    body = CKEditor5Field(config_name="default", blank=True)
    delay_value = models.PositiveIntegerField(
        default=0, help_text="How long after the previous step (after entering, for the first step)."
    )
    delay_unit = models.CharField(max_length=10, choices=DelayUnit.choices, default=DelayUnit.DAYS)
    send_at = models.TimeField(
        null=True,
        blank=True,
        help_text="Optional: send at this time of day in the publication's time zone (HH:MM). With a delay in "
        "days, on that calendar day; otherwise at the first such time once the delay has passed.",
    )
    add_tag = models.ForeignKey(
        "subscribers.SubscriberTag",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Optional: tag the reader once this step is sent to them.",
    )
    current_version = models.ForeignKey(
        "StepVersion", null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(delay_unit__in=DelayUnit.values), name="step_delay_unit_valid"),
        ]

    def __str__(self) -> str:
        return self.subject


class StepVersion(models.Model):
    """The content of a step as it was when readers were given it; a new one on every edit."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=200)
    preheader = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["step", "-number"]
        constraints = [models.UniqueConstraint(fields=["step", "number"], name="step_version_once")]

    def __str__(self) -> str:
        return f"{self.step} v{self.number}"


class RunStatus(models.TextChoices):
    ACTIVE = "active", "In the sequence"
    DONE = "done", "Finished"
    STOPPED = "stopped", "Stopped by an editor"
    EXITED = "exited", "Left"


class Run(models.Model):
    """One reader's way through one sequence: the step they wait for and when it is due."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="runs")
    subscriber = models.ForeignKey("subscribers.Subscriber", on_delete=models.CASCADE, related_name="+")
    current_step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.PROTECT, related_name="waiting")
    next_due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.ACTIVE)
    exit_reason = models.CharField(max_length=200, blank=True)
    entered_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="run_status_valid"),
            models.UniqueConstraint(
                fields=["sequence", "subscriber"], condition=Q(status="active"), name="run_one_active_per_reader"
            ),
        ]
        indexes = [
            # The beat task's one query: active runs due now.
            models.Index(fields=["next_due_at"], name="run_active_due", condition=Q(status="active")),
            models.Index(fields=["subscriber", "status"], name="run_reader"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} in {self.sequence_id} ({self.status})"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    CLAIMED = "claimed", "Claimed"
    POSTING = "posting", "Posting"
    DONE = "done", "Done"


class StepBatch(models.Model):
    """Readers of one step version sent in one provider call; the status says how far an attempt got,
    so that a task taking the batch after a dead worker knows whether the provider may have them."""

    version = models.ForeignKey(StepVersion, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.QUEUED)
    enqueued_at = models.DateTimeField()
    due_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name_plural = "step batches"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=BatchStatus.values), name="step_batch_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="step_batch_status_due")]

    def __str__(self) -> str:
        return f"step batch {self.pk} ({self.status})"


class StepDelivery(models.Model):
    """One step sent to one reader: claimed before the provider call, marked with its answer after."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="deliveries")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="deliveries")
    version = models.ForeignKey(StepVersion, on_delete=models.PROTECT, related_name="deliveries")
    batch = models.ForeignKey(StepBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="rows")
    subscriber = models.ForeignKey("subscribers.Subscriber", null=True, on_delete=models.SET_NULL, related_name="+")
    email = models.EmailField(max_length=254)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    provider_status = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "step deliveries"
        constraints = [
            models.UniqueConstraint(fields=["run", "step"], name="step_delivery_once_per_run"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="step_delivery_status_valid"),
        ]
        indexes = [
            models.Index(fields=["batch", "status"], name="step_delivery_batch"),
            models.Index(fields=["step", "status"], name="step_delivery_step"),
            models.Index(
                fields=["provider_message_id"],
                name="step_delivery_msgid",
                condition=~Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.step_id} ({self.status})"


class StepEvent(models.Model):
    """Ties a provider event (delivery.Event) to the step email it is about."""

    event = models.OneToOneField("delivery.Event", on_delete=models.CASCADE, related_name="+")
    step_delivery = models.ForeignKey(StepDelivery, on_delete=models.CASCADE, related_name="events")

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.step_delivery_id}"


class NoticeOutcome(models.TextChoices):
    WAITING = "waiting", "Waiting for an answer"
    KEPT = "kept", "Kept their subscription"
    ENGAGED = "engaged", "Opened or clicked again"
    INACTIVE = "inactive", "Moved to inactive"
    REACTIVATED = "reactivated", "Reactivated"
    LEFT = "left", "Unsubscribed or suppressed meanwhile"


class SunsetNotice(models.Model):
    """A reader a list's sunset policy found: sent the re-engagement sequence, and what came of it."""

    subscriber = models.ForeignKey("subscribers.Subscriber", on_delete=models.CASCADE, related_name="+")
    mailing_list = models.ForeignKey("subscribers.MailingList", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=12, choices=NoticeOutcome.choices, default=NoticeOutcome.WAITING)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=NoticeOutcome.values), name="sunset_notice_outcome_valid"),
            models.UniqueConstraint(
                fields=["subscriber"], condition=Q(outcome="waiting"), name="sunset_notice_one_waiting"
            ),
        ]
        indexes = [
            models.Index(fields=["subscriber", "created_at"], name="sunset_notice_reader"),
            models.Index(fields=["created_at"], name="sunset_notice_waiting", condition=Q(outcome="waiting")),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} on {self.mailing_list_id}: {self.outcome}"
