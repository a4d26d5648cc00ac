from __future__ import annotations

from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from subscribers.links import links_for
from subscribers.models import Consent, Subscriber, SubscriberStatus
from subscribers.selectors import sendable_subscribers
from testing.factories import make_confirmed_reader

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


def test_the_unsubscribe_page_works_without_a_csrf_cookie() -> None:
    # The signed token authenticates the POST; a browser that blocks cookies must still get out.
    reader = make_confirmed_reader()
    client = Client(enforce_csrf_checks=True)
    response = client.post(link(reader, "unsubscribe_url"))
    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED


def test_a_head_or_get_of_the_one_click_url_never_unsubscribes(client: Client) -> None:
    reader = make_confirmed_reader()
    assert client.head(link(reader, "one_click_url")).status_code == 200
    assert client.head(link(reader, "unsubscribe_url")).status_code == 200
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE


@pytest.mark.parametrize("days", [61, 200, 364])
def test_links_from_an_old_email_still_work_for_at_least_sixty_days(days: int) -> None:
    reader = make_confirmed_reader()
    links = {key: link(reader, key) for key in ("unsubscribe_url", "one_click_url", "preferences_url")}
    later = signing.time.time() + timedelta(days=days).total_seconds()
    client = Client(enforce_csrf_checks=True)
    with mock.patch("django.core.signing.time.time", return_value=later):
        assert client.get(links["preferences_url"]).status_code == 200
        assert "Unsubscribe?" in client.get(links["unsubscribe_url"]).content.decode()
        assert client.post(links["one_click_url"], {"List-Unsubscribe": "One-Click"}).status_code == 200
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED


def test_a_link_older_than_a_year_says_it_expired(client: Client) -> None:
    reader = make_confirmed_reader()
    url = link(reader, "unsubscribe_url")
    later = signing.time.time() + timedelta(days=366).total_seconds()
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.get(url)
    assert response.status_code == 400 and "This link has expired." in response.content.decode()


def test_a_reader_who_unsubscribed_by_mistake_subscribes_again_from_the_page(client: Client) -> None:
    reader = make_confirmed_reader()
    done = client.post(link(reader, "unsubscribe_url"))
    assert "Subscribe again" in done.content.decode()
    again = client.post(link(reader, "preferences_url"), {"action": "resubscribe"}, follow=True)
    assert "you are subscribed again" in again.content.decode()
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE and reader.unsubscribed_at is None
    assert sendable_subscribers().filter(pk=reader.pk).exists()
    assert list(reader.consents.values_list("action", flat=True).order_by("at", "pk")) == [
        Consent.Action.UNSUBSCRIBE,
        Consent.Action.SUBSCRIBE,
    ]
