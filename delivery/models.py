"""Sending: a Send is one issue to one audience at one time; a Delivery is one
reader of a send; an Event is what the provider told us afterwards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Left
from django.utils import timezone

from delivery.machine import MachineKind

#: How much of a clicked URL the click index holds (see Event.Meta).
URL_KEY_LENGTH = 300

if TYPE_CHECKING:
    from delivery.pacing import Limits


class SendStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SNAPSHOTTING = "snapshotting", "Preparing audience"
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Send(models.Model):
    issue = models.ForeignKey("issues.Issue", on_delete=models.PROTECT, related_name="sends")
    lists = models.ManyToManyField("subscribers.MailingList", blank=True, related_name="sends")
    segment = models.ForeignKey(
        "subscribers.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="sends"
    )
    scheduled_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=SendStatus.choices, default=SendStatus.SCHEDULED, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0, help_text="Readers in the audience snapshot.")
    audience_key = models.CharField(
        max_length=200, blank=True, help_text="Identifies the audience, to refuse a second identical send."
    )
    error = models.TextField(blank=True)
    # Off for a row made directly; send_create sets both from the send form (site settings by default).
    track_clicks = models.BooleanField(
        default=False, help_text="Links go through signed redirects on this site, which count each reader's clicks."
    )
    track_opens = models.BooleanField(default=False, help_text="A one-pixel image on this site counts opens.")
    window_start = models.TimeField(
        null=True, blank=True, help_text="Batches go out only from this time (publication's zone)."
    )
    window_end = models.TimeField(null=True, blank=True, help_text="... until this time; outside it they wait.")
    # "At 07:00 in each reader's time zone" (delivery.zones): each zone's readers are due at
    # local_time on local_date on their clock; blank for a send that goes to everyone at once.
    local_time = models.TimeField(
        null=True, blank=True, help_text="Each reader gets the issue at this time on their own clock."
    )
    local_date = models.DateField(null=True, blank=True, help_text="... on this day.")

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=SendStatus.values), name="send_status_valid"),
            models.CheckConstraint(
                condition=models.Q(window_start__isnull=True, window_end__isnull=True)
                | models.Q(
                    window_start__isnull=False, window_end__isnull=False, window_end__gt=models.F("window_start")
                ),
                name="send_window_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(local_time__isnull=True, local_date__isnull=True)
                | models.Q(local_time__isnull=False, local_date__isnull=False, window_start__isnull=True),
                name="send_local_time_valid",
            ),
        ]

    def __str__(self) -> str:
        # In the publication's zone (TIME_ZONE), as the send's page shows it.
        when = timezone.localtime(self.scheduled_at) if self.scheduled_at else None
        return f"{self.issue} @ {when:%Y-%m-%d %H:%M %Z}" if when else str(self.issue)


class TrackedLink(models.Model):
    """One link of a send's email: a click token names its index, never a URL, so only the
    issue's own links can be reached through the redirect."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="tracked_links", db_index=False)
    index = models.PositiveIntegerField()
    url = models.URLField(max_length=2000)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["send", "index"], name="tracked_link_once_per_send")]

    def __str__(self) -> str:
        return f"send {self.send_id} link {self.index}: {self.url}"


class SendZoneStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for its local time"
    RELEASED = "released", "Released"  # its batches were enqueued (or are, once the send resumes)


