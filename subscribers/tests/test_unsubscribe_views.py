from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from newsroom.testing.factories import make_confirmed_reader
from subscribers.links import links_for
from subscribers.models import Consent, Subscriber, SubscriberStatus
from subscribers.selectors import sendable_subscribers

pytestmark = pytest.mark.django_db


def link(reader: Subscriber, key: str) -> str:
    return urlsplit(links_for(subscriber_id=reader.pk, email=reader.email)[key]).path


def test_links_are_absolute_on_site_url(settings: object) -> None:
    links = links_for(subscriber_id=7, email="a@example.org")
    assert set(links) == {"unsubscribe_url", "one_click_url", "preferences_url"}
    assert all(url.startswith("http://127.0.0.1:8000/") for url in links.values())


def test_the_unsubscribe_link_asks_before_it_acts_and_then_acts_at_once(client: Client) -> None:
    reader = make_confirmed_reader()
    page = client.get(link(reader, "unsubscribe_url"))
    assert page.status_code == 200 and "Unsubscribe?" in page.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE
    done = client.post(link(reader, "unsubscribe_url"))
    assert "You are unsubscribed" in done.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED and reader.unsubscribed_at is not None
    assert not sendable_subscribers().filter(pk=reader.pk).exists()
    assert reader.consents.filter(action=Consent.Action.UNSUBSCRIBE).count() == 1


@pytest.mark.parametrize("multipart", [False, True])
def test_one_click_post_without_cookie_or_csrf_unsubscribes_with_200(multipart: bool) -> None:
    reader = make_confirmed_reader()
    client = Client(enforce_csrf_checks=True)
    url = link(reader, "one_click_url")
    if multipart:
        response = client.post(url, {"List-Unsubscribe": "One-Click"})
    else:
        response = client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Location" not in response
    assert not response.cookies
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED


def test_one_click_is_idempotent() -> None:
    reader = make_confirmed_reader()
    client = Client(enforce_csrf_checks=True)
    url = link(reader, "one_click_url")
    for _ in range(3):
        assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert reader.consents.filter(action=Consent.Action.UNSUBSCRIBE).count() == 1


def test_a_get_of_the_one_click_url_never_unsubscribes(client: Client) -> None:
    reader = make_confirmed_reader()
    response = client.get(link(reader, "one_click_url"))
    assert response.status_code == 200 and "Unsubscribe?" in response.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE


def test_one_click_refuses_a_body_without_the_rfc_8058_field_and_a_tampered_token() -> None:
    reader = make_confirmed_reader()
    client = Client(enforce_csrf_checks=True)
    url = link(reader, "one_click_url")
    assert client.post(url, {"something": "else"}).status_code == 400
    assert (
        client.post(url.replace("/unsubscribe/", "/unsubscribe/A"), {"List-Unsubscribe": "One-Click"}).status_code
        == 400
    )
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE


def test_an_unsubscribe_link_stops_working_once_the_reader_is_erased(client: Client) -> None:
    reader = make_confirmed_reader()
    url = link(reader, "unsubscribe_url")
    reader.delete()
    response = client.get(url)
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
