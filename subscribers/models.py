"""The audience: subscribers, lists, tags, segments, consent and suppression."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from subscribers.normalise import display_email
from subscribers.storage import import_file_name, import_storage
from subscribers.timezones import MAX_ZONE_LENGTH, validate_time_zone


def email_hash(email: str) -> str:
    """Stable hash of a normalised address; what erasure keeps."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class MailingList(models.Model):
    """A list/topic readers choose on the subscribe form and preferences page."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    public = models.BooleanField(default=True, help_text="Offered to readers on the subscribe form.")
    default = models.BooleanField(default=False, help_text="Pre-selected on the subscribe form.")
    position = models.PositiveIntegerField(default=0)
    # The sunset policy (automations.sunset): off until an editor turns it on.
    sunset_enabled = models.BooleanField(
        "sunset policy",
        default=False,
        help_text="Readers of this list who open and click none of its last sends get a re-engagement email; "
        "those who do not answer it are moved to “inactive” and sent nothing more.",
    )
    sunset_after_sends = models.PositiveIntegerField(
        "after sends without an open or click",
        default=10,
        validators=[MinValueValidator(1, "Enter 1 or more.")],
        help_text="How many of the list's sends in a row a reader received without opening or clicking "
        "(opens by privacy proxies do not count).",
    )
    sunset_grace_days = models.PositiveIntegerField(
        "days to answer",
        default=14,
        validators=[MinValueValidator(1, "Enter 1 or more.")],
        help_text="Days after the re-engagement email before a reader who did not answer is moved to inactive.",
    )

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sunset_after_sends__gte=1, sunset_grace_days__gte=1), name="list_sunset_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SubscriberTag(models.Model):
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    ACTIVE = "active", "Active"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"
    # Moved by a list's sunset policy: sent nothing until they answer or an editor reactivates them.
    INACTIVE = "inactive", "Inactive (stopped opening)"


class SubscriberSource(models.TextChoices):
    FORM = "form", "Web form"
    IMPORT = "import", "CSV import"
    ADMIN = "admin", "Added by an editor"
    API = "api", "Added through the API"


class FieldKind(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice (one of a list)"
    BOOLEAN = "boolean", "Yes or no"


class CustomField(models.Model):
    """A reader field an editor defines (city, plan, birthday…), kept in Subscriber.attributes[key]."""

    key = models.SlugField(
        max_length=40,
        unique=True,
        help_text="Lower-case letters, digits and _; the CSV column name and the merge tag: {{ key|fallback }}.",
    )
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=FieldKind.choices, default=FieldKind.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text="For a choice field: the values a reader may have.")
    help_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=FieldKind.values), name="customfield_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.label


class Subscriber(models.Model):
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=SubscriberStatus.choices, default=SubscriberStatus.PENDING, db_index=True
    )
    source = models.CharField(max_length=16, choices=SubscriberSource.choices, default=SubscriberSource.FORM)
    lists = models.ManyToManyField(MailingList, blank=True, related_name="subscribers")
    tags = models.ManyToManyField(SubscriberTag, blank=True, related_name="subscribers")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    paused_until = models.DateField(null=True, blank=True, help_text="No issues are sent until this date.")
    confirmation_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last confirmation or “already subscribed” email; the cool-down counts from here.",
    )
    welcome_sent_at = models.DateTimeField(null=True, blank=True)
    soft_bounces = models.PositiveIntegerField(default=0, help_text="Soft bounces in a row.")
    last_engaged_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Last open or click by the reader (not by a privacy proxy)."
    )
    # When the newest send the reader opened (or clicked) started: "opened any of the last N sends" is
    # then one comparison with the start of the Nth newest send (subscribers.engagement).
    last_open_send_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    last_click_send_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    received_count = models.PositiveIntegerField(
        default=0, db_index=True, help_text="Issues the provider accepted for this reader (counted when a send ends)."
    )
    # Values of the editors' custom fields, by CustomField.key (subscribers/fields.py checks them);
    # a GIN index on PostgreSQL (migration 0008) serves segment rules over them.
    attributes = models.JSONField(default=dict, blank=True)
    time_zone = models.CharField(
        max_length=MAX_ZONE_LENGTH,
        blank=True,
        default="",
        db_default="",  # rows inserted in SQL (seeded audiences, bulk loads) get "unknown" too
        validators=[validate_time_zone],
        help_text="IANA time zone, e.g. Europe/Berlin (blank: unknown; the publication's zone is used).",
    )

    # Whether the address is on the suppression list: kept by PostgreSQL triggers (migration 0015) on
    # both tables, for the live count's membership path alone (subscribers.selectors._membership_counts).
    # Sends, imports and forms check the suppression list itself; on SQLite this stays false, unread.
    suppressed = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The admin's status filter, in the list's order: the newest readers of a status come first
            # from the index alone (a million readers). Search by address fragment has trigram indexes
            # on PostgreSQL (migration 0010).
            models.Index(fields=["status", "-created_at", "-id"], name="subscriber_status_newest"),
            # The segment form's live count: the readers a list or tag range names are looked up here and
            # checked for "a send would reach them now" from the index alone (PostgreSQL; issue 17).
            models.Index(fields=["id"], include=["status", "paused_until", "email"], name="subscriber_sendable_cover"),
            # The readers a send skips for their own status or pause (a few in a healthy audience): the live
            # count of a list or tag merges its members with these instead of looking each one up
            # (subscribers.selectors._membership_counts).
            models.Index(
                fields=["id"],
                include=["status", "paused_until", "suppressed"],
                condition=~models.Q(status="active") | models.Q(paused_until__isnull=False) | models.Q(suppressed=True),
                name="subscriber_unsendable",
            ),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="subscriber_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=SubscriberStatus.values), name="subscriber_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def display_email(self) -> str:
        """The address with an IDN domain shown in Unicode, for the reader's own pages."""
        return display_email(self.email)