class SendZone(models.Model):
    """One time zone of a send at each reader's local time: its readers' Delivery rows are
    the batches ``first_batch`` to ``last_batch``, due at ``due_at`` (delivery.zones)."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="zones", db_index=False)
    zone = models.CharField(max_length=64, blank=True, help_text="IANA name; blank: readers with no zone known.")
    tz_used = models.CharField(max_length=64, help_text="The zone the local time was read in.")
    due_at = models.DateTimeField()
    first_batch = models.PositiveIntegerField()
    last_batch = models.PositiveIntegerField()
    readers = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=SendZoneStatus.choices, default=SendZoneStatus.WAITING)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "zone"]
        constraints = [
            models.UniqueConstraint(fields=["send", "zone"], name="send_zone_once"),
            models.CheckConstraint(condition=models.Q(status__in=SendZoneStatus.values), name="send_zone_status_valid"),
            models.CheckConstraint(condition=models.Q(last_batch__gte=F("first_batch")), name="send_zone_batches"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="send_zone_status_due")]

    def __str__(self) -> str:
        return f"send {self.send_id} zone {self.zone or '(none)'} at {self.due_at:%Y-%m-%d %H:%M} UTC"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # its task is in the queue, or its retry waits until due_at
    CLAIMED = "claimed", "Claimed"  # a worker claimed its rows (up to claimed_upto) and is building the request
    POSTING = "posting", "Posting"  # the provider call has begun (committed before the call)
    DONE = "done", "Done"  # no row of the batch is queued


class Batch(models.Model):
    """One batch of a send: when its task was enqueued, when its next attempt is due, and
    whether its provider call had begun. Recovery reads these to re-enqueue a lost task
    within a minute, and a retry of a batch that died reads them to know whether its
    claimed readers may have reached the provider (POSTING) or certainly did not."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="batches", db_index=False)
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.QUEUED)
    enqueued_at = models.DateTimeField()
    due_at = models.DateTimeField(help_text="When its next attempt is due (a retry's ETA).")
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The claim of an attempt: its queued rows up to this Delivery id are the ones being sent
    # (delivery.claims.batch_claim), so the rows themselves are written once, with their answer.
    claimed_upto = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(fields=["send", "number"], name="batch_once_per_send"),
            models.CheckConstraint(condition=models.Q(status__in=BatchStatus.values), name="batch_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="batch_status_due"),
            models.Index(fields=["started_at"], name="batch_started"),
        ]

    def __str__(self) -> str:
        return f"send {self.send_id} batch {self.number} ({self.status})"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    # A send's rows being sent stay queued and are claimed on their Batch row; a sequence's
    # StepDelivery rows are still claimed one by one (automations.pipeline).
    CLAIMED = "claimed", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNCERTAIN = "uncertain", "Uncertain"
    SKIPPED = "skipped", "Skipped"


