"""Dates in the forms HTML accepts, for machine-readable attributes."""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def html_datetime(value: datetime.datetime | None) -> str:
    """A valid global date and time string for ``<time datetime>``, to the second.

    Django's ``date:'c'`` keeps six digits of a fraction of a second, which the
    HTML standard (and the Nu checker) rejects: it allows at most three."""
    if not value:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.isoformat(timespec="seconds")
