"""anymail's real backends (Mailgun, Postmark, Brevo, Resend) and Django's SMTP backend,
driven by the send path against the fake provider (testing/fakeprovider.py) and a fake
SMTP server (testing/fakesmtp.py), both in threads of this process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from delivery import pipeline, services
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue
from testing.fakeprovider import FakeProviderClient
from testing.fakesmtp import FakeSMTPServer
from testing.workers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(celery_eager: None) -> Iterator[None]:
    """Eager tasks; a task's self.retry() runs the retry at once (no countdown)."""
    from newsroom.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


@pytest.fixture
def fake_smtp() -> Iterator[FakeSMTPServer]:
    server = FakeSMTPServer().start()
    yield server
    server.stop()


def use_provider(settings: Any, name: str, backend: str, **anymail: Any) -> None:
    settings.EMAIL_PROVIDER = name
    settings.EMAIL_BACKEND = backend
    settings.ANYMAIL = {"REQUESTS_TIMEOUT": 5, **anymail}
    settings.DEFAULT_FROM_EMAIL = "The Newsroom Daily <news@mg.newsroom.test>"


def send_to(readers: int, capture: Any, *, also: tuple[str, ...] = ()) -> Send:
    """Send a new issue to a new list of ``readers`` readers (and the addresses in ``also``), at once."""
    daily = MailingListFactory.create(name="Daily")
    for _ in range(readers):
        SubscriberFactory.create(lists=[daily])
    for email in also:
        SubscriberFactory.create(lists=[daily], email=email)
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    with capture(execute=True):
        pipeline.sends_start_due()
    send.refresh_from_db()
    return send