class Delivery(models.Model):
    # Every index is written on each answer: lookups by send use
    # the composite index and the unique constraint below, not one of their own.
    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    subscriber = models.ForeignKey(
        "subscribers.Subscriber", null=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    email = models.EmailField(max_length=254)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    batch = models.PositiveIntegerField(default=0, help_text="Batch number within the send.")
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    provider_status = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Opens and clicks of people; those of privacy proxies and scanners (delivery.machine) only
    # set machine_opened_at, so that open rates and "opened" segments are not inflated.
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    machine_opened_at = models.DateTimeField(
        null=True, blank=True, help_text="First open by a privacy proxy or a scanner, not by the reader."
    )

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["send", "subscriber"], name="delivery_once_per_reader"),
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values), name="delivery_status_valid"),
        ]
        indexes = [
            models.Index(fields=["send", "status", "batch"]),
            # Provider events find their row by message id; rows not sent yet have none.
            models.Index(
                fields=["provider_message_id"],
                name="delivery_provider_msgid",
                condition=~models.Q(provider_message_id=""),
            ),
            # "Clicked any link of an issue" segments (delivery.engagement): readers who clicked given sends.
            # Partial, so rows nobody clicked cost nothing.
            models.Index(
                fields=["send", "subscriber"], name="delivery_clicked", condition=models.Q(clicked_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


class Uncounted(models.TextChoices):
    COUNTED = "", "Counted"
    # A HEAD request or a known link scanner (mail security gateways follow every link).
    SCANNER = "scanner", "Scanner or HEAD request"
    # The send counts this kind from the other source (first-party tracking or the provider's).
    OTHER_SOURCE = "other_source", "Counted from the other tracking source"


class Event(models.Model):
    """One tracking event from the provider, as anymail normalised it."""

    class Type(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        REJECTED = "rejected"
        FAILED = "failed"
        BOUNCED = "bounced"
        DEFERRED = "deferred"
        DELIVERED = "delivered"
        AUTORESPONDED = "autoresponded"
        OPENED = "opened"
        CLICKED = "clicked"
        COMPLAINED = "complained"
        UNSUBSCRIBED = "unsubscribed"
        SUBSCRIBED = "subscribed"
        INBOUND = "inbound"
        INBOUND_FAILED = "inbound_failed"
        UNKNOWN = "unknown"

    dedupe_key = models.CharField(max_length=200, unique=True, help_text="Provider event id, or a digest of the event.")
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    send = models.ForeignKey(Send, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    event_type = models.CharField(max_length=20, choices=Type.choices, db_index=True)
    at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField(auto_now_add=True)
    recipient = models.CharField(max_length=320, blank=True)
    message_id = models.CharField(max_length=200, blank=True, db_index=True)
    esp_event_id = models.CharField(max_length=200, blank=True)
    esp_name = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    reject_reason = models.CharField(max_length=40, blank=True)
    description = models.TextField(blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    machine = models.CharField(
        max_length=16,
        choices=MachineKind.choices,
        blank=True,
        default=MachineKind.PERSON,
        help_text="Why an open or click is counted as a machine's (empty: a person).",
    )
    raw = models.JSONField(default=dict, blank=True)
    uncounted = models.CharField(
        max_length=16,
        blank=True,
        choices=Uncounted.choices,
        help_text="Why this open or click is kept apart from the figures (blank: it counts).",
    )

    class Meta:
        ordering = ["-at"]
        indexes = [
            # "machine" last: the analytics chart counts people's and machines' opens from the index alone.
            models.Index(fields=["send", "event_type", "at", "machine"], name="event_send_type_at"),
            # "Clicked this link" segments: people's clicks by URL. On the URL's first 300 characters, as a
            # B-tree entry must stay under PostgreSQL's 2704 bytes; the query compares the whole URL too.
            models.Index(
                Left("url", URL_KEY_LENGTH),
                F("delivery"),
                name="event_person_click_url",
                condition=models.Q(event_type="clicked", machine=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient}"


def _positive(field: str) -> models.Q:
    return models.Q(**{f"{field}__isnull": True}) | models.Q(**{f"{field}__gte": 1})


class SendingLimit(models.Model):
    """An operator's limits for one provider, in force instead of the SEND_RATE_* and
    SEND_WARMUP_* settings (delivery.pacing.limits_in_force)."""

    provider = models.CharField(
        max_length=20,
        unique=True,
        choices=[(name, name) for name in settings.PROVIDERS],
        help_text="The ANYMAIL_PROVIDER these limits are for.",
    )
    per_second = models.PositiveIntegerField(null=True, blank=True, help_text="Messages per second (blank: none).")
    per_minute = models.PositiveIntegerField(null=True, blank=True, help_text="Messages per minute.")
    per_hour = models.PositiveIntegerField(null=True, blank=True, help_text="Messages per hour.")
    per_day = models.PositiveIntegerField(null=True, blank=True, help_text="Messages per calendar day.")
    max_batch = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most readers in one provider call (blank: the provider's own limit)."
    )
    warmup_start = models.DateField(null=True, blank=True, help_text="The first day of the warm-up.")
    warmup_daily_caps = models.CharField(
        max_length=500, blank=True, help_text="Caps for day 1, 2, 3, ... e.g. '500, 1000, 2000, 5000'; none after."
    )
    warmup_first_day = models.PositiveIntegerField(null=True, blank=True, help_text="Or: day 1's cap ...")
    warmup_growth_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="... growing by this many percent each day."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_positive(name), name=f"sending_limit_{name}_positive")
            for name in ("per_second", "per_minute", "per_hour", "per_day", "max_batch", "warmup_first_day")
        ]

    def __str__(self) -> str:
        return f"Sending limits for {self.provider}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from delivery.pacing import parse_caps, warmup_check

        errors: dict[str, list[str]] = {}
        for name in ("per_second", "per_minute", "per_hour", "per_day", "max_batch", "warmup_first_day"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                errors[name] = ["Must be at least 1; leave it blank for no limit."]
        try:
            caps = parse_caps(self.warmup_daily_caps)
            warmup_check(caps=caps, first_day=self.warmup_first_day, growth_percent=self.warmup_growth_percent)
        except ValidationError as exc:
            errors.setdefault("warmup_daily_caps", []).extend(exc.messages)
            caps = []
        else:
            if (caps or self.warmup_first_day) and self.warmup_start is None:
                errors["warmup_start"] = ["A warm-up needs its first day."]
        api_limit = settings.PROVIDER_BATCH_LIMITS.get(self.provider)
        if self.max_batch and api_limit and self.max_batch > api_limit:
            errors["max_batch"] = [f"{self.provider} takes at most {api_limit} readers in one call."]
        if self.provider and self.provider not in settings.PROVIDERS:
            errors["provider"] = [f"Unknown provider; one of {', '.join(settings.PROVIDERS)}."]
        if errors:
            raise ValidationError(errors)

    def limits(self) -> Limits:
        from delivery.pacing import Limits, Warmup, parse_caps

        warmup = None
        if self.warmup_start is not None:
            warmup = Warmup(
                start=self.warmup_start,
                caps=tuple(parse_caps(self.warmup_daily_caps)),
                first_day=self.warmup_first_day,
                growth_percent=self.warmup_growth_percent,
            )
        return Limits(
            provider=self.provider,
            per_second=self.per_second,
            per_minute=self.per_minute,
            per_hour=self.per_hour,
            per_day=self.per_day,
            max_batch=self.max_batch,
            warmup=warmup,
            source="admin",
        )