class Consent(models.Model):
    """What a reader agreed to (or withdrew), when, where and with which words."""

    class Action(models.TextChoices):
        SUBSCRIBE = "subscribe", "Subscribed"
        CONFIRM = "confirm", "Confirmed"
        UPDATE = "update", "Changed preferences"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
        IMPORT = "import", "Imported"
        ADMIN = "admin", "Added by an editor"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="consents")
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True)
    form = models.CharField(max_length=100, blank=True, help_text="Which form or path recorded it.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True, help_text="The words of the consent shown to the reader.")

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """An address no send and no import may reach again. Erasure keeps only the hash."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "bounced", "Hard bounce"
        COMPLAINT = "complained", "Complaint"
        SOFT_BOUNCES = "soft_bounces", "Repeated soft bounces"
        ERASED = "erased", "Asked to be forgotten"
        MANUAL = "manual", "Added by an editor"

    email_hash = models.CharField(max_length=64, unique=True)
    email = models.EmailField(max_length=254, blank=True, help_text="Empty once the reader is erased.")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # The readers' suppressed flag is kept by address (the triggers of migration 0015).
        indexes = [models.Index(fields=["email"], name="suppression_email")]

    def __str__(self) -> str:
        return self.email or f"(erased) {self.email_hash[:12]}…"


AT_LEAST_ONE = MinValueValidator(1, "Enter 1 or more.")


class FieldOperator(models.TextChoices):
    EQUALS = "equals", "is"
    NOT_EQUALS = "not_equals", "is not"
    GREATER = "greater", "is more than / after"
    LESS = "less", "is less than / before"
    SET = "set", "has a value"
    EMPTY = "empty", "has no value"


class Segment(models.Model):
    """A saved filter over subscribers that a send can target."""

    name = models.CharField(max_length=100, unique=True)
    lists = models.ManyToManyField(MailingList, blank=True, help_text="In any of these lists (all lists when empty).")
    tags = models.ManyToManyField(SubscriberTag, blank=True, help_text="With any of these tags.")
    signed_up_after = models.DateField(null=True, blank=True)
    signed_up_before = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=16,
        choices=SubscriberStatus.choices,
        blank=True,
        help_text="Any status when empty. A send only ever reaches active readers; other statuses are for "
        "finding readers in the admin (for example pending for a month).",
    )
    engaged_within_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[AT_LEAST_ONE], help_text="Opened or clicked within this many days."
    )
    inactive_for_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[AT_LEAST_ONE],
        help_text="No open or click for at least this many days (or never).",
    )
    # Engagement rules. Opens by privacy proxies and prefetching (delivery.machine) never count.
    opened_in_last_sends = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[AT_LEAST_ONE],
        verbose_name="opened or clicked any of the last N sends",
        help_text="N: the newest sends of the publication, to any audience.",
    )
    clicked_in_last_sends = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[AT_LEAST_ONE],
        verbose_name="clicked in any of the last N sends",
    )
    clicked_url = models.URLField(
        max_length=2000, blank=True, verbose_name="clicked this link", help_text="A link of a sent issue, exactly."
    )
    # An Issue's id: the issues app is not the audience's to import (subscribers.engagement).
    clicked_issue = models.PositiveIntegerField(null=True, blank=True, verbose_name="clicked any link of this issue")
    never_opened = models.BooleanField(
        default=False, verbose_name="never opened", help_text="No open or click since joining."
    )
    received_at_least = models.PositiveIntegerField(
        null=True, blank=True, validators=[AT_LEAST_ONE], verbose_name="received at least N issues"
    )
    field = models.ForeignKey(
        CustomField,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="segments",
        verbose_name="custom field",
        help_text="A condition on one of your custom fields.",
    )
    field_operator = models.CharField(max_length=16, choices=FieldOperator.choices, blank=True, verbose_name="which")
    field_value = models.CharField(max_length=200, blank=True, verbose_name="value")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="") | models.Q(status__in=SubscriberStatus.values),
                name="segment_status_valid",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ListCount(models.Model):
    """A list's readers as last counted by subscribers.counts, for the lists' admin page at sizes where
    counting every list on each view is too slow (at a million readers, about a second)."""

    mailing_list = models.OneToOneField(MailingList, on_delete=models.CASCADE, related_name="stored_count")
    readers = models.PositiveIntegerField()
    active = models.PositiveIntegerField()
    inactive = models.PositiveIntegerField()
    counted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.mailing_list}: {self.readers} readers at {self.counted_at:%Y-%m-%d %H:%M}"


class SegmentCount(models.Model):
    """A segment's readers as last counted by subscribers.counts (see ListCount); the segment's form
    counts live, and a send's audience is always counted exactly when it starts."""

    segment = models.OneToOneField(Segment, on_delete=models.CASCADE, related_name="stored_count")
    matching = models.PositiveIntegerField()
    sendable = models.PositiveIntegerField()
    counted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.segment}: {self.matching} readers at {self.counted_at:%Y-%m-%d %H:%M}"