def statuses(send: Send) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Delivery.objects.filter(send=send).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_mailgun_gets_one_multipart_request_per_batch(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    use_provider(
        settings,
        "mailgun",
        "delivery.backends.MailgunBackend",
        MAILGUN_API_KEY="key-test",
        MAILGUN_SENDER_DOMAIN="mg.newsroom.test",
        MAILGUN_API_URL=fake_provider.mailgun_api_url,
    )
    settings.NEWSROOM_BATCH_SIZE = 4

    send = send_to(10, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert send.status == SendStatus.DONE
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (3, 10, 0)
    last = stats["last_request"]
    assert "recipient-variables" in last["fields"] and "h:List-Unsubscribe-Post" in last["fields"]
    first = last["first_recipient_variables"]
    assert first["h:List-Unsubscribe"].startswith("<http") and first["h:Message-Id"].startswith("<d")
    ids = set(Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True))
    assert len(ids) == 3 and all(i.endswith("@fake.mailgun.test>") for i in ids)  # Mailgun: one id per call


def postmark(settings: Any, provider: FakeProviderClient) -> None:
    use_provider(
        settings,
        "postmark",
        "delivery.backends.PostmarkBackend",
        POSTMARK_SERVER_TOKEN="pm-test",
        POSTMARK_API_URL=provider.url + "/",
    )


def test_postmark_gets_each_readers_own_message_in_one_batch_call(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    postmark(settings, fake_provider)
    settings.NEWSROOM_BATCH_SIZE = 3

    send = send_to(5, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert send.status == SendStatus.DONE
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (2, 5, 0)  # POST /email/batch, 3 + 2
    last = stats["last_request"]
    delivery = Delivery.objects.get(send=send, email=last["first_recipient"])
    assert last["first_headers"]["Message-ID"] == f"<d{delivery.pk}.s{send.pk}@mg.newsroom.test>"
    assert last["first_headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert last["first_metadata"] == {"send_id": str(send.pk), "delivery_id": str(delivery.pk)}
    ids = list(Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True))
    assert len(set(ids)) == 5 and all(uuid.UUID(i) for i in ids)  # Postmark: an id per message, in order


def test_postmark_batch_refuses_an_inactive_reader_alone(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    postmark(settings, fake_provider)
    fake_provider.set_mode(reject_address="gone@example.org")

    send = send_to(3, django_capture_on_commit_callbacks, also=("gone@example.org",))

    stats = fake_provider.stats()
    assert (stats["requests"], stats["recipients"]) == (1, 3)
    gone = Delivery.objects.get(send=send, email="gone@example.org")
    assert gone.status == DeliveryStatus.FAILED
    assert gone.error.startswith("Postmark refused this message (ErrorCode 406)")
    assert statuses(send) == {DeliveryStatus.SENT: 3, DeliveryStatus.FAILED: 1}


def test_postmark_429_with_retry_after_retries_the_batch_and_sends_everyone_once(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    postmark(settings, fake_provider)
    fake_provider.set_mode(status=429, requests=1, retry_after=1)

    send = send_to(4, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert stats["failed_requests"] == {"429": 1}
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (2, 4, 0)
    assert statuses(send) == {DeliveryStatus.SENT: 4}


def brevo(settings: Any, provider: FakeProviderClient) -> None:
    use_provider(
        settings,
        "brevo",
        "anymail.backends.brevo.EmailBackend",
        BREVO_API_KEY="brevo-test",
        BREVO_API_URL=provider.url + "/v3/",
    )


def test_brevo_gets_one_call_per_batch_with_a_uuid_idempotency_key(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    brevo(settings, fake_provider)

    send = send_to(3, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert send.status == SendStatus.DONE
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (1, 3, 0)
    headers = stats["last_request"]["headers"]
    assert uuid.UUID(headers["idempotencyKey"])  # Brevo wants a UUID
    version = stats["last_request"]["first_version"]
    assert set(version["params"]) == {"name", "unsubscribe_url", "preferences_url"}
    assert {"List-Unsubscribe", "Message-ID", "X-Mailin-custom"} <= set(version["headers"])
    assert statuses(send) == {DeliveryStatus.SENT: 3}


def test_brevo_retry_after_the_provider_took_the_batch_sends_no_one_twice(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    brevo(settings, fake_provider)
    fake_provider.set_mode(status=503, requests=1, after_accept=True)

    send = send_to(3, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert stats["failed_requests"] == {"503": 1}  # we heard a failure and retried ...
    assert stats["replays"] == 1  # ... with the same key, so the provider answered without sending again
    assert (stats["recipients"], stats["duplicates"]) == (3, 0)
    assert len(set(stats["idempotency_keys"])) == 1
    assert statuses(send) == {DeliveryStatus.SENT: 3}


def resend(settings: Any, provider: FakeProviderClient) -> None:
    use_provider(
        settings,
        "resend",
        "delivery.backends.ResendBackend",
        RESEND_API_KEY="re-test",
        RESEND_API_URL=provider.url + "/",
    )


def test_resend_batch_retry_with_the_same_idempotency_key_sends_no_one_twice(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    resend(settings, fake_provider)
    fake_provider.set_mode(status=500, requests=1, after_accept=True)

    send = send_to(3, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert stats["replays"] == 1 and stats["failed_requests"] == {"500": 1}
    assert (stats["messages"], stats["recipients"], stats["unique_recipients"], stats["duplicates"]) == (1, 3, 3, 0)
    keys = stats["idempotency_keys"]
    assert len(keys) == 1 and keys[0].startswith("newsroom/batch/")  # one key for the batch, the same on retry
    assert stats["last_request"]["emails"] == 3
    ids = set(Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True))
    assert len(ids) == 3 and all(uuid.UUID(i) for i in ids)
    assert statuses(send) == {DeliveryStatus.SENT: 3}


def test_resend_permissive_batch_fails_only_the_refused_email(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    resend(settings, fake_provider)
    fake_provider.set_mode(reject_address="bounced@example.org")

    send = send_to(2, django_capture_on_commit_callbacks, also=("bounced@example.org",))

    assert fake_provider.stats()["requests"] == 1
    bounced = Delivery.objects.get(send=send, email="bounced@example.org")
    assert bounced.status == DeliveryStatus.FAILED and bounced.error.startswith("Resend refused this email: Invalid")
    sent = Delivery.objects.filter(send=send, status=DeliveryStatus.SENT)
    assert len(set(sent.values_list("provider_message_id", flat=True))) == 2


def test_mailgun_answer_that_never_comes_leaves_the_batch_uncertain_and_never_resent(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    use_provider(
        settings,
        "mailgun",
        "delivery.backends.MailgunBackend",
        MAILGUN_API_KEY="key-test",
        MAILGUN_SENDER_DOMAIN="mg.newsroom.test",
        MAILGUN_API_URL=fake_provider.mailgun_api_url,
        REQUESTS_TIMEOUT=1,
    )
    fake_provider.set_mode(slow_seconds=2, requests=1)

    send = send_to(3, django_capture_on_commit_callbacks)
    pipeline.send_batch_process(send_id=send.pk, batch=0)  # as if the task came again

    assert fake_provider.stats()["recipients"] == 3  # taken once, never again
    rows = list(Delivery.objects.filter(send=send))
    assert {r.status for r in rows} == {DeliveryStatus.UNCERTAIN}
    assert all(r.error.startswith("No answer after the request was sent") for r in rows)


def test_a_provider_that_cannot_be_reached_is_retried_then_the_readers_fail(
    settings: Any, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    use_provider(
        settings,
        "mailgun",
        "delivery.backends.MailgunBackend",
        MAILGUN_API_KEY="key-test",
        MAILGUN_SENDER_DOMAIN="mg.newsroom.test",
        MAILGUN_API_URL=f"http://127.0.0.1:{free_port()}/v3",  # nothing listens there
    )
    settings.SEND_MAX_RETRIES = 2

    send = send_to(2, django_capture_on_commit_callbacks)

    rows = list(Delivery.objects.filter(send=send))
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.FAILED, 3)}
    assert all(r.error.startswith("Gave up after retries: Error posting to") for r in rows)


def test_plain_smtp_sends_one_message_per_reader_over_one_connection(
    settings: Any, eager: None, fake_smtp: FakeSMTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    use_provider(settings, "smtp", "django.core.mail.backends.smtp.EmailBackend")
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake_smtp.port
    settings.NEWSROOM_BATCH_SIZE = 10
    refused = "reader-refused@example.org"
    fake_smtp.state.refuse.add(refused)

    send = send_to(4, django_capture_on_commit_callbacks, also=(refused,))

    assert fake_smtp.state.connections == 1
    received = fake_smtp.state.messages
    assert len(received) == 4 and all(len(r.recipients) == 1 for r in received)
    by_email = {d.email: d for d in Delivery.objects.filter(send=send)}
    for r in received:
        delivery = by_email[r.recipients[0]]
        assert r.message["Message-ID"] == f"<d{delivery.pk}.s{send.pk}@mg.newsroom.test>"
        assert r.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert r.message["List-Id"] and str(r.message["List-Id"]).strip().endswith(">")
        one_click = str(r.message["List-Unsubscribe"]).strip()
        assert one_click.startswith("<http://") and one_click.endswith("/one-click/>")
        assert r.message.get_content_type() == "multipart/alternative"
        assert delivery.status == DeliveryStatus.SENT
    assert by_email[refused].status == DeliveryStatus.FAILED
    assert "mailbox unavailable" in by_email[refused].error


@pytest.mark.parametrize(
    "addresses",
    [
        ["reader1@example.org", "First.Last+tag@sub.example.co.uk", "o'brien@example.ie", "x_y-z@a-b.example"],
        ["Reader <reader@example.org>"],  # a display name: anymail's parser
        ["ünï@example.org", "reader@example.org"],  # not ASCII: anymail's parser
        ["reader@localhost"],  # no dot in the domain: anymail's parser
    ],
)
def test_the_mailgun_backend_reads_addresses_as_anymail_does(addresses: list[str]) -> None:
    from anymail.utils import parse_address_list

    from delivery.backends import parse_recipients

    def parts(parsed: list[Any]) -> list[tuple[str, ...]]:
        return [(a.address, a.addr_spec, a.display_name, a.username, a.domain) for a in parsed]

    assert parts(parse_recipients(addresses)) == parts(parse_address_list(addresses))


def test_the_mailgun_backend_refuses_a_bad_address_as_anymail_does() -> None:
    from anymail.exceptions import AnymailInvalidAddress

    from delivery.backends import parse_recipients

    with pytest.raises(AnymailInvalidAddress, match="reader@"):
        parse_recipients(["fine@example.org", "reader@"])


# --- providers that merge a batch themselves (anymail's merge_data), against the fake provider ---

BACKENDS: dict[str, tuple[str, Any]] = {
    # provider: (its anymail backend, its settings given the fake provider's URL)
    "sendgrid": (
        "anymail.backends.sendgrid.EmailBackend",
        lambda url: {"SENDGRID_API_KEY": "sg-test", "SENDGRID_API_URL": url + "/v3/"},
    ),
    "sparkpost": (
        "anymail.backends.sparkpost.EmailBackend",
        lambda url: {"SPARKPOST_API_KEY": "sp-test", "SPARKPOST_API_URL": url + "/api/v1/"},
    ),
    "mandrill": (
        "anymail.backends.mandrill.EmailBackend",
        lambda url: {"MANDRILL_API_KEY": "md-test", "MANDRILL_API_URL": url + "/api/1.0/"},
    ),
    "mailjet": (
        "anymail.backends.mailjet.EmailBackend",
        lambda url: {"MAILJET_API_KEY": "mj-key", "MAILJET_SECRET_KEY": "mj-secret", "MAILJET_API_URL": url + "/v3.1/"},
    ),
    "unisender_go": (
        "anymail.backends.unisender_go.EmailBackend",
        lambda url: {"UNISENDER_GO_API_KEY": "ug-test", "UNISENDER_GO_API_URL": url + "/en/transactional/api/v1/"},
    ),
}

# The merge tags each provider finds in the batch's HTML (the reader's own links).
OWN_TAGS = {
    "sendgrid": "%recipient.unsubscribe_url%",
    "sparkpost": "{{{unsubscribe_url}}}",
    "mailjet": "{{var:unsubscribe_url}}",
    "unisender_go": "{{unsubscribe_url}}",
}


MERGERS = sorted(set(BACKENDS) - {"mandrill"})  # Mandrill merges no headers: one message per reader


def merger(settings: Any, provider: FakeProviderClient, name: str) -> None:
    backend, anymail = BACKENDS[name]
    use_provider(settings, name, backend, **anymail(provider.url))


def _values(name: str, last: dict[str, Any]) -> dict[str, str]:
    """The first reader's merge values, as the provider received them."""
    if name == "sendgrid":
        return {k.removeprefix("%recipient.").removesuffix("%"): v for k, v in last["first_substitutions"].items()}
    field = {
        "sparkpost": "first_substitutions",
        "mailjet": "first_variables",
        "unisender_go": "first_substitutions",
    }[name]
    return dict(last[field])


@pytest.mark.parametrize("name", MERGERS)
def test_a_merging_provider_gets_one_call_per_batch_with_each_readers_values(
    name: str,
    settings: Any,
    eager: None,
    fake_provider: FakeProviderClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    merger(settings, fake_provider, name)
    settings.NEWSROOM_BATCH_SIZE = 3

    send = send_to(5, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert send.status == SendStatus.DONE
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (2, 5, 0)  # 3 + 2, one call each
    last = stats["last_request"]
    assert last["api"] == name and OWN_TAGS[name] in last["html_tags"]
    values = _values(name, last)
    assert values["unsubscribe_url"].startswith("http") and values["unsubscribe_url"] != OWN_TAGS[name]
    assert statuses(send) == {DeliveryStatus.SENT: 5}
    assert all(Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True))


@pytest.mark.parametrize("name", MERGERS)
def test_a_merging_provider_429_retries_the_batch_and_sends_everyone_once(
    name: str,
    settings: Any,
    eager: None,
    fake_provider: FakeProviderClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    merger(settings, fake_provider, name)
    fake_provider.set_mode(status=429, requests=1, retry_after=1)

    send = send_to(3, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert stats["failed_requests"] == {"429": 1}
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (2, 3, 0)
    assert statuses(send) == {DeliveryStatus.SENT: 3}


@pytest.mark.parametrize("name", ["mailjet", "mandrill", "unisender_go"])
def test_a_provider_that_answers_per_recipient_fails_the_refused_reader_alone(
    name: str,
    settings: Any,
    eager: None,
    fake_provider: FakeProviderClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    merger(settings, fake_provider, name)
    fake_provider.set_mode(reject_address="gone@example.org")

    send = send_to(2, django_capture_on_commit_callbacks, also=("gone@example.org",))

    assert fake_provider.stats()["requests"] == (3 if name == "mandrill" else 1)  # Mandrill: one per reader
    gone = Delivery.objects.get(send=send, email="gone@example.org")
    assert gone.status == DeliveryStatus.FAILED and gone.error.startswith("The provider answered")
    assert statuses(send) == {DeliveryStatus.SENT: 2, DeliveryStatus.FAILED: 1}


@pytest.mark.parametrize("name", ["sendgrid", "sparkpost"])
def test_a_provider_that_refuses_the_whole_request_fails_the_batch_with_its_reason(
    name: str,
    settings: Any,
    eager: None,
    fake_provider: FakeProviderClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    merger(settings, fake_provider, name)
    fake_provider.set_mode(reject_address="gone@example.org", message="Invalid recipient gone@example.org")

    send = send_to(1, django_capture_on_commit_callbacks, also=("gone@example.org",))

    rows = list(Delivery.objects.filter(send=send))
    assert {r.status for r in rows} == {DeliveryStatus.FAILED}
    assert all("Invalid recipient gone@example.org" in r.error for r in rows)


def test_mandrill_gets_one_message_per_reader_merged_here_with_its_own_headers(
    settings: Any, eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    merger(settings, fake_provider, "mandrill")

    send = send_to(3, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (3, 3, 0)
    assert stats["last_request"]["html_tags"] == []  # every value merged before sending
    ids = set(Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True))
    assert len(ids) == 3 and statuses(send) == {DeliveryStatus.SENT: 3}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"ANYMAIL_PROVIDER": "sparkpost"}, "ANYMAIL_PROVIDER=sparkpost needs ANYMAIL_API_KEY."),
        ({"ANYMAIL_PROVIDER": "mailjet", "ANYMAIL_API_KEY": "k"}, "mailjet needs ANYMAIL_SECRET_KEY"),
        ({"ANYMAIL_PROVIDER": "unisender_go", "ANYMAIL_API_KEY": "k"}, "unisender_go needs ANYMAIL_API_URL"),
        ({"ANYMAIL_PROVIDER": "postal", "ANYMAIL_API_KEY": "k"}, "postal needs ANYMAIL_API_URL"),
        ({"ANYMAIL_PROVIDER": "scaleway", "ANYMAIL_API_KEY": "k"}, "scaleway needs ANYMAIL_PROJECT_ID"),
        ({"ANYMAIL_PROVIDER": "mailersend"}, "ANYMAIL_PROVIDER=mailersend needs ANYMAIL_API_KEY."),
        (
            {"ANYMAIL_PROVIDER": "resend", "ANYMAIL_API_KEY": "k", "NEWSROOM_BATCH_SIZE": "500"},
            "NEWSROOM_BATCH_SIZE=500 is more than resend takes in one call (100)",
        ),
    ],
)
def test_an_added_provider_missing_a_setting_stops_start_up_with_what_to_fix(
    variables: dict[str, str], message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYMAIL_", "NEWSROOM_BATCH"))}
    env.update({"DJANGO_SETTINGS_MODULE": "newsroom.settings", **variables})
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert message in done.stderr


# --- providers sent one message per reader (no per-reader headers with merge_data in anymail) ---

ONE_BY_ONE: dict[str, tuple[str, Any]] = {
    "mailersend": (
        "anymail.backends.mailersend.EmailBackend",
        lambda url: {"MAILERSEND_API_TOKEN": "ms-test", "MAILERSEND_API_URL": url + "/v1/"},
    ),
    "postal": (
        "delivery.backends.PostalBackend",
        lambda url: {"POSTAL_API_KEY": "po-test", "POSTAL_API_URL": url + "/"},
    ),
    "scaleway": (
        "anymail.backends.scaleway.EmailBackend",
        lambda url: {
            "SCALEWAY_SECRET_KEY": "sw-test",
            "SCALEWAY_PROJECT_ID": "00000000-0000-4000-8000-000000000000",
            "SCALEWAY_API_URL": url + "/transactional-email/v1alpha1/regions/{region}/",
        },
    ),
    "mailtrap": (
        "anymail.backends.mailtrap.EmailBackend",
        lambda url: {"MAILTRAP_API_TOKEN": "mt-test", "MAILTRAP_API_URL": url + "/api/"},
    ),
}


def one_by_one(settings: Any, provider: FakeProviderClient, name: str) -> None:
    backend, anymail = ONE_BY_ONE[name]
    use_provider(settings, name, backend, **anymail(provider.url))


@pytest.mark.parametrize("name", sorted(ONE_BY_ONE))
def test_a_one_by_one_provider_gets_each_readers_own_message_with_its_own_headers(
    name: str,
    settings: Any,
    eager: None,
    fake_provider: FakeProviderClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    one_by_one(settings, fake_provider, name)

    send = send_to(3, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert (stats["requests"], stats["recipients"], stats["duplicates"]) == (3, 3, 0)
    last = stats["last_request"]
    assert last["api"] == name and last["to_count"] == 1
    assert last["html_tags"] == []  # every value merged before sending
    unsubscribe = last["first_headers"]["List-Unsubscribe"]
    assert unsubscribe.startswith("<http") and "%recipient" not in unsubscribe
    ids = set(Delivery.objects.filter(send=send).values_list("provider_message_id", flat=True))
    assert len(ids) == 3 and "" not in ids
    assert statuses(send) == {DeliveryStatus.SENT: 3}


@pytest.mark.parametrize("name", sorted(ONE_BY_ONE))
def test_a_one_by_one_provider_429_retries_and_sends_everyone_once(
    name: str,
    settings: Any,
    eager: None,
    fake_provider: FakeProviderClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    one_by_one(settings, fake_provider, name)
    fake_provider.set_mode(status=429, requests=1, retry_after=1)

    send = send_to(2, django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert stats["failed_requests"] == {"429": 1}
    assert (stats["recipients"], stats["duplicates"]) == (2, 0)
    assert statuses(send) == {DeliveryStatus.SENT: 2}


@pytest.mark.parametrize("name", sorted(ONE_BY_ONE))
def test_a_one_by_one_provider_refusing_a_reader_fails_that_reader_alone(
    name: str,
    settings: Any,
    eager: None,
    fake_provider: FakeProviderClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    one_by_one(settings, fake_provider, name)
    fake_provider.set_mode(reject_address="gone@example.org", message="Invalid recipient gone@example.org")

    send = send_to(2, django_capture_on_commit_callbacks, also=("gone@example.org",))

    assert fake_provider.stats()["requests"] == 3
    gone = Delivery.objects.get(send=send, email="gone@example.org")
    assert gone.status == DeliveryStatus.FAILED and "Invalid recipient gone@example.org" in gone.error
    assert statuses(send) == {DeliveryStatus.SENT: 2, DeliveryStatus.FAILED: 1}
