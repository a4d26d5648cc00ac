"""What each reader's copy carries, and what becomes of a batch when the provider answers
badly, seen through anymail's test backend (messages kept in django.core.mail.outbox)."""

from __future__ import annotations

import datetime
import json
import smtplib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import time_machine
from anymail.exceptions import AnymailRecipientsRefused, AnymailRequestsAPIError
from anymail.message import AnymailRecipientStatus
from anymail.signals import pre_send
from django.core import mail
from django.test import override_settings

from core.mail import list_id_header
from delivery import claims, pipeline, posting, recipients, services
from delivery.judge import judge
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import IssueStatus
from subscribers.links import links_for
from subscribers.models import Subscriber
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db

TEST_BACKEND = "anymail.backends.test.EmailBackend"
FROM = "The Newsroom Daily <news@mg.newsroom.test>"


@pytest.fixture
def as_mailgun(settings: Any) -> None:
    """The Mailgun strategy (one call per batch, merge_data) over anymail's test backend."""
    settings.EMAIL_PROVIDER = "mailgun"
    settings.EMAIL_BACKEND = TEST_BACKEND
    settings.DEFAULT_FROM_EMAIL = FROM
    settings.SITE_URL = "https://news.example.com"


@pytest.fixture
def provider_answers() -> Iterator[Callable[..., None]]:
    """provider_answers(first, second, ...): the test backend's answer to each call in turn
    (an exception instance to raise it, None for the default "sent")."""
    answers: list[Any] = []

    def answer(sender: Any, message: Any, esp_name: str, **kwargs: Any) -> None:
        if answers:
            response = answers.pop(0)
            if response is not None:
                message.anymail_test_response = response

    pre_send.connect(answer, weak=False)
    yield lambda *items: answers.extend(items)
    pre_send.disconnect(answer)


@pytest.fixture
def eager_retries(celery_eager: None) -> Iterator[None]:
    """Eager tasks whose self.retry() runs the retry at once (Celery does so when errors do not propagate)."""
    from newsroom.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def api_error(status: int, text: str) -> AnymailRequestsAPIError:
    """The error anymail raises for an HTTP answer ``status`` with body ``text``."""
    response = requests.Response()
    response.status_code, response.reason, response._content = status, text, text.encode()
    return AnymailRequestsAPIError(text, response=response)


def new_send(readers: int = 3, **subscriber: Any) -> tuple[Send, list[Any]]:
    daily = MailingListFactory.create(name="Daily")
    people = [SubscriberFactory.create(lists=[daily], **subscriber) for _ in range(readers)]
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    return send, people


def run_due(capture: Any) -> None:
    with capture(execute=True):
        pipeline.sends_start_due()


def rows(send: Send) -> dict[str, Delivery]:
    return {d.email: d for d in Delivery.objects.filter(send=send)}


