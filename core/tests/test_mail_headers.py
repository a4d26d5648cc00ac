"""The headers every transactional email carries, and the List-Id of list email."""

from __future__ import annotations

import datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

import pytest
import time_machine
from django.core.mail import EmailMessage

from core.mail import build_templated, list_id_header, list_unsubscribe_headers, send_templated
from core.models import OutboxMessage

# Rendering a transactional email reads the masthead editors set (issues fills core.mail.mail_context_register).
pytestmark = pytest.mark.django_db

SUMMER = datetime.datetime(2025, 6, 3, 7, 45, 12, tzinfo=datetime.UTC)


def _built(**kwargs):
    kwargs.setdefault("kind", "operator_check")
    kwargs.setdefault("to", ["reader@example.org"])
    kwargs.setdefault("context", {})
    return message_from_bytes(build_templated(**kwargs).message().as_bytes())


@time_machine.travel(SUMMER, tick=False)
def test_the_date_names_the_publication_zone_not_minus_zero(settings) -> None:
    settings.TIME_ZONE = "Europe/London"
    date = _built()["Date"]
    assert date.endswith("+0100"), date
    assert parsedate_to_datetime(date) == SUMMER


def test_the_message_id_is_on_the_sender_domain(settings) -> None:
    settings.DEFAULT_FROM_EMAIL = "The Daily <news@mail.example.com>"
    first, second = _built()["Message-ID"], _built()["Message-ID"]
    assert first.endswith("@mail.example.com>") and second.endswith("@mail.example.com>")
    assert first != second


def test_a_caller_given_message_id_is_kept(settings) -> None:
    assert _built(headers={"Message-ID": "<own@example.com>"})["Message-ID"] == "<own@example.com>"


def test_an_email_with_an_unsubscribe_link_names_its_list(settings) -> None:
    settings.DEFAULT_FROM_EMAIL = "The Daily <News@Example.com>"
    settings.PUBLISHER_NAME = 'The "Daily"'
    built = _built(headers=list_unsubscribe_headers("https://example.com/u/1/"))
    assert built["List-Id"] == '"The \\"Daily\\"" <news.example.com>'
    assert _built()["List-Id"] is None


def test_a_publisher_name_outside_ascii_is_encoded_and_the_id_stays_readable(settings) -> None:
    settings.DEFAULT_FROM_EMAIL = "newsletter@example.com"
    settings.PUBLISHER_NAME = "Die Zeitung für Morgen"
    value = list_id_header()["List-Id"]
    assert value.isascii() and value.endswith(" <newsletter.example.com>")
    assert str(make_header(decode_header(value.rsplit(" ", 1)[0]))) == "Die Zeitung für Morgen"


def test_the_outbox_keeps_the_message_under_its_own_message_id(settings) -> None:
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    settings.DEFAULT_FROM_EMAIL = "newsletter@example.com"
    message_id = send_templated(kind="operator_check", to=["reader@example.org"], context={})
    stored = OutboxMessage.objects.get()
    assert message_id == stored.message_id == stored.headers["Message-ID"]
    assert stored.message_id.endswith("@example.com>") and "Date" in stored.headers


@time_machine.travel(SUMMER, tick=False)
def test_a_message_django_dates_itself_names_the_publication_zone(settings) -> None:
    # The issue batches do not set a Date; Django's own must carry the zone too.
    settings.TIME_ZONE = "Europe/London"
    date = EmailMessage("Subject", "Body", "newsletter@example.com", ["reader@example.org"]).message()["Date"]
    assert date.endswith("+0100"), date
    assert parsedate_to_datetime(date) == SUMMER
