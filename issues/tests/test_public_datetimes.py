"""The `<time datetime>` values on the public pages are valid HTML date-times."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client

from issues.tests.public_helpers import published

pytestmark = pytest.mark.django_db

# HTML's "valid global date and time string": seconds optional, a fraction of
# one to three digits, then Z or an offset (the Nu checker rejects six digits).
GLOBAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})")
# A publish time with microseconds, as timezone.now() gives one.
WHEN = datetime.datetime(2025, 6, 3, 7, 45, 12, 345678, tzinfo=datetime.UTC)


def _datetimes(html: str) -> list[str]:
    return re.findall(r'<time datetime="([^"]*)"', html)


@pytest.mark.parametrize("path", ["/", "/newsletter/", "/newsletter/on-time/"])
def test_every_time_element_carries_a_valid_global_datetime(client: Client, path: str) -> None:
    published(full=False, slug="on-time", when=WHEN)
    values = _datetimes(client.get(path).content.decode())
    assert values, f"no <time datetime> on {path}"
    for value in values:
        assert GLOBAL_DATETIME.fullmatch(value), f"{value!r} on {path} is not a valid HTML date-time"


def test_the_datetime_names_the_publish_moment_in_the_publication_zone(client: Client, settings) -> None:
    settings.TIME_ZONE = "Europe/London"
    published(full=False, slug="on-time", when=WHEN)
    assert _datetimes(client.get("/newsletter/on-time/").content.decode()) == ["2025-06-03T08:45:12+01:00"]
