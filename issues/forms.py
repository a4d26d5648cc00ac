"""Admin forms: field-level errors for bad input, sanitised rich text."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from core.sanitize import sanitize_html
from issues.drafts import template_name_clean
from issues.models import Issue, IssueStatus, IssueTemplate, Section, SectionItem
from issues.services import lock_reason, parse_recipients
from issues.shapes import ALL_SECTION_FIELDS, ShapeInvalid, shape_clean


class IssueAdminForm(forms.ModelForm):
    class Meta:
        model = Issue
        fields = [
            "title",
            "slug",
            "subject",
            "preheader",
            "summary",
            "cover_image",
            "cover_alt",
            "canonical_url",
            "authors",
            "tags",
            "publish_date",
            "number",
        ]
        error_messages = {
            "slug": {"unique": "Another issue already uses this slug; choose a different one."},
            "number": {"unique": "Another issue already has this number; choose a different one, or leave it empty."},
        }
        widgets = {
            "title": forms.TextInput(attrs={"size": 70}),
            "subject": forms.TextInput(attrs={"size": 70}),
            "preheader": forms.TextInput(attrs={"size": 70}),
            "cover_alt": forms.TextInput(attrs={"size": 70}),
            "canonical_url": forms.URLInput(attrs={"size": 70, "placeholder": "https://"}),
        }

    # The version the page was loaded at (optimistic locking; the composer
    # moves it on after each autosave).
    base_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["base_version"].initial = self.instance.version
        if "slug" in self.fields:
            # The admin fills it from the title as you type; left empty, the
            # server makes it from the title (see clean()).
            self.fields["slug"].required = False
            self.fields[
                "slug"
            ].help_text = (
                "Used in the web address: /newsletter/this-slug/. Made from the title when left empty; must be unique."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        base = cleaned.get("base_version")
        if self.instance.pk and base is not None:
            stored = Issue.objects.select_related("edited_by").get(pk=self.instance.pk)
            if stored.version != base:
                from issues.composer import conflict_message

                raise ValidationError(conflict_message(stored), code="conflict")
        if "slug" in self.fields and "slug" not in self.errors and not cleaned.get("slug") and cleaned.get("title"):
            slug = slugify(cleaned["title"])[: Issue._meta.get_field("slug").max_length].strip("-")
            if slug:
                cleaned["slug"] = slug
            else:
                self.add_error("slug", "Enter a slug: the title has no letters or digits to make one from.")
        return cleaned

    # The cover's upload rule is the model field's (issues.storage.ImageUploadField).
    # A missing cover alt text is reported at the field by Issue.clean().


class SectionAdminForm(forms.ModelForm):
    """Rich text is sanitised here as well as in Section.clean, so the form
    shows the editor the stored (clean) HTML if it is redisplayed."""

    class Meta:
        model = Section
        fields = ["issue", *ALL_SECTION_FIELDS, "position"]
        # A plain address box: the admin's default adds a "Currently:" link
        # above it, which crowds the sections table.
        widgets = {
            "heading": forms.TextInput(attrs={"size": 36}),
            "link_url": forms.URLInput(attrs={"size": 28, "placeholder": "https://"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "sponsor_label" in self.fields:
            # Blank means the site default: show which one.
            self.fields["sponsor_label"].widget.attrs["placeholder"] = settings.SPONSOR_LABEL_DEFAULT

    def clean_issue(self) -> Issue | None:
        # The section page's issue picker (adding a section): a scheduled
        # or sending issue takes no new section.
        issue = self.cleaned_data.get("issue")
        locked = lock_reason(issue) if issue is not None else None
        if locked:
            raise ValidationError(f"“{issue}”: {locked}")
        return issue

    def clean_body(self) -> str:
        return sanitize_html(self.cleaned_data.get("body") or "")

    def clean_analysis(self) -> str:
        return sanitize_html(self.cleaned_data.get("analysis") or "")


class SectionItemAdminForm(forms.ModelForm):
    class Meta:
        model = SectionItem
        fields = ["label", "text", "url", "position"]
        widgets = {
            "label": forms.TextInput(attrs={"size": 18}),
            "text": forms.TextInput(attrs={"size": 56}),
            "url": forms.URLInput(attrs={"size": 36, "placeholder": "https://"}),
        }


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=IssueStatus.choices)
    note = forms.CharField(max_length=500, required=False)


class TestSendForm(forms.Form):
    recipients = forms.CharField(
        label="Send a test to",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60, "placeholder": "you@example.com, colleague@example.com"}),
        help_text="Up to 10 addresses, separated by commas or new lines.",
    )

    def clean_recipients(self) -> list[str]:
        try:
            return parse_recipients(self.cleaned_data["recipients"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None


class TemplateFromIssueForm(forms.Form):
    name = forms.CharField(
        max_length=120, help_text="For example “Daily digest”. Each template needs a name of its own."
    )
    keep_items = forms.BooleanField(
        required=False,
        label="Keep the items too",
        help_text="Details bullets, steps and quick links become fixed text in every new issue. "
        "Leave unticked to keep only the sections, their headings and fixed labels.",
    )


class IssueFromTemplateForm(forms.Form):
    template = forms.ModelChoiceField(queryset=IssueTemplate.objects.all(), empty_label=None)
    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 70}))


class IssueTemplateAdminForm(forms.ModelForm):
    """The name, the texts new issues start with and the sections. The sections
    are edited in the page's section editor (issues/static/issues/composer.js in
    its template mode), which posts them as JSON in the hidden ``shape``; the
    name and shape are checked as the service checks them, and a bad section's
    errors are kept by section (``shape_errors``) for the editor to show in place."""

    shape = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = IssueTemplate
        fields = ["name", "subject", "preheader", "authors", "tags", "shape"]
        widgets = {
            "name": forms.TextInput(attrs={"size": 60}),
            "subject": forms.TextInput(attrs={"size": 70}),
            "preheader": forms.TextInput(attrs={"size": 70}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["shape"] = json.dumps(self.instance.shape or {"sections": []})
        # The sections as posted (for the editor to show again) and their errors by index.
        self.shape_posted: dict[str, Any] | None = None
        self.shape_errors: dict[int, dict[str, list[str]]] = {}

    def clean_name(self) -> str:
        try:
            return template_name_clean(self.cleaned_data.get("name", ""), template=self.instance)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["name"]) from None

    def clean_shape(self) -> Any:
        try:
            raw = json.loads(self.cleaned_data.get("shape") or "")
        except ValueError:
            raise ValidationError("The sections did not arrive: reload the page and try again.") from None
        if isinstance(raw, dict) and isinstance(raw.get("sections"), list):
            self.shape_posted = raw
        try:
            return shape_clean(raw)
        except ShapeInvalid as exc:
            self.shape_errors = exc.sections
            raise ValidationError(exc.messages) from None