# Links carry the second they were signed: the clock stands still so links_for signs the same one.
@time_machine.travel(datetime.datetime(2026, 9, 21, 12, 0, tzinfo=datetime.UTC), tick=False)
def test_one_call_carries_each_readers_links_headers_and_metadata(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send, people = new_send(3)

    run_due(django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    params = message.anymail_test_params
    assert params["is_batch_send"] is True
    assert sorted(message.to) == sorted(p.email for p in people)
    assert message.from_email == FROM
    html = str({mimetype: body for body, mimetype in message.alternatives}["text/html"])
    issue = send.issue
    web_url = f"https://news.example.com{issue.get_absolute_url()}"
    assert issue.preheader in html and issue.preheader in message.body  # preheader in both parts
    assert "%recipient.unsubscribe_url%" in html and "%recipient.name%" in message.body
    assert web_url in html and web_url in message.body  # the same for everyone: filled in once
    assert params["extra_headers"] == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", **list_id_header()}
    assert params["extra_headers"]["List-Id"].endswith(">")  # RFC 2919: "name" <id>
    assert params["metadata"] == {"send_id": str(send.pk)}
    by_email = rows(send)
    for person in people:
        delivery = by_email[person.email]
        links = links_for(subscriber_id=person.pk, email=person.email)
        assert params["merge_data"][person.email] == {
            "name": person.name,
            "unsubscribe_url": links["unsubscribe_url"],
            "preferences_url": links["preferences_url"],
        }
        assert params["merge_headers"][person.email] == {
            "List-Unsubscribe": f"<{links['one_click_url']}>",
            "Message-ID": f"<d{delivery.pk}.s{send.pk}@mg.newsroom.test>",
        }
        assert params["merge_metadata"][person.email] == {"delivery_id": str(delivery.pk)}
        assert delivery.status == DeliveryStatus.SENT
        assert delivery.provider_status == "sent"
        assert delivery.sent_at is not None
    send.refresh_from_db()
    assert send.status == SendStatus.DONE


def test_the_issue_gets_its_number_as_the_send_starts_and_the_email_shows_it(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    make_full_issue(status=IssueStatus.SENT, number=41)
    send, _ = new_send(2)
    assert send.issue.number is None

    run_due(django_capture_on_commit_callbacks)

    send.issue.refresh_from_db()
    assert send.issue.number == 42
    html = str({mimetype: body for body, mimetype in mail.outbox[0].alternatives}["text/html"])
    assert "\u00b7 No. 42 \u00b7" in html and "No. 42" in mail.outbox[0].body


@time_machine.travel(datetime.datetime(2026, 9, 21, 12, 0, tzinfo=datetime.UTC), tick=False)
def test_one_message_per_reader_when_the_provider_cannot_merge(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_PROVIDER = "postmark"  # merges only into templates stored at Postmark
    settings.EMAIL_BACKEND = TEST_BACKEND
    send, people = new_send(3)

    run_due(django_capture_on_commit_callbacks)

    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)
    by_email = rows(send)
    for message in mail.outbox:
        person = next(p for p in people if p.email == message.to[0])
        links = links_for(subscriber_id=person.pk, email=person.email)
        html = str({mimetype: body for body, mimetype in message.alternatives}["text/html"])
        assert message.anymail_test_params["is_batch_send"] is False
        assert links["unsubscribe_url"] in html and "%recipient" not in html
        assert person.name in message.body
        assert message.extra_headers == {
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            **list_id_header(),
            "List-Unsubscribe": f"<{links['one_click_url']}>",
            "Message-ID": f"<d{by_email[person.email].pk}.s{send.pk}@example.com>",
        }
        assert message.metadata == {"send_id": str(send.pk), "delivery_id": str(by_email[person.email].pk)}
    assert {d.status for d in by_email.values()} == {DeliveryStatus.SENT}
    assert len({d.provider_message_id for d in by_email.values()}) == 3  # one id per reader


@time_machine.travel(datetime.datetime(2026, 9, 21, 12, 0, tzinfo=datetime.UTC), tick=False)
def test_a_retried_batch_keeps_each_readers_message_id(
    as_mailgun: None,
    eager_retries: None,
    django_capture_on_commit_callbacks: Any,
    provider_answers: Callable[..., None],
    settings: Any,
) -> None:
    settings.SEND_MAX_RETRIES = 3
    send, _ = new_send(2)
    provider_answers(api_error(503, "Service Unavailable"), None)

    run_due(django_capture_on_commit_callbacks)

    first, second = mail.outbox
    assert first.anymail_test_params["merge_headers"] == second.anymail_test_params["merge_headers"]
    assert {d.status for d in rows(send).values()} == {DeliveryStatus.SENT}
    assert {d.attempts for d in rows(send).values()} == {2}


def test_a_batch_that_keeps_failing_ends_failed_with_the_reason(
    as_mailgun: None,
    eager_retries: None,
    django_capture_on_commit_callbacks: Any,
    provider_answers: Callable[..., None],
    settings: Any,
) -> None:
    settings.SEND_MAX_RETRIES = 2
    send, _ = new_send(2)
    provider_answers(*[api_error(429, "Too Many Requests")] * 3)

    run_due(django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 3  # the first try and two retries
    for delivery in rows(send).values():
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.error.startswith("Gave up after retries: Too Many Requests")
    send.refresh_from_db()
    # No reader got it: the send failed (test_send_failure.py covers what the editor sees).
    assert send.status == SendStatus.FAILED


def test_a_refused_batch_fails_at_once_with_the_providers_message(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any, provider_answers: Any
) -> None:
    send, _ = new_send(2)
    provider_answers(api_error(400, "'to' parameter is not a valid address"))

    run_due(django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    assert {d.status for d in rows(send).values()} == {DeliveryStatus.FAILED}
    assert all("'to' parameter is not a valid address" in d.error for d in rows(send).values())


def test_readers_the_provider_rejects_fail_and_the_others_are_sent(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any, provider_answers: Any
) -> None:
    send, people = new_send(3)
    rejected = people[1].email
    provider_answers(
        {
            "recipient_status": {
                p.email: AnymailRecipientStatus(
                    message_id="m-1", status="rejected" if p.email == rejected else "queued"
                )
                for p in people
            }
        }
    )

    run_due(django_capture_on_commit_callbacks)

    by_email = rows(send)
    assert by_email[rejected].status == DeliveryStatus.FAILED
    assert "rejected" in by_email[rejected].error
    others = [by_email[p.email] for p in people if p.email != rejected]
    assert {(d.status, d.provider_message_id, d.provider_status) for d in others} == {
        (DeliveryStatus.SENT, "m-1", "queued")
    }


def test_when_every_reader_is_refused_the_rows_fail_rather_than_stay_claimed(monkeypatch: Any) -> None:
    send, people = new_send(2)
    status = {p.email: AnymailRecipientStatus(message_id=None, status="invalid") for p in people}

    class Backend:
        def send_messages(self, messages: list[Any]) -> int:
            messages[0].anymail_status = type("S", (), {"recipients": status})()
            raise AnymailRecipientsRefused()

    monkeypatch.setattr(posting, "get_connection", lambda: Backend())
    pipeline.send_start(send=Send.objects.get(pk=send.pk))
    pipeline.send_batch_process(send_id=send.pk, batch=0)

    assert {d.status for d in rows(send).values()} == {DeliveryStatus.FAILED}


def test_a_reader_the_posting_gave_no_answer_for_is_uncertain_and_never_taken_again(
    as_mailgun: None, monkeypatch: Any
) -> None:
    send, people = new_send(3)
    pipeline.send_start(send=Send.objects.get(pk=send.pk))
    real = posting.send_in_one_call

    def forgetful(*args: Any, **kwargs: Any) -> posting.Results:
        results = real(*args, **kwargs)
        results.sent.pop(min(results.sent))  # an answer lost on the way (a bug, a provider's short list)
        return results

    monkeypatch.setattr(posting, "send_in_one_call", forgetful)
    pipeline.send_batch_process(send_id=send.pk, batch=0)

    by_email = rows(send)
    assert by_email[people[0].email].status == DeliveryStatus.UNCERTAIN
    assert by_email[people[0].email].error == pipeline.NO_ANSWER
    assert {by_email[p.email].status for p in people[1:]} == {DeliveryStatus.SENT}
    assert Send.objects.get(pk=send.pk).status == SendStatus.DONE  # nothing left queued to take again


def test_an_unexpected_error_in_the_posting_leaves_the_readers_uncertain_and_the_batch_answered(
    as_mailgun: None, monkeypatch: Any
) -> None:
    from delivery.models import Batch

    send, _ = new_send(2)
    pipeline.send_start(send=Send.objects.get(pk=send.pk))

    def broken(*args: Any, **kwargs: Any) -> posting.Results:
        raise RuntimeError("a bug in the posting")

    monkeypatch.setattr(posting, "send_in_one_call", broken)
    with pytest.raises(RuntimeError):
        pipeline.send_batch_process(send_id=send.pk, batch=0)

    assert {(d.status, d.attempts) for d in rows(send).values()} == {(DeliveryStatus.UNCERTAIN, 1)}
    assert all(d.error.startswith("Unexpected error while sending") for d in rows(send).values())
    # Nothing is left in flight: a later retry of these readers (the editor's) is not taken for a dead worker's.
    assert not Batch.objects.filter(claims.IN_FLIGHT, send=send).exists()


def test_a_finished_send_clears_the_cached_public_pages(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    from issues.selectors import public_cache_version

    send, _ = new_send(2)
    before = public_cache_version()

    run_due(django_capture_on_commit_callbacks)

    send.refresh_from_db()
    assert send.status == SendStatus.DONE
    assert public_cache_version() != before  # the archive and the home page show the sent issue


def test_an_invalid_address_fails_alone(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send, people = new_send(3)
    # An address that slipped past validation (an old import, say).
    Subscriber.objects.filter(pk=people[0].pk).update(email="reader@")

    run_due(django_capture_on_commit_callbacks)

    by_email = rows(send)
    assert by_email["reader@"].status == DeliveryStatus.FAILED
    assert "not a valid email address" in by_email["reader@"].error
    assert {by_email[p.email].status for p in people[1:]} == {DeliveryStatus.SENT}
    assert sorted(mail.outbox[-1].to) == sorted(p.email for p in people[1:])


def test_task_arguments_are_json(
    as_mailgun: None, django_capture_on_commit_callbacks: Any, monkeypatch: Any, settings: Any
) -> None:
    from kombu.serialization import dumps, loads

    from delivery.tasks import send_batch

    settings.NEWSROOM_BATCH_SIZE = 2
    send, _ = new_send(5)
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(send_batch, "delay", lambda *args: calls.append(args))

    run_due(django_capture_on_commit_callbacks)

    assert calls == [(send.pk, 0), (send.pk, 1), (send.pk, 2)]
    for args in calls:
        content_type, encoding, body = dumps(list(args), serializer="json")
        assert loads(body, content_type, encoding) == list(args)
    assert json.loads(json.dumps(calls)) == [list(c) for c in calls]


def test_the_batch_path_gives_each_reader_the_links_the_web_views_make(settings: Any) -> None:
    from core.mail import list_unsubscribe_headers
    from delivery.claims import Row
    from delivery.providers import strategy_for
    from subscribers.links import LINK_MAX_AGE, PREFERENCES_SALT, UNSUBSCRIBE_SALT, read_token

    settings.SECRET_KEY = "a-secret-key-only-for-this-test-" * 2
    settings.SITE_URL = "https://news.example.com"
    readers = [(42, "Reader@Example.org"), (7, "o'brien+news@example.ie"), (0, "x@y.example")]
    rows = [Row(i + 1, sub, email, "Ann") for i, (sub, email) in enumerate(readers)]
    send = Send(pk=1)
    # Tokens carry the time: the clock stands still so both sides sign the same second.
    with time_machine.travel(datetime.datetime(2026, 9, 21, 12, 0, 0, 250000, tzinfo=datetime.UTC), tick=False):
        made = recipients.recipients_for(send, rows, strategy_for("mailgun"))
        expected = [links_for(subscriber_id=sub, email=email) for sub, email in readers]

    for recipient, links, (subscriber_id, _) in zip(made, expected, readers, strict=True):
        assert recipient.merge["unsubscribe_url"] == links["unsubscribe_url"]
        assert recipient.merge["preferences_url"] == links["preferences_url"]
        assert recipient.headers["List-Unsubscribe"] == f"<{links['one_click_url']}>"
        # The RFC 8058 pair, as every other email of ours carries it (core.mail).
        copy_headers = {**recipients.common_headers(), **recipient.headers}
        assert list_unsubscribe_headers(links["one_click_url"]).items() <= copy_headers.items()
        for key, salt in (("unsubscribe_url", UNSUBSCRIBE_SALT), ("preferences_url", PREFERENCES_SALT)):
            token = recipient.merge[key].rstrip("/").rsplit("/", 1)[1]
            assert read_token(token, salt=salt, max_age=LINK_MAX_AGE).subscriber_id == subscriber_id


@override_settings(EMAIL_PROVIDER="carrier-pigeon")
def test_an_unknown_provider_is_refused_when_the_send_is_created(editor: Any) -> None:
    daily = MailingListFactory.create()
    SubscriberFactory.create(lists=[daily])
    issue = make_full_issue(status=IssueStatus.APPROVED)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Unknown mail provider 'carrier-pigeon'"):
        services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=editor)
    assert not Send.objects.exists()


def test_a_provider_without_its_key_fails_the_send_before_anyone_is_claimed(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send, _ = new_send(2)
    settings.EMAIL_PROVIDER = "mailgun"
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {}  # no MAILGUN_API_KEY

    run_due(django_capture_on_commit_callbacks)

    send.refresh_from_db()
    assert send.status == SendStatus.FAILED
    assert "The mail provider is not set up" in send.error and "MAILGUN_API_KEY" in send.error
    assert not Delivery.objects.filter(send=send).exists()
    send.issue.refresh_from_db()
    assert send.issue.status == IssueStatus.APPROVED  # the editor can fix the setting and send again
    settings.EMAIL_PROVIDER, settings.EMAIL_BACKEND = "outbox", "core.outbox.OutboxBackend"
    again = services.send_create(
        issue=send.issue, lists=list(send.lists.all()), segment=None, at=None, acting_user=make_editor("ed2")
    )
    assert again.pk != send.pk


def test_a_provider_refusing_our_key_mid_send_pauses_the_send(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any, provider_answers: Any
) -> None:
    send, _ = new_send(2)
    provider_answers(api_error(401, "Forbidden"))

    run_due(django_capture_on_commit_callbacks)

    send.refresh_from_db()
    assert send.status == SendStatus.PAUSED
    assert "refused our credentials" in send.error
    assert {d.status for d in rows(send).values()} == {DeliveryStatus.QUEUED}


@pytest.mark.integration  # batch locks are PostgreSQL advisory locks: needs the real database
def test_a_batch_locked_by_another_worker_is_left_to_it(django_capture_on_commit_callbacks: Any) -> None:
    import psycopg
    from django.db import connection

    send, _ = new_send(2)
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.sends_start_due()
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [claims.batch_lock_key(send.pk, 0)])
        pipeline.send_batch_process(send_id=send.pk, batch=0)
        assert {d.status for d in rows(send).values()} == {DeliveryStatus.QUEUED}
    finally:
        other.close()  # the "other worker" goes away: its lock with it

    pipeline.send_batch_process(send_id=send.pk, batch=0)
    assert {d.status for d in rows(send).values()} == {DeliveryStatus.SENT}


def test_rows_left_claimed_by_a_dead_worker_become_uncertain_and_are_not_sent(
    django_capture_on_commit_callbacks: Any,
) -> None:
    send, people = new_send(3)
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.sends_start_due()
    # A worker claimed the first reader (its budget granted one) and died in the provider call.
    assert [r.email for r in claims.batch_claim(send_id=send.pk, batch=0, limit=1)] == [people[0].email]
    claims.batch_posting(send_id=send.pk, batch=0)

    pipeline.send_batch_process(send_id=send.pk, batch=0)

    by_email = rows(send)
    assert by_email[people[0].email].status == DeliveryStatus.UNCERTAIN
    assert by_email[people[0].email].error == claims.WORKER_STOPPED
    from core.models import OutboxMessage

    assert people[0].email not in set(OutboxMessage.objects.values_list("to", flat=True))
    assert {by_email[p.email].status for p in people[1:]} == {DeliveryStatus.SENT}


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 5, 10), (1, 10, 20), (3, 40, 80), (6, 300, 600), (12, 300, 600)],
)
def test_retry_delays_double_with_jitter_up_to_the_cap(settings: Any, attempt: int, low: float, high: float) -> None:
    settings.SEND_RETRY_BACKOFF_SECONDS = 10
    settings.SEND_RETRY_BACKOFF_MAX_SECONDS = 600
    delays = {pipeline.retry_delay(attempt=attempt) for _ in range(200)}
    assert all(low <= d <= high for d in delays)
    assert len(delays) > 100  # jittered, not one fixed value


def _as_anymail_raises(cause: BaseException) -> BaseException:
    """The exception anymail's requests backends raise when requests raised ``cause``."""
    exc_class = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, type(cause)), {})
    try:
        raise exc_class("Error posting to https://api.example/:") from cause
    except AnymailRequestsAPIError as exc:
        return exc


def _requests_error(kind: type[requests.RequestException], inner: BaseException) -> requests.RequestException:
    from urllib3.exceptions import MaxRetryError

    return kind(MaxRetryError(None, "https://api.example/", inner))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "idempotent", "verdict"),
    [
        # could not connect: nothing went out
        (lambda: _requests_error(requests.ConnectionError, _new_connection_error()), False, "retry"),
        (lambda: _requests_error(requests.ConnectTimeout, _connect_timeout()), False, "retry"),
        # the request went out and no answer came
        (lambda: requests.ReadTimeout("read timed out"), False, "uncertain"),
        (lambda: requests.ConnectionError("Connection aborted.", ConnectionResetError()), False, "uncertain"),
        # ... which a provider with an idempotency key makes safe to retry
        (lambda: requests.ReadTimeout("read timed out"), True, "retry"),
    ],
)
def test_transport_errors_are_retried_only_when_nothing_can_have_gone_out(
    make: Callable[[], BaseException], idempotent: bool, verdict: str
) -> None:
    assert judge(_as_anymail_raises(make()), idempotent=idempotent).verdict == verdict


