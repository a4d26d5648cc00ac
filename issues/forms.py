"""Admin forms: field-level errors for bad input, sanitised rich text."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from issues.models import Issue, IssueStatus, Section
from issues.sanitize import sanitize_html
from issues.services import parse_recipients
from issues.storage import validate_image_file


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
        ]
        error_messages = {
            "slug": {"unique": "Another issue already uses this slug; choose a different one."},
        }

    def clean_cover_image(self) -> Any:
        image = self.cleaned_data.get("cover_image")
        # Only a newly uploaded file needs checking; a stored one passed before.
        if image and hasattr(image, "content_type"):
            validate_image_file(image)
        return image

    # A missing cover alt text is reported at the field by Issue.clean().


class SectionAdminForm(forms.ModelForm):
    """Rich text is sanitised here as well as in Section.clean, so the form
    shows the editor the stored (clean) HTML if it is redisplayed."""

    class Meta:
        model = Section
        fields = ["issue", "kind", "heading", "body", "analysis", "partner_name", "link_url", "link_label", "position"]

    def clean_body(self) -> str:
        return sanitize_html(self.cleaned_data.get("body") or "")

    def clean_analysis(self) -> str:
        return sanitize_html(self.cleaned_data.get("analysis") or "")


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
