"""A reader's name is text: in every provider's HTML part it arrives escaped, never as markup,
and in the text part it stays as the reader typed it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from core.models import OutboxMessage
from delivery import pipeline, services
from delivery.providers import STRATEGIES, ProviderStrategy, Recipient
from issues.models import IssueStatus
from issues.rendering import render_email
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue
from testing.fakeprovider import FakeProviderClient
from testing.fakesmtp import FakeSMTPServer

pytestmark = pytest.mark.django_db

HOSTILE = '<a href="https://evil.example/">Claim your prize</a>'
ESCAPED = "&lt;a href=&quot;https://evil.example/&quot;&gt;Claim your prize&lt;/a&gt;"
LIVE_LINK = 'href="https://evil.example/"'


def reader(delivery_id: int, name: str) -> Recipient:
    return Recipient(
        delivery_id=delivery_id,
        email=f"reader{delivery_id}@example.org",
        merge={
            "name": name,
            "unsubscribe_url": f"https://news.example.com/unsubscribe/t{delivery_id}/",
            "preferences_url": f"https://news.example.com/preferences/t{delivery_id}/",
            "web_url": "https://news.example.com/issues/1/",  # filled by recipients.rendered_for when sending
        },
        headers={},
        metadata={},
    )


def provider_merges(template: str, values: dict[str, str], strategy: ProviderStrategy) -> str:
    """What Mailgun (``%recipient.KEY%``) and Brevo (``{{ params.KEY }}``) do with each
    reader's variables: every tag of a variable the reader has is replaced by its value.
    (A provider with a syntax of its own in the batch, ``batch_tag``, finds that one: SparkPost's
    {{{KEY}}} and Unisender Go's {{KEY}} insert the value as it is, unescaped.)"""
    tag = strategy.batch_tag or strategy.merge_tag
    for key, value in values.items():
        template = template.replace(tag(key), value)
    return template


def copies(strategy: ProviderStrategy, recipients: list[Recipient]) -> dict[str, tuple[str, str, str]]:
    """Each reader's (subject, text, html) as they would receive it from this strategy."""
    rendered = render_email(make_full_issue(), merge_tag=strategy.merge_tag)
    if strategy.batch:
        message = strategy.build_batch(rendered, recipients, key="k", headers={}, metadata={})
        html = str(message.alternatives[0][0])
        merge = message.merge_data  # type: ignore[attr-defined]
        return {
            r.email: tuple(  # type: ignore[misc]
                provider_merges(part, merge[r.email], strategy)
                for part in (str(message.subject), str(message.body), html)
            )
            for r in recipients
        }
    result = {}
    for r in recipients:
        message = strategy.build_one(rendered, r, headers={}, metadata={})
        result[r.email] = (str(message.subject), str(message.body), str(message.alternatives[0][0]))
    return result


@pytest.mark.parametrize("provider", sorted(STRATEGIES))
def test_a_name_with_markup_reaches_the_html_part_escaped_and_the_text_part_plain(provider: str) -> None:
    hostile, plain = reader(1, HOSTILE), reader(2, "Ada Lovelace")

    result = copies(STRATEGIES[provider], [hostile, plain])

    _subject, text, html = result[hostile.email]
    assert f"Hi {ESCAPED}," in html
    assert LIVE_LINK not in html and '<a href="https://evil.example' not in html
    assert f"Hi {HOSTILE}," in text
    assert not re.search(r"%recipient\.|\{\{ params\.", html + text)  # every tag was filled
    _subject, text, html = result[plain.email]
    assert "Hi Ada Lovelace," in html and "Hi Ada Lovelace," in text
    assert "evil.example" not in html + text  # one reader's values never reach another


@pytest.mark.parametrize("provider", ["mailgun", "brevo", "outbox"])
def test_a_batch_of_plain_names_sends_no_extra_variables(provider: str) -> None:
    strategy = STRATEGIES[provider]
    rendered = render_email(make_full_issue(), merge_tag=strategy.merge_tag)

    message = strategy.build_batch(rendered, [reader(1, "Ada"), reader(2, "Grace")], key="k", headers={}, metadata={})

    assert all("name_html" not in values for values in message.merge_data.values())  # type: ignore[attr-defined]
    assert strategy.merge_tag("name") in str(message.alternatives[0][0])


@pytest.mark.parametrize("provider", sorted(name for name, s in STRATEGIES.items() if not s.batch))
def test_a_name_that_looks_like_a_merge_tag_arrives_as_typed(provider: str) -> None:
    strategy = STRATEGIES[provider]
    tag = strategy.merge_tag("unsubscribe_url")

    _subject, text, html = copies(strategy, [reader(1, tag)])["reader1@example.org"]

    # Filled in one pass, as a provider does: the name is not merged again as a tag.
    assert f"Hi {tag}," in text and f"Hi {tag}," in html
    assert "Hi https://news.example.com/unsubscribe/" not in text + html


def hostile_send(capture: Any) -> None:
    daily = MailingListFactory.create(name="Daily")
    SubscriberFactory.create(lists=[daily], name=HOSTILE, email="hostile@example.org")
    SubscriberFactory.create(lists=[daily], name="Ada Lovelace", email="ada@example.org")
    issue = make_full_issue(status=IssueStatus.APPROVED)
    services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    with capture(execute=True):
        pipeline.sends_start_due()


def test_the_dev_outbox_stores_the_name_escaped_in_html_and_plain_in_text(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"

    hostile_send(django_capture_on_commit_callbacks)

    copy = OutboxMessage.objects.get(to="hostile@example.org")
    assert f"Hi {ESCAPED}," in copy.html_body and LIVE_LINK not in copy.html_body
    assert f"Hi {HOSTILE}," in copy.text_body
    assert "Hi Ada Lovelace," in OutboxMessage.objects.get(to="ada@example.org").html_body


@pytest.fixture
def fake_smtp() -> Iterator[FakeSMTPServer]:
    server = FakeSMTPServer().start()
    yield server
    server.stop()


def test_smtp_sends_the_name_escaped_in_html_and_plain_in_text(
    settings: Any, celery_eager: None, fake_smtp: FakeSMTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_PROVIDER = "smtp"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake_smtp.port

    hostile_send(django_capture_on_commit_callbacks)

    (received,) = [m for m in fake_smtp.state.messages if m.recipients == ["hostile@example.org"]]
    parts = {part.get_content_type(): part.get_content() for part in received.message.walk() if not part.is_multipart()}
    assert f"Hi {ESCAPED}," in parts["text/html"] and LIVE_LINK not in parts["text/html"]
    assert f"Hi {HOSTILE}," in parts["text/plain"]


def test_mailgun_gets_the_escaped_name_in_a_variable_of_its_own(
    settings: Any, celery_eager: None, fake_provider: FakeProviderClient, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_PROVIDER = "mailgun"
    settings.EMAIL_BACKEND = "delivery.backends.MailgunBackend"
    settings.ANYMAIL = {
        "REQUESTS_TIMEOUT": 5,
        "MAILGUN_API_KEY": "key-test",
        "MAILGUN_SENDER_DOMAIN": "mg.newsroom.test",
        "MAILGUN_API_URL": fake_provider.mailgun_api_url,
    }
    settings.DEFAULT_FROM_EMAIL = "The Newsroom Daily <news@mg.newsroom.test>"

    hostile_send(django_capture_on_commit_callbacks)

    stats = fake_provider.stats()
    assert (stats["requests"], stats["recipients"]) == (1, 2)
    variables = stats["last_request"]["first_recipient_variables"]  # the hostile reader's: the first stored
    assert variables["name"] == HOSTILE and variables["name_html"] == ESCAPED
