"""The embeddable sign-up form: allowed origins subscribe (JSON for the script, our thanks page
for the plain form), any other origin is refused with nothing stored."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.models import OutboxMessage
from subscribers.models import Subscriber, SubscriberStatus
from testing.factories import MailingListFactory, make_confirmed_reader

pytestmark = pytest.mark.django_db
PARTNER = "https://partner.example"
STRANGER = "https://stranger.example"


@pytest.fixture(autouse=True)
def _setup(settings: Any, celery_eager: None) -> None:
    settings.EMBED_ALLOWED_ORIGINS = [PARTNER]


def embed_post(client: Client, origin: str | None, *, script: bool = True, **data: str) -> Any:
    headers: dict[str, Any] = {"HTTP_SEC_FETCH_SITE": "cross-site"} if origin else {}
    if origin:
        headers["HTTP_ORIGIN"] = origin
    if script:
        headers["HTTP_ACCEPT"] = "application/json"
    return client.post("/subscribe/embed/", data, REMOTE_ADDR="203.0.113.9", **headers)


def test_the_script_from_an_allowed_origin_subscribes_and_may_read_the_answer(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    daily = MailingListFactory(name="Daily")
    with django_capture_on_commit_callbacks(execute=True):
        response = embed_post(client, PARTNER, email="ann@example.org", lists=str(daily.pk))
    assert response.status_code == 200
    assert response.json()["ok"] is True and "check your inbox" in response.json()["message"]
    assert response["Access-Control-Allow-Origin"] == PARTNER and "Origin" in response["Vary"]
    reader = Subscriber.objects.get()
    assert reader.status == SubscriberStatus.PENDING and list(reader.lists.all()) == [daily]
    assert reader.consents.get().form == f"embedded form on {PARTNER}"
    assert OutboxMessage.objects.filter(to="ann@example.org", subject__icontains="confirm").exists()


def test_the_plain_form_from_an_allowed_origin_lands_on_our_thanks_page(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = embed_post(client, PARTNER, script=False, email="ann@example.org")
    assert response.status_code == 302 and response["Location"] == "/subscribe/thanks/"
    assert Subscriber.objects.filter(email="ann@example.org").exists()


@pytest.mark.parametrize("script", [True, False])
def test_a_post_from_an_origin_not_on_the_list_is_refused_and_nothing_is_stored(
    client: Client, django_capture_on_commit_callbacks: Any, script: bool
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = embed_post(client, STRANGER, script=script, email="ann@example.org")
    assert response.status_code == 403
    if script:
        assert response.json() == {
            "ok": False,
            "error": "origin_not_allowed",
            "message": "This site may not embed our sign-up form; its origin is not on the list.",
        }
        # Readable by the refused page (so the script can say why), and nothing else is in it.
        assert response["Access-Control-Allow-Origin"] == STRANGER
    assert not Subscriber.objects.exists() and not callbacks


def test_the_preflight_answers_allowed_origins_only(client: Client) -> None:
    allowed = client.options("/subscribe/embed/", HTTP_ORIGIN=PARTNER)
    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == PARTNER and "POST" in allowed["Access-Control-Allow-Methods"]
    refused = client.options("/subscribe/embed/", HTTP_ORIGIN=STRANGER)
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused


def test_known_and_unknown_addresses_and_bots_get_the_same_answer(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    make_confirmed_reader(email="known@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        known = embed_post(client, PARTNER, email="known@example.org")
        new = embed_post(client, PARTNER, email="new@example.org")
        bot = embed_post(client, PARTNER, email="bot@example.org", website="http://spam.example")
    assert known.status_code == new.status_code == bot.status_code == 200
    assert known.json() == new.json() == bot.json()
    assert not Subscriber.objects.filter(email="bot@example.org").exists()


def test_a_bad_address_is_named_in_the_json_error(client: Client) -> None:
    response = embed_post(client, PARTNER, email="not-an-address")
    assert response.status_code == 400
    assert response.json()["ok"] is False and "email" in response.json()["errors"]
    assert not Subscriber.objects.exists()


def test_the_on_site_rate_limit_holds_for_the_embed_too(client: Client) -> None:
    answers = [embed_post(client, PARTNER, email="ann@example.org").status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]


def test_the_admin_page_makes_a_snippet_with_the_chosen_lists(admin_client: Client, settings: Any) -> None:
    settings.SITE_URL = "https://news.example"
    daily = MailingListFactory(name="Daily", public=True)
    MailingListFactory(name="Weekly", public=True)
    page = admin_client.get("/admin/subscribers/subscriber/embed/", {"lists": [daily.pk]}).content.decode()
    assert "https://news.example/subscribe/embed/" in page
    assert f"&lt;input type=&quot;hidden&quot; name=&quot;lists&quot; value=&quot;{daily.pk}&quot;&gt;" in page
    assert "https://news.example/static/subscribers/embed.js" in page
    assert PARTNER in page
    chooser = admin_client.get("/admin/subscribers/subscriber/embed/", {"lists": [daily.pk], "choose": "on"})
    assert "type=&quot;checkbox&quot; name=&quot;lists&quot;" in chooser.content.decode()
