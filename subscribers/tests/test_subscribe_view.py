from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from core.models import OutboxMessage
from subscribers import services, views
from subscribers.models import Consent, Subscriber, SubscriberStatus, Suppression
from subscribers.services import CONSENT_TEXT, suppression_add
from testing.factories import MailingListFactory, make_confirmed_reader, make_pending_reader
from testing.fixtures import CLOSED_REDIS_URL, BrokerOutage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_run_in_process(celery_eager: None) -> None:
    """The request queues the subscribe task; here it runs at once, as a worker would run it."""


def post(client: Client, **data: str) -> object:
    return client.post("/subscribe/", data, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="TestBrowser/1.0")


def test_home_page_shows_a_real_subscribe_form_with_public_lists_and_consent_words(client: Client) -> None:
    MailingListFactory(name="Daily digest", public=True)
    MailingListFactory(name="Staff only", public=False)
    html = client.get("/subscribe/").content.decode()
    assert 'name="email"' in html and 'name="website"' in html
    assert "Daily digest" in html and "Staff only" not in html
    assert CONSENT_TEXT in html


def test_it_stores_a_pending_reader_with_consent_and_queues_a_confirmation(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    daily = MailingListFactory(name="Daily")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = post(client, email="  Reader@Example.ORG ", name="Ada", lists=str(daily.pk))
    assert response.status_code == 302 and response["Location"] == "/subscribe/thanks/"
    reader = Subscriber.objects.get()
    assert reader.email == "Reader@example.org"
    assert reader.status == SubscriberStatus.PENDING
    assert list(reader.lists.all()) == [daily]
    consent = reader.consents.get()
    assert consent.action == Consent.Action.SUBSCRIBE
    assert consent.ip == "203.0.113.7" and consent.user_agent == "TestBrowser/1.0"
    assert consent.text == f"{CONSENT_TEXT}\nNewsletters ticked: Daily"
    mail = OutboxMessage.objects.get(to="Reader@example.org")
    assert "Confirm" in mail.subject
    assert re.search(r"http://[^\s\"]+/subscribe/confirm/[^\s\"/]+/", mail.text_body)


def test_the_answer_is_the_same_for_new_pending_and_active_addresses(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    make_pending_reader(email="pending@example.org")
    active = make_confirmed_reader(email="active@example.org")
    other = MailingListFactory.create(name="Other")
    answers = set()
    for address in ("new@example.org", "pending@example.org", "active@example.org"):
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            response = post(client, email=address, lists=str(other.pk))
        page = client.get(response["Location"])
        answers.add((response.status_code, response["Location"], response.content, page.content))
    assert len(answers) == 1 and next(iter(answers))[:2] == (302, "/subscribe/thanks/")
    assert Subscriber.objects.get(email="active@example.org").status == SubscriberStatus.ACTIVE
    # A stranger typing someone's address changes nothing of their subscription.
    assert not active.lists.exists() and not active.consents.exists()
    # Each address got exactly one email: two confirmations and one note to the active reader.
    subjects = dict(OutboxMessage.objects.values_list("to", "subject"))
    assert subjects["new@example.org"].startswith("Confirm") and subjects["pending@example.org"].startswith("Confirm")
    assert subjects["active@example.org"].startswith("You are already subscribed")
    assert OutboxMessage.objects.count() == 3


def test_an_active_reader_is_told_with_their_preferences_link_at_most_once_per_cool_down(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    make_confirmed_reader(email="known@example.org", name="Kim")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            post(client, email="Known@Example.org")
    note = OutboxMessage.objects.get(to="known@example.org")
    assert "already subscribed, so nothing has changed" in note.text_body
    assert "/subscription/" in note.text_body and "/subscribe/confirm/" not in note.text_body
    assert note.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    preferences = note.text_body.split("open your preferences:\n", 1)[1].split()[0]
    assert client.get(urlsplit(preferences).path).status_code == 200
    Subscriber.objects.update(confirmation_sent_at=timezone.now() - timezone.timedelta(minutes=11))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        post(client, email="known@example.org")
    assert OutboxMessage.objects.filter(to="known@example.org").count() == 2


def test_two_requests_racing_for_a_new_address_store_one_reader(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second request read "no such reader" before the first one committed.
    make_pending_reader(email="race@example.org")
    real = services.subscriber_by_email
    calls = []

    def stale_first_read(address: str) -> Subscriber | None:
        calls.append(address)
        return None if len(calls) == 1 else real(address)

    monkeypatch.setattr(services, "subscriber_by_email", stale_first_read)
    response = post(client, email="race@example.org")
    assert response.status_code == 302
    reader = Subscriber.objects.get()
    assert reader.consents.count() == 1 and len(calls) == 2


def test_the_consent_records_the_page_the_form_was_on(client: Client) -> None:
    post(client, email="page@example.org", source="/issues/2026-01-05-small-models/")
    post(client, email="odd@example.org", source="javascript:alert(1)")
    assert Consent.objects.get(subscriber__email="page@example.org").form == (
        "subscribe form on /issues/2026-01-05-small-models/"
    )
    assert Consent.objects.get(subscriber__email="odd@example.org").form == "subscribe form"
    html = client.get("/archive/").content.decode()
    assert 'name="source" value="/archive/"' in html


def test_address_is_unique_whatever_its_case(client: Client) -> None:
    post(client, email="Same@Example.org")
    post(client, email="same@EXAMPLE.org")
    assert Subscriber.objects.count() == 1


def test_a_pending_address_gets_no_second_confirmation_within_the_cool_down(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        post(client, email="wait@example.org")
        post(client, email="wait@example.org")
    assert OutboxMessage.objects.filter(to="wait@example.org").count() == 1
    Subscriber.objects.update(confirmation_sent_at=timezone.now() - timezone.timedelta(minutes=11))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        post(client, email="wait@example.org")
    assert OutboxMessage.objects.filter(to="wait@example.org").count() == 2


def test_a_suppressed_address_gets_the_same_answer_and_no_email(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    suppression_add(email="gone@example.org", reason=Suppression.Reason.COMPLAINT)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = post(client, email="GONE@example.org")
    assert response["Location"] == "/subscribe/thanks/"
    assert not Subscriber.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_the_honeypot_answers_like_a_person_and_stores_and_sends_nothing(
    client: Client, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = post(client, email="bot@example.org", website="http://spam.example")
    assert response["Location"] == "/subscribe/thanks/"
    assert not Subscriber.objects.exists() and not OutboxMessage.objects.exists()


def test_a_post_from_another_site_is_refused_and_stores_nothing() -> None:
    # The form carries no CSRF token (it sits on cached pages); the browser's
    # own headers say where the post came from (core.origin).
    client = Client(enforce_csrf_checks=True)
    cross_site = client.post("/subscribe/", {"email": "x@example.org"}, HTTP_SEC_FETCH_SITE="cross-site")
    foreign = client.post("/subscribe/", {"email": "x@example.org"}, HTTP_ORIGIN="https://evil.example")
    assert cross_site.status_code == 403 and foreign.status_code == 403
    assert not Subscriber.objects.exists()


def test_a_same_origin_post_needs_no_csrf_token_or_cookie(django_capture_on_commit_callbacks: object) -> None:
    client = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = client.post(
            "/subscribe/", {"email": "same@example.org"}, HTTP_SEC_FETCH_SITE="same-origin", REMOTE_ADDR="203.0.113.8"
        )
    assert response.status_code == 302 and response["Location"] == "/subscribe/thanks/"
    assert Subscriber.objects.filter(email="same@example.org").exists()


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-address", "is not an email address"),
        ("a" * 250 + "@example.org", "at most 254 characters"),
        ("two@@example.org", "Enter a valid email address"),
        ("", "Enter an email address"),
        ("josé@example.org", "accented or non-Latin letters before the “@”"),
        ("a@bü cher.example", "is not a valid domain name"),
        ("a@bad_domain.org", "Enter a valid email address"),
        ("x" * 400 + "@example.org", "at most 254 characters"),
    ],
)
def test_bad_addresses_get_a_clear_message_and_nothing_is_stored(client: Client, email: str, message: str) -> None:
    response = post(client, email=email)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "name", ["Eve\r\nBcc: victim@example.org", "Eve\nBcc: x@example.org", "Eve\u2028Bcc", "Eve\x85Bcc", "Tab\there"]
)
def test_a_line_break_or_control_character_in_the_name_is_refused(client: Client, name: str) -> None:
    response = post(client, email="inject@example.org", name=name)
    assert response.status_code == 400
    assert "cannot contain line breaks" in response.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("name", ['<a href="https://evil.example/">Prize</a>', "Eve>", "\uff1cb\uff1eEve"])
def test_markup_characters_in_the_name_are_refused(client: Client, name: str) -> None:
    response = post(client, email="markup@example.org", name=name)
    assert response.status_code == 400
    assert "A name cannot contain the characters &lt; or &gt;." in response.content.decode()
    assert not Subscriber.objects.exists()


def test_ordinary_punctuation_in_names_is_kept(client: Client) -> None:
    post(client, email="obrien@example.org", name='Seán O\'Brien & "Bob"')
    assert Subscriber.objects.get().name == 'Seán O\'Brien & "Bob"'


@pytest.mark.parametrize("status", [SubscriberStatus.PENDING, SubscriberStatus.ACTIVE, SubscriberStatus.UNSUBSCRIBED])
def test_a_subscribe_request_never_changes_an_existing_readers_name(
    client: Client, django_capture_on_commit_callbacks: object, status: str
) -> None:
    nameless = make_pending_reader(email="nameless@example.org", name="")
    named = make_pending_reader(email="named@example.org", name="Nora")
    Subscriber.objects.update(status=status)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        post(client, email="nameless@example.org", name="Stranger")
        post(client, email="named@example.org", name="Stranger")
    nameless.refresh_from_db()
    named.refresh_from_db()
    assert (nameless.name, named.name) == ("", "Nora")
    # Whatever email the request triggered greets the reader by their own name, not the stranger's.
    assert not OutboxMessage.objects.filter(text_body__contains="Stranger").exists()


def test_an_over_long_name_is_refused(client: Client) -> None:
    response = post(client, email="long@example.org", name="N" * 101)
    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_an_idn_domain_is_accepted_and_stored_in_ascii(client: Client) -> None:
    post(client, email="leser@Bücher.Example")
    post(client, email="leser@xn--bcher-kva.example")
    reader = Subscriber.objects.get()
    assert reader.email == "leser@xn--bcher-kva.example"


def test_idn_domains_follow_idna_2008_so_sharp_s_is_not_another_domain(client: Client) -> None:
    # IDNA 2003 (Python's "idna" codec) would store strasse.de, a different domain.
    post(client, email="post@straße.de")
    assert Subscriber.objects.get().email == "post@xn--strae-oqa.de"


def test_rate_limit_per_address_stops_flooding_one_inbox(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "RATE_PER_ADDRESS", "3/h")
    codes = [
        client.post("/subscribe/", {"email": "victim@example.org"}, REMOTE_ADDR=f"198.51.100.{i}").status_code
        for i in range(5)
    ]
    assert codes == [302, 302, 302, 429, 429]


def test_rate_limit_per_ip(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "RATE_PER_IP", "2/h")
    codes = [post(client, email=f"r{i}@example.org").status_code for i in range(3)]
    assert codes == [302, 302, 429]
    assert "Too many attempts" in post(client, email="late@example.org").content.decode()
    assert Subscriber.objects.count() == 2


def test_a_crafted_post_cannot_join_a_list_readers_are_not_offered(client: Client) -> None:
    staff = MailingListFactory(name="Staff only", public=False)
    response = post(client, email="sneaky@example.org", lists=str(staff.pk))
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_the_fresh_link_form_is_rate_limited_per_address_too(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "RATE_PER_ADDRESS", "2/h")
    make_pending_reader(email="victim@example.org")
    codes = [
        client.post("/subscribe/resend/", {"email": "victim@example.org"}, REMOTE_ADDR=f"198.51.100.{i}").status_code
        for i in range(3)
    ]
    assert codes == [302, 302, 429]


# --- the task queue (Redis) is down ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_the_queue_down_nothing_is_stored_the_form_comes_back_filled_in_and_asking_again_works(
    client: Client, broker_down: BrokerOutage
) -> None:
    daily = MailingListFactory(name="Daily")
    response = post(client, email="outage@example.org", name="Ola", lists=str(daily.pk))
    assert response.status_code == 503 and response["Retry-After"] == "120"
    page = response.content.decode()
    assert "nothing was saved and no email was sent" in page and "try again in a few minutes" in page
    assert 'value="outage@example.org"' in page and 'value="Ola"' in page and "Daily" in page
    assert 'class="button header-cta" href="#subscribe"' in page and 'id="subscribe"' in page
    assert not Subscriber.objects.exists() and not Consent.objects.exists()
    assert not OutboxMessage.objects.exists()

    broker_down.end(eager=True)
    response = post(client, email="outage@example.org", name="Ola", lists=str(daily.pk))
    assert response.status_code == 302 and response["Location"] == "/subscribe/thanks/"
    reader = Subscriber.objects.get()
    assert reader.status == SubscriberStatus.PENDING and list(reader.lists.all()) == [daily]
    assert reader.consents.count() == 1 and reader.confirmation_sent_at is not None
    mail = OutboxMessage.objects.get(to="outage@example.org")
    assert mail.subject.startswith("Confirm") and "/subscribe/confirm/" in mail.text_body


@pytest.mark.django_db(transaction=True)
def test_with_the_queue_down_subscribing_again_is_not_held_back_by_the_cool_down(
    client: Client, broker_down: BrokerOutage
) -> None:
    earlier = timezone.now() - timezone.timedelta(minutes=30)
    make_pending_reader(email="again@example.org")
    Subscriber.objects.update(confirmation_sent_at=earlier)
    assert post(client, email="again@example.org").status_code == 503
    assert Subscriber.objects.get().confirmation_sent_at == earlier
    broker_down.end(eager=True)
    assert post(client, email="again@example.org")["Location"] == "/subscribe/thanks/"
    assert OutboxMessage.objects.filter(to="again@example.org").count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_the_queue_down_new_pending_active_and_suppressed_addresses_get_the_same_page(
    client: Client, broker_down: BrokerOutage
) -> None:
    make_pending_reader(email="pending@example.org")
    make_confirmed_reader(email="active@example.org")
    suppression_add(email="gone@example.org", reason=Suppression.Reason.HARD_BOUNCE)
    pages = set()
    for address in ("new@example.org", "pending@example.org", "active@example.org", "gone@example.org"):
        response = post(client, email=address)
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        pages.add((response.status_code, page.replace(address, "ADDRESS")))
    assert len(pages) == 1 and next(iter(pages))[0] == 503
    assert not Subscriber.objects.exclude(confirmation_sent_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_the_fresh_link_form_with_the_queue_down_says_so_and_keeps_no_cool_down(
    client: Client, broker_down: BrokerOutage
) -> None:
    make_pending_reader(email="late@example.org")
    response = client.post("/subscribe/resend/", {"email": "late@example.org"})
    assert response.status_code == 503
    assert "We could not send the email just now." in response.content.decode()
    assert Subscriber.objects.get().confirmation_sent_at is None


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_altogether_nothing_is_stored_and_the_form_comes_back_filled_in(
    client: Client, broker_down: BrokerOutage, settings: Any
) -> None:
    # The default set-up: the cache that counts attempts is the same Redis as the queue.
    settings.CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": CLOSED_REDIS_URL}}
    MailingListFactory(name="Daily")
    assert client.get("/subscribe/").status_code == 200
    response = post(client, email="nobody@example.org", name="Nia")
    assert response.status_code == 503
    page = response.content.decode()
    assert "nothing was saved and no email was sent" in page
    assert 'value="nobody@example.org"' in page and 'value="Nia"' in page and "Daily" in page
    assert 'class="button header-cta" href="#subscribe"' in page and 'id="subscribe"' in page
    assert not Subscriber.objects.exists() and not Consent.objects.exists()
