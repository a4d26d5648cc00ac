"""Editorial content: an Issue and its ordered, typed sections."""

from __future__ import annotations

import re
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import reversion
from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django_ckeditor_5.fields import CKEditor5Field

from issues.storage import ImageUploadField


def _web_link_errors(instance: models.Model, fields: tuple[str, ...]) -> dict[str, str]:
    """Links readers click must be absolute http(s) URLs (URLField also allows ftp)."""
    errors = {}
    for field in fields:
        value = getattr(instance, field)
        if value and urlsplit(value).scheme not in ("http", "https"):
            errors[field] = "Enter a full web address starting with https:// (or http://)."
    return errors


class _ImageAlts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.missing = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img" and not (dict(attrs).get("alt") or "").strip():
            self.missing += 1


def _images_without_alt(html: str) -> int:
    if "<img" not in html:
        return 0
    parser = _ImageAlts()
    parser.feed(html)
    return parser.missing


class Author(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    avatar = ImageUploadField(
        upload_to="avatars/%Y/",
        blank=True,
        help_text="A square photo, shown small beside the name on issue pages (JPEG, PNG, GIF or WebP).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IssueStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    REVIEW = "review", "In review"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"


class Issue(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=120, unique=True, help_text="Used in the web address: /newsletter/this-slug/. Must be unique."
    )
    subject = models.CharField(max_length=200, blank=True, help_text="Email subject; the title when left empty.")
    preheader = models.CharField(
        max_length=200, blank=True, help_text="Preview text shown after the subject in inboxes."
    )
    summary = models.TextField(blank=True, help_text="One or two sentences for the archive and feeds.")
    cover_image = ImageUploadField(upload_to="covers/%Y/%m/", blank=True)
    cover_alt = models.CharField(
        max_length=250, blank=True, help_text="Describe the cover image for readers who cannot see it."
    )
    canonical_url = models.URLField(blank=True, max_length=500, help_text='"Read original article" link.')
    authors = models.ManyToManyField(Author, blank=True, related_name="issues")
    tags = models.ManyToManyField(Tag, blank=True, related_name="issues")
    publish_date = models.DateTimeField(null=True, blank=True, db_index=True)
    word_count = models.PositiveIntegerField(default=0, editable=False)
    reading_minutes = models.PositiveIntegerField(default=1, editable=False)
    status = models.CharField(max_length=16, choices=IssueStatus.choices, default=IssueStatus.DRAFT, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic locking: every save of the text adds one; a save based on an
    # older number is refused (issues.composer) instead of overwriting.
    version = models.PositiveIntegerField(default=1, editable=False)
    # Shown under the masthead ("No. 42"); given the next free number when the
    # issue's first send starts (issues.services.issue_transition), or typed.
    number = models.PositiveIntegerField(
        null=True,
        blank=True,
        unique=True,
        validators=[MinValueValidator(1)],
        help_text=(
            "Shown in the email's masthead as “No. 42”. Left empty, the next number is given "
            "when the first send starts."
        ),
    )
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # The composer's editing session that took the latest session revision, and
    # when: an autosave reads the revision's age from the locked row instead of
    # querying the revisions (issues.composer). Not recorded in revisions.
    session_revision_key = models.CharField(max_length=32, blank=True, default="", editable=False)
    session_revision_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Archive search (issues.search): rebuilt with the word count, never edited.
    # Its GIN index is made by migration 0008 on PostgreSQL only.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-publish_date", "-id"]
        permissions = [
            ("submit_issue", "Can submit an issue for review"),
            ("approve_issue", "Can approve an issue"),
            ("schedule_issue", "Can schedule and send an issue"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=IssueStatus.values), name="issue_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "-publish_date"])]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The search vector is derived data written by issues.search alone: a
        # save of the whole row (the admin's, a cover upload's) must not put
        # back the stale copy this instance holds.
        if self.pk and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "search_vector"
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("issues:detail", args=[self.slug])

    @property
    def email_subject(self) -> str:
        return self.subject or self.title

    def clean(self) -> None:
        errors = _web_link_errors(self, ("canonical_url",))
        if self.cover_image and not self.cover_alt.strip():
            errors["cover_alt"] = "Describe the cover image: alt text is required when an image is set."
        if errors:
            raise ValidationError(errors)


class SectionKind(models.TextChoices):
    LEAD = "lead", "Lead story"
    HIGHLIGHT = "highlight", "Special highlight (sponsored)"
    TOOL = "tool", "Tool of the Day"
    QUICK_LINKS = "quick_links", "Light Bytes (quick links)"


class Section(models.Model):
    """One block of an issue. Which fields a kind uses, and how it is rendered,
    is declared in issues/sections.py (one entry per kind)."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="sections")
    kind = models.CharField(max_length=20, choices=SectionKind.choices)
    position = models.PositiveIntegerField(default=0, db_index=True)
    heading = models.CharField(max_length=200, blank=True)
    body = CKEditor5Field(
        blank=True, config_name="default", help_text="Opening paragraph, highlight body or tool description."
    )
    analysis = CKEditor5Field(
        blank=True, config_name="default", help_text='Lead story: the "why it matters" paragraphs.'
    )
    partner_name = models.CharField(max_length=120, blank=True, help_text="Sponsored highlight: the partner.")
    sponsor_label = models.CharField(
        max_length=80,
        blank=True,
        help_text="Sponsored highlight: the label over it (e.g. “Sponsored”). Blank: the site default.",
    )
    link_url = models.URLField(blank=True, max_length=500, help_text="Source link, call-to-action or tool link.")
    link_label = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=SectionKind.values), name="section_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.heading or '(untitled)'}"

    @property
    def shown_sponsor_label(self) -> str:
        """The label readers see over a sponsored block: its own, else the site's."""
        return self.sponsor_label.strip() or settings.SPONSOR_LABEL_DEFAULT

    def clean(self) -> None:
        # Rich text is reduced to the allowlist here, so every ModelForm
        # (admin inline, section page) and every service stores clean HTML.
        from core.sanitize import sanitize_html

        self.body = sanitize_html(self.body)
        self.analysis = sanitize_html(self.analysis)
        errors = _web_link_errors(self, ("link_url",))
        for field in ("body", "analysis"):
            if _images_without_alt(getattr(self, field)):
                errors[field] = (
                    "Every image needs alt text: click the image, choose “Change image text alternative” "
                    "in its toolbar and describe it for readers who cannot see it."
                )
        if errors:
            raise ValidationError(errors)


class SectionItem(models.Model):
    """A bullet of "The details" (label + text), a "Try this yourself" step
    (text) or a quick link (text + url)."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0, db_index=True)
    label = models.CharField(max_length=80, blank=True)
    text = models.CharField(max_length=500)
    url = models.URLField(blank=True, max_length=500)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def text_html(self) -> str:
        """The line as safe inline HTML (cleaned again in case a row got here another way)."""
        from django.utils.safestring import mark_safe

        from core.sanitize import sanitize_inline

        return mark_safe(sanitize_inline(self.text))

    @property
    def text_plain(self) -> str:
        """The line for the plain-text email: a link on part of it as [words](url)."""
        from core.sanitize import sanitize_inline
        from issues.rendering import html_to_text

        return html_to_text(sanitize_inline(self.text))

    @property
    def links_itself(self) -> bool:
        """The line carries its own link on some words: it is not wrapped in ``url`` (no nested links)."""
        return "<a " in self.text_html

    def clean(self) -> None:
        # Bold, italic and links on part of the line; nothing else.
        from core.sanitize import sanitize_inline

        self.text = sanitize_inline(self.text)
        errors = _web_link_errors(self, ("url",))
        if errors:
            raise ValidationError(errors)


class IssueTransition(models.Model):
    """Audit row for every move of an issue through the workflow."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="transitions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    from_status = models.CharField(max_length=16, choices=IssueStatus.choices)
    to_status = models.CharField(max_length=16, choices=IssueStatus.choices)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.issue_id}: {self.from_status} → {self.to_status}"


class PreviewSendStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    NOT_QUEUED = "not_queued", "Not queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class PreviewSend(models.Model):
    """A test send of an issue to addresses an editor typed."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="preview_sends")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recipients = models.JSONField(default=list)
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=12, choices=PreviewSendStatus.choices, default=PreviewSendStatus.QUEUED)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PreviewSendStatus.values), name="previewsend_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Test send of {self.issue_id} to {', '.join(self.recipients)}"


class IssueTemplate(models.Model):
    """The shape of an issue to start new ones from: its sections in order
    with the texts that stay the same each day (see issues/shapes.py)."""

    name = models.CharField(max_length=120, unique=True)
    # The issue-level texts a new issue starts with (each may be changed there).
    subject = models.CharField(max_length=200, blank=True, help_text="Email subject of new issues; may be left empty.")
    preheader = models.CharField(
        max_length=200, blank=True, help_text="Preview text of new issues, shown after the subject in inboxes."
    )
    authors = models.ManyToManyField(Author, blank=True, related_name="issue_templates")
    tags = models.ManyToManyField(Tag, blank=True, related_name="issue_templates")
    shape = models.JSONField(default=dict, help_text='{"sections": [...]}, as issues/shapes.py describes.')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sections(self) -> list[dict]:
        found = self.shape.get("sections") if isinstance(self.shape, dict) else None
        return found if isinstance(found, list) else []


_NO_REPLY = re.compile(r"no[-_.]?reply|do[-_.]?not[-_.]?reply", re.IGNORECASE)
HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as # and six hex digits, e.g. #1d4ed8.")
# The email's text column (600 px less 32 px padding each side): a logo wider than it would not fit.
LOGO_MAX_WIDTH = 536


class Publication(models.Model):
    """The publication's masthead and voice, set by editors in the admin.

    One row (id 1). Read through ``issues.selectors.publication()``, which is
    cached and cleared by ``issues.services.publication_save``."""

    name = models.CharField(
        max_length=120, blank=True, help_text="The publication's name. Left empty: PUBLISHER_NAME from the settings."
    )
    tagline = models.CharField(
        max_length=160, blank=True, help_text="One line under the name, e.g. “The AI news that matters, daily”."
    )
    logo = ImageUploadField(
        upload_to="publication/",
        blank=True,
        width_field="logo_width",
        height_field="logo_height",
        help_text="PNG (transparent or on white) or JPEG, at least twice the width it is shown at for sharp phones.",
    )
    logo_alt = models.CharField(
        "logo alt text",
        max_length=160,
        blank=True,
        help_text="What the logo says, for readers whose mail client hides images.",
    )
    logo_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    logo_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    logo_display_width = models.PositiveIntegerField(
        default=160,
        validators=[MinValueValidator(24), MaxValueValidator(LOGO_MAX_WIDTH)],
        help_text=f"Width of the logo in the email, in CSS pixels (24 to {LOGO_MAX_WIDTH}); the height follows.",
    )
    brand_colour = models.CharField(
        max_length=7,
        default="#1d4ed8",
        validators=[HEX_COLOUR],
        help_text="The masthead's accent (the rule under it and the buttons), as #rrggbb.",
    )
    replies_welcome = models.BooleanField(
        default=False,
        help_text="The From address takes replies: each issue ends with an invitation to reply.",
    )
    reply_prompt = models.CharField(
        max_length=200,
        blank=True,
        default="Reply to this email to tell us what you think: the editors read every reply.",
        help_text="The invitation to reply, when replies are welcome.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Publication and masthead"
        verbose_name_plural = "Publication and masthead"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="publication_single_row")]

    def __str__(self) -> str:
        return "Publication and masthead"

    @property
    def shown_name(self) -> str:
        return self.name.strip() or settings.PUBLISHER_NAME

    @property
    def logo_display_height(self) -> int | None:
        if not (self.logo and self.logo_width and self.logo_height):
            return None
        return max(1, round(self.logo_height * self.logo_display_width / self.logo_width))

    @property
    def brand_text_colour(self) -> str:
        """Black or white, whichever reads better on the brand colour (WCAG relative luminance)."""
        channels = [int(self.brand_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        return "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) else "#111111"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.logo and not self.logo_alt.strip():
            errors["logo_alt"] = "Say what the logo shows: alt text is required when a logo is set."
        if self.logo and self.logo_width and self.logo_display_width > self.logo_width:
            errors["logo_display_width"] = (
                f"The logo is only {self.logo_width} pixels wide: show it at {self.logo_width} at most "
                f"(or upload one twice as wide as it is shown, for sharp phone screens)."
            )
        if self.replies_welcome and not self.reply_prompt.strip():
            errors["reply_prompt"] = "Write the invitation to reply, or untick “Replies welcome”."
        sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        if self.replies_welcome and _NO_REPLY.search(sender.partition("@")[0]):
            errors["replies_welcome"] = (
                f"The From address, {sender}, says it takes no replies: set DEFAULT_FROM_EMAIL to an "
                "address someone reads before inviting replies."
            )
        if errors:
            raise ValidationError(errors)


# Revision history: saving an issue keeps its sections and their items; a
# section saved on its own page is kept together with its issue.
reversion.register(SectionItem)
reversion.register(Section, follow=["items", "issue"])
# The number is not part of a version: it belongs to the issue once given
# (a restored old version could otherwise hand it another issue's number).
# The session revision's key and age are the composer's bookkeeping, not content.
reversion.register(
    Issue, follow=["sections"], exclude=["number", "session_revision_key", "session_revision_at", "search_vector"]
)
reversion.register(IssueTemplate)
