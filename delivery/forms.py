"""Forms of the send admin. They parse what the editor typed; delivery.services decides."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from issues.models import Issue, IssueStatus
from subscribers.models import MailingList, Segment

NOW, LATER = "now", "later"


def publication_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_datetime(day: datetime.date, time: datetime.time) -> datetime.datetime:
    """``day`` at ``time`` on the publication's clock; refuses a time the clocks skip."""
    tz = publication_tz()
    naive = datetime.datetime.combine(day, time)
    aware = naive.replace(tzinfo=tz)
    if aware.astimezone(datetime.UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValidationError(f"{time:%H:%M} does not exist on {day:%d %b %Y} in {tz.key} (the clocks change).")
    return aware


class AudienceForm(forms.Form):
    """Lists or a segment; the audience-count endpoint reads the same fields."""

    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(), required=False, widget=forms.CheckboxSelectMultiple, label="Lists"
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(),
        required=False,
        empty_label="— no segment —",
        label="Or a segment",
        help_text="A saved filter over readers; choose lists or a segment, not both.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("lists") and data.get("segment"):
            raise ValidationError("Choose lists or a segment, not both.")
        return data


class SendCreateForm(AudienceForm):
    field_order = [
        "issue",
        "lists",
        "segment",
        "when",
        "send_date",
        "send_time",
        "local_time",
        "window_start",
        "window_end",
        "track_clicks",
        "track_opens",
    ]

    issue = forms.ModelChoiceField(queryset=Issue.objects.all(), empty_label="— choose an approved issue —")
    when = forms.ChoiceField(
        choices=[(NOW, "Send now"), (LATER, "Schedule for a date and time")],
        initial=NOW,
        widget=forms.RadioSelect,
        label="When",
    )
    send_date = forms.DateField(
        required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    send_time = forms.TimeField(
        required=False, label="Time", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    local_time = forms.TimeField(
        required=False,
        label="Or: at this time in each reader's time zone",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=(
            "Optional, e.g. 07:00: each reader gets the issue at that time on the chosen date (today for "
            "“Send now”) on their own clock; readers with no known zone at that time in the publication's zone. "
            "Zones where that time has already passed when the send starts get it at once."
        ),
    )
    window_start = forms.TimeField(
        required=False,
        label="Send only between",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Optional: outside these hours batches wait (publication's time zone).",
    )
    window_end = forms.TimeField(
        required=False, label="and", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    track_clicks = forms.BooleanField(
        required=False,
        label="Count clicks (first-party tracking)",
        help_text="Links go through a redirect on this site that records each reader's click.",
    )
    track_opens = forms.BooleanField(
        required=False,
        label="Count opens with a tracking pixel",
        help_text="Off by default: an open pixel reads the reader's device, which needs consent in the EU/UK.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["track_clicks"].initial = settings.FIRST_PARTY_TRACKING
        self.fields["track_opens"].initial = settings.FIRST_PARTY_OPEN_PIXEL
        if not self.is_bound:
            # Offer approved issues; a posted issue in another state reaches the
            # service, which says why it cannot be sent.
            issue_field = self.fields["issue"]
            assert isinstance(issue_field, forms.ModelChoiceField)
            issue_field.queryset = Issue.objects.filter(status=IssueStatus.APPROVED)
        self.fields["send_time"].help_text = f"In the publication's time zone, {publication_tz().key}."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["local"] = self._local(data)
        data["at"] = None if data["local"] else self._scheduled_at(data)
        data["window"] = self._window(data)
        if data["local"] and data["window"]:
            raise ValidationError(
                "A send at each reader's local time cannot also have a sending window (the window is on the "
                "publication's clock); choose one of the two."
            )
        return data

    def _local(self, data: dict[str, Any]) -> tuple[datetime.date, datetime.time] | None:
        at = data.get("local_time")
        if at is None:
            return None
        if data.get("when") != LATER:
            return (timezone.now().astimezone(publication_tz()).date(), at)
        day = data.get("send_date")
        if day is None:
            if "send_date" not in self.errors:
                raise ValidationError("Give the date on which each reader gets the issue at their local time.")
            return None
        return (day, at)

    def _window(self, data: dict[str, Any]) -> tuple[datetime.time, datetime.time] | None:
        start, end = data.get("window_start"), data.get("window_end")
        if start is None and end is None:
            return None
        if start is None or end is None:
            if "window_start" not in self.errors and "window_end" not in self.errors:
                raise ValidationError("Give both ends of the sending window, or neither.")
            return None
        if end <= start:
            raise ValidationError(f"The sending window ends ({end:%H:%M}) before it starts ({start:%H:%M}).")
        return (start, end)

    def _scheduled_at(self, data: dict[str, Any]) -> datetime.datetime | None:
        if data.get("when") != LATER:
            return None
        day, time = data.get("send_date"), data.get("send_time")
        if day is None or time is None:
            if "send_date" not in self.errors and "send_time" not in self.errors:
                raise ValidationError("Give a date and a time for a scheduled send.")
            return None
        return local_datetime(day, time)


class RescheduleForm(forms.Form):
    """A scheduled send's new time, on the publication's clock."""

    send_date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    send_time = forms.TimeField(label="Time", widget=forms.TimeInput(attrs={"type": "time"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("send_date") is not None and data.get("send_time") is not None:
            data["at"] = local_datetime(data["send_date"], data["send_time"])
        return data


class ResendConfirmForm(forms.Form):
    """Re-sending uncertain readers may give some a second copy: the operator says they know."""

    confirm_duplicates = forms.BooleanField(
        required=True,
        error_messages={"required": "Tick the box to confirm that some readers may get the issue twice."},
    )
