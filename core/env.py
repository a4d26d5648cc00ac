"""Small strict readers for settings that come from the environment.

Each helper names the variable in its error, so a malformed value stops
start-up with a message that says exactly what to fix.
"""

from __future__ import annotations

import datetime
import os
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_positive(name: str) -> int | None:
    """A whole number of at least 1, or None when unset (a limit that is off)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return env_positive_item(name, raw)


def env_positive_item(name: str, raw: str) -> int:
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name}={value} must be at least 1 (leave it unset for no limit).")
    return value


def env_date(name: str) -> datetime.date | None:
    """A calendar day written YYYY-MM-DD, or None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a date; write it YYYY-MM-DD.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    raw = os.environ.get(name, default).strip()
    if not raw:
        return raw
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not parsed.netloc:
        allowed = ", ".join(schemes)
        raise ImproperlyConfigured(f"{name}={raw!r} is not a valid URL (expected scheme {allowed} and a host).")
    return raw.rstrip("/")


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name, default).strip().lower()
    if raw not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} is not one of: {', '.join(choices)}.")
    return raw


def env_time_zone(name: str, default: str) -> str:
    """An IANA time zone name (``Europe/London``); an unknown one stops start-up with what to use."""
    import zoneinfo

    raw = os.environ.get(name, default).strip()
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a known time zone; use an IANA name such as Europe/London or America/New_York."
        ) from None
    return raw