class ConsentBasis(models.TextChoices):
    """Why imported readers may be sent to; only a stated basis makes them active."""

    DOUBLE_OPT_IN = "double_opt_in", "They confirmed their address on another platform (double opt-in)"
    SIGNUP_FORM = "signup_form", "They signed up on one of our forms (single opt-in)"
    IN_PERSON = "in_person", "They gave written consent in person or on paper"
    NONE = "none", "No consent recorded: import as pending, send nothing"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded, waiting for confirmation"
    QUEUED = "queued", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One CSV import: the uploaded file, the editor's choices, and the report."""

    file = models.FileField(upload_to=import_file_name, storage=import_storage, max_length=200)
    filename = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    consent_basis = models.CharField(max_length=20, choices=ConsentBasis.choices, blank=True)
    lists = models.ManyToManyField(MailingList, blank=True, help_text="Every imported reader joins these lists.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list, blank=True, help_text="Rows skipped or rejected, with the reason.")
    reasons = models.JSONField(default=dict, blank=True, help_text="How many rows were skipped or rejected, by reason.")
    error = models.TextField(blank=True)
    # Where the next chunk starts: the file's records (after the header) already imported.
    rows_read = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ImportStatus.values), name="importjob_status_valid")
        ]

    def __str__(self) -> str:
        return f"Import of {self.filename} ({self.get_status_display()})"


class ImportJobAddress(models.Model):
    """An address a running import has taken (a short hash only), so that a later chunk knows it is a duplicate.

    Deleted when the job ends; unique per job, so a chunk run twice cannot count an address twice.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "digest"], name="importjobaddress_unique_per_job")]

    def __str__(self) -> str:
        return f"Address {self.digest} of import #{self.job_id}"