def _new_connection_error() -> BaseException:
    from urllib3.exceptions import NewConnectionError

    return NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]


def _connect_timeout() -> BaseException:
    from urllib3.exceptions import ConnectTimeoutError

    return ConnectTimeoutError(None, "timed out")


@pytest.mark.parametrize(
    ("exc", "idempotent", "verdict"),
    [
        (api_error(503, "Service Unavailable"), False, "retry"),
        (api_error(429, "Too Many Requests"), False, "retry"),
        (api_error(400, "Bad Request"), False, "failed"),
        (api_error(403, "Forbidden"), False, "config"),
        (api_error(409, "Conflict"), True, "uncertain"),  # the provider had this idempotency key
        (api_error(409, "Conflict"), False, "failed"),
    ],
)
def test_provider_answers_decide_the_readers_fate(exc: BaseException, idempotent: bool, verdict: str) -> None:
    assert judge(exc, idempotent=idempotent).verdict == verdict


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no such user")}), "failed"),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (451, b"try later")}), "retry"),
        (smtplib.SMTPDataError(554, b"rejected as spam"), "failed"),
        (smtplib.SMTPSenderRefused(421, b"busy", "news@example.org"), "retry"),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "config"),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "uncertain"),
        (TimeoutError("timed out"), "uncertain"),
    ],
)
def test_smtp_errors_decide_the_readers_fate(exc: BaseException, verdict: str) -> None:
    assert judge(exc, idempotent=False).verdict == verdict


