"""Readers' time zones: IANA names (``Europe/Berlin``), checked against the zone data
Python's zoneinfo reads (the system's tz database, else the ``tzdata`` package).

A blank zone means "unknown": sends at each reader's local time use the
publication's zone (settings.TIME_ZONE) for them."""

from __future__ import annotations

import functools
import zoneinfo

from django.core.exceptions import ValidationError

MAX_ZONE_LENGTH = 64


@functools.cache
def known_zones() -> frozenset[str]:
    """Every zone name zoneinfo can load here (aliases such as Asia/Calcutta included:
    browsers still report some of them)."""
    return frozenset(zoneinfo.available_timezones())


def zone_check(value: str) -> str:
    """The zone name, trimmed; a ValidationError that names it when it is not a known IANA zone."""
    name = (value or "").strip()
    if not name:
        return ""
    if len(name) > MAX_ZONE_LENGTH or name not in known_zones():
        raise ValidationError(
            f"“{name[:MAX_ZONE_LENGTH]}” is not a known time zone; use an IANA name such as Europe/Berlin "
            "or America/New_York (or leave it blank).",
            code="unknown_time_zone",
        )
    return name


def validate_time_zone(value: str) -> None:
    """Model field validator (admin forms, full_clean)."""
    zone_check(value)


def zone_guess(value: str) -> str:
    """A zone a browser guessed (the subscribe form's hidden field): kept when known, else
    dropped, since the reader cannot see or fix it."""
    try:
        return zone_check(value)
    except ValidationError:
        return ""


@functools.cache
def zone_choices() -> list[tuple[str, str]]:
    """Choices for a select: blank first, then the canonical Area/City zones and UTC, sorted."""
    names = sorted(
        n for n in known_zones() if "/" in n and not n.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    )
    return [("", "Not set (the publication's time zone)"), ("UTC", "UTC"), *((n, n.replace("_", " ")) for n in names)]
