"""The local outbox: the default mail backend and the /dev/outbox/ pages."""

from __future__ import annotations

import pytest
from anymail.message import AnymailMessage
from django.core.mail import EmailMessage, get_connection
from django.urls import include, path

from core.models import OutboxMessage
from newsroom.urls import urlpatterns as site_urlpatterns

pytestmark = pytest.mark.django_db

# newsroom/urls.py adds the outbox only when DEBUG is on at import time; tests
# run with DEBUG off, so this module serves as a URLconf that always has it.
urlpatterns = [path("dev/outbox/", include("core.urls")), *site_urlpatterns]
with_outbox_urls = pytest.mark.urls(__name__)


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    return get_connection()


def batch_message() -> AnymailMessage:
    message = AnymailMessage(
        subject="Today for %recipient.name%",
        body="Hello %recipient.name%. Leave: %recipient.unsubscribe_url%",
        from_email="The Newsroom Daily <newsletter@example.com>",
        to=["ada@example.org", "bram@example.org"],
        headers={"List-Unsubscribe": "<%recipient.unsubscribe_url%>"},
    )
    message.attach_alternative(
        '<p>Hello %recipient.name%</p><a href="%recipient.unsubscribe_url%">Leave</a>', "text/html"
    )
    message.merge_data = {
        "ada@example.org": {"name": "Ada", "unsubscribe_url": "https://news.example.com/u/ada/"},
        "bram@example.org": {"name": "Bram", "unsubscribe_url": "https://news.example.com/u/bram/"},
    }
    message.merge_headers = {
        "ada@example.org": {"Message-ID": "<1.ada@news.example.com>"},
        "bram@example.org": {"Message-ID": "<1.bram@news.example.com>"},
    }
    message.metadata = {"send_id": "7"}
    message.merge_metadata = {"ada@example.org": {"delivery_id": "70"}, "bram@example.org": {"delivery_id": "71"}}
    return message


def test_it_stores_one_copy_per_reader_with_their_own_values(outbox):
    message = batch_message()

    sent = outbox.send_messages([message])

    assert sent == 1
    ada = OutboxMessage.objects.get(to="ada@example.org")
    bram = OutboxMessage.objects.get(to="bram@example.org")
    assert ada.subject == "Today for Ada"
    assert ada.text_body == "Hello Ada. Leave: https://news.example.com/u/ada/"
    assert ada.html_body == '<p>Hello Ada</p><a href="https://news.example.com/u/ada/">Leave</a>'
    assert ada.headers["List-Unsubscribe"] == "<https://news.example.com/u/ada/>"
    assert ada.metadata == {"send_id": "7", "delivery_id": "70"}
    assert ada.message_id == "<1.ada@news.example.com>"
    assert bram.subject == "Today for Bram"
    assert "%recipient" not in bram.text_body + bram.html_body
    assert bram.metadata["delivery_id"] == "71"


def test_it_reports_a_queued_status_and_message_id_per_recipient(outbox):
    message = batch_message()

    outbox.send_messages([message])

    recipients = message.anymail_status.recipients
    assert recipients["ada@example.org"].status == "queued"
    assert recipients["bram@example.org"].message_id == "<1.bram@news.example.com>"


def test_a_plain_message_gets_a_generated_message_id_and_no_tags_left(outbox):
    EmailMessage("Hi %recipient.name%", "Body", "from@example.com", ["solo@example.org"], connection=outbox).send()

    stored = OutboxMessage.objects.get()
    assert stored.subject == "Hi "
    assert stored.text_body == "Body"
    assert stored.html_body == ""
    assert stored.message_id.endswith("@outbox.newsroom.local>")


@with_outbox_urls
def test_the_list_shows_each_copy_and_filters_by_recipient(outbox, client, settings):
    settings.DEBUG = True
    outbox.send_messages([batch_message()])

    everything = client.get("/dev/outbox/")
    only_ada = client.get("/dev/outbox/", {"to": "ada@"})

    assert everything.status_code == 200
    assert everything.text.count("Today for Ada") == 1 and everything.text.count("Today for Bram") == 1
    assert 'class="messages"' not in everything.text  # the stored mail is not shown as site notices
    assert "Today for Ada" in only_ada.text
    assert "Today for Bram" not in only_ada.text


@with_outbox_urls
def test_the_detail_page_shows_headers_text_and_frames_the_html(outbox, client, settings):
    settings.DEBUG = True
    outbox.send_messages([batch_message()])
    ada = OutboxMessage.objects.get(to="ada@example.org")

    detail = client.get(f"/dev/outbox/{ada.pk}/")
    html = client.get(f"/dev/outbox/{ada.pk}/html/")

    assert detail.status_code == 200
    assert "Today for Ada" in detail.text
    assert "&lt;https://news.example.com/u/ada/&gt;" in detail.text
    assert "Hello Ada. Leave:" in detail.text
    assert f'src="/dev/outbox/{ada.pk}/html/"' in detail.text
    assert '<a href="https://news.example.com/u/ada/"' in detail.text
    assert html.status_code == 200
    assert html.content.decode() == '<base target="_top">' + ada.html_body
    assert html["X-Frame-Options"] == "SAMEORIGIN"
    assert "script-src 'none'" in html["Content-Security-Policy"]


@with_outbox_urls
def test_an_unknown_message_is_not_found(client, settings):
    settings.DEBUG = True

    assert client.get("/dev/outbox/999999/").status_code == 404


@with_outbox_urls
@pytest.mark.parametrize("url", ["/dev/outbox/", "/dev/outbox/{pk}/", "/dev/outbox/{pk}/html/"])
def test_the_pages_are_not_found_when_debug_is_off(outbox, client, settings, url):
    settings.DEBUG = False
    outbox.send_messages([batch_message()])
    pk = OutboxMessage.objects.first().pk

    assert client.get(url.format(pk=pk)).status_code == 404


def test_the_site_does_not_route_the_outbox_when_started_without_debug(client):
    # The real URLconf, imported with DEBUG off as in production.
    assert client.get("/dev/outbox/").status_code == 404


@with_outbox_urls
def test_links_in_the_framed_email_open_in_the_whole_tab(outbox, client, settings):
    settings.DEBUG = True
    message = EmailMessage("Confirm", "", "from@example.com", ["solo@example.org"], connection=outbox)
    message.content_subtype = "html"
    message.body = '<html><head><title>x</title></head><body><a href="/confirm/abc/">Confirm</a></body></html>'
    message.send()
    stored = OutboxMessage.objects.get()

    html = client.get(f"/dev/outbox/{stored.pk}/html/").content.decode()

    assert html.startswith('<html><head><base target="_top"><title>x</title>')
    assert '<a href="/confirm/abc/">Confirm</a>' in html
