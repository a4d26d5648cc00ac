"""Reader-facing forms."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils import timezone

from subscribers.models import MailingList
from subscribers.normalise import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, clean_name, normalise_email
from subscribers.selectors import public_list_choices, public_lists
from subscribers.timezones import zone_check, zone_choices, zone_guess

_SITE_PATH = re.compile(r"/[A-Za-z0-9/_.~-]{0,80}")


class AddressField(forms.CharField):
    """An email address, normalised (trimmed, IDNA domain) with a clear message when it is not one.

    No max_length here: normalise_email says "at most 254 characters" itself.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": "Enter an email address."})
        super().__init__(**kwargs)
        self.widget = forms.EmailInput(attrs={"autocomplete": "email", "maxlength": MAX_EMAIL_LENGTH})

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        return normalise_email(value) if value else value


class SubscribeForm(forms.Form):
    email = AddressField(label="Email address")
    name = forms.CharField(label="Name (optional)", max_length=MAX_NAME_LENGTH, required=False, strip=False)
    lists = forms.ModelMultipleChoiceField(
        label="Newsletters",
        queryset=MailingList.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill it in.
    website = forms.CharField(required=False, label="Leave this field empty")
    # The page the form was on, for the consent record ("subscribe form on /issues/…").
    source = forms.CharField(required=False, widget=forms.HiddenInput)
    # The browser's time zone, filled in by subscribers/static/subscribers/time_zone.js (blank without it).
    time_zone = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = public_list_choices()
        field = self.fields["lists"]
        # The queryset only checks a POST's choices; the boxes come from the cached list,
        # so the form on every page costs no query. (queryset first: setting it resets choices.)
        field.queryset = public_lists()  # type: ignore[attr-defined]
        field.choices = [(item.pk, item.name) for item in offered]  # type: ignore[attr-defined]
        field.initial = [item.pk for item in offered if item.default]

    def clean_name(self) -> str:
        return clean_name(self.cleaned_data.get("name", ""))

    def clean_source(self) -> str:
        page = self.cleaned_data.get("source", "")
        # Sent by the browser, so only a plain site path is kept; anything else is just "subscribe form".
        return f"subscribe form on {page}" if _SITE_PATH.fullmatch(page) else "subscribe form"

    def clean_time_zone(self) -> str:
        # A guess the reader never saw: one we do not know is dropped, not shown as an error.
        return zone_guess(self.cleaned_data.get("time_zone", ""))

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class ResendForm(forms.Form):
    email = AddressField(label="Email address")


class PreferencesForm(forms.Form):
    name = forms.CharField(label="Name", max_length=MAX_NAME_LENGTH, required=False, strip=False)
    lists = forms.ModelMultipleChoiceField(
        label="Newsletters", queryset=MailingList.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    paused_until = forms.DateField(
        label="Pause all emails until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty to keep receiving issues.",
    )
    time_zone = forms.ChoiceField(
        label="Your time zone",
        required=False,
        choices=zone_choices,
        help_text="Issues sent “at 7:00 in each reader's time zone” reach you at that hour on your clock.",
        error_messages={"invalid_choice": "“%(value)s” is not a known time zone; choose one from the list."},
    )

    def __init__(self, *args: Any, current_lists: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Readers see the public lists plus any private list they are already on.
        ids = {item.pk for item in public_list_choices()} | {item.pk for item in (current_lists or [])}
        self.fields["lists"].queryset = MailingList.objects.filter(pk__in=ids)  # type: ignore[attr-defined]

    def clean_name(self) -> str:
        return clean_name(self.cleaned_data.get("name", ""))

    def clean_time_zone(self) -> str:
        return zone_check(self.cleaned_data.get("time_zone", ""))

    def clean_paused_until(self) -> Any:
        value = self.cleaned_data.get("paused_until")
        if value and value <= timezone.localdate():
            raise forms.ValidationError("Choose a date in the future.")
        return value