def test_stalled_sends_are_recovered(settings: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any) -> None:
    import datetime

    from django.utils import timezone

    from delivery.tasks import send_batch

    settings.NEWSROOM_BATCH_SIZE = 2
    send, _ = new_send(4)
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.sends_start_due()  # the batch tasks are lost: nothing runs them
    long_ago = timezone.now() - datetime.timedelta(hours=2)
    # batch 0's worker died during its provider call
    assert len(claims.batch_claim(send_id=send.pk, batch=0)) == 2
    claims.batch_posting(send_id=send.pk, batch=0)
    Delivery.objects.filter(send=send, batch=0).update(claimed_at=long_ago)
    enqueued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(send_batch, "delay", lambda *args: enqueued.append(args))

    later = timezone.now() + datetime.timedelta(seconds=settings.SEND_RECOVERY_GRACE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.sends_recover_stalled(now=later) == 1

    assert enqueued == [(send.pk, 0), (send.pk, 1)]
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.send_batch_process(send_id=send.pk, batch=0)
        pipeline.send_batch_process(send_id=send.pk, batch=1)
    assert {d.status for d in Delivery.objects.filter(send=send, batch=0)} == {DeliveryStatus.UNCERTAIN}
    assert {d.status for d in Delivery.objects.filter(send=send, batch=1)} == {DeliveryStatus.SENT}
    send.refresh_from_db()
    assert send.status == SendStatus.DONE


def test_a_send_that_is_moving_is_left_alone(django_capture_on_commit_callbacks: Any, monkeypatch: Any) -> None:
    from delivery.tasks import send_batch

    send, _ = new_send(2)
    with django_capture_on_commit_callbacks(execute=False):
        pipeline.sends_start_due()
    monkeypatch.setattr(send_batch, "delay", lambda *args: pytest.fail("nothing should be enqueued"))

    assert pipeline.sends_recover_stalled() == 0
    assert {d.status for d in Delivery.objects.filter(send=send)} == {DeliveryStatus.QUEUED}


def test_a_send_whose_snapshot_died_with_its_worker_is_started_again(
    django_capture_on_commit_callbacks: Any,
) -> None:
    import datetime

    from django.utils import timezone

    send, people = new_send(2)
    long_ago = timezone.now() - datetime.timedelta(hours=2)
    Send.objects.filter(pk=send.pk).update(status=SendStatus.SNAPSHOTTING, started_at=long_ago)

    assert pipeline.sends_recover_stalled() == 1
    send.refresh_from_db()
    assert send.status == SendStatus.SCHEDULED
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sends_start_due()
    assert sorted(Delivery.objects.filter(send=send).values_list("email", flat=True)) == sorted(p.email for p in people)


def test_a_reader_without_a_name_is_greeted_without_a_blank(
    as_mailgun: None, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    _send, people = new_send(2)
    Subscriber.objects.filter(pk=people[0].pk).update(name="")

    run_due(django_capture_on_commit_callbacks)

    merge = mail.outbox[0].anymail_test_params["merge_data"]
    assert merge[people[0].email]["name"] == "there"  # the email reads "Hi there,", never "Hi ,"
    assert merge[people[1].email]["name"] == people[1].name != ""
