"""The fake provider answers anymail's real Mailgun and Postmark backends like the real APIs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from anymail.exceptions import AnymailRequestsAPIError
from anymail.message import AnymailMessage
from django.core.mail import get_connection

from testing.fakeprovider import FakeProvider, FakeProviderClient


@pytest.fixture
def provider() -> Iterator[FakeProviderClient]:
    fake = FakeProvider().start()
    try:
        yield FakeProviderClient(fake.url)
    finally:
        fake.stop()


def mailgun(provider: FakeProviderClient, **kwargs: Any) -> Any:
    return get_connection(
        "anymail.backends.mailgun.EmailBackend",
        api_key="key-test",
        sender_domain="mg.newsroom.test",
        api_url=provider.mailgun_api_url,
        **kwargs,
    )


def postmark(provider: FakeProviderClient) -> Any:
    return get_connection("anymail.backends.postmark.EmailBackend", server_token="pm-test", api_url=provider.url + "/")


def batch(addresses: list[str], send_id: str = "7", **kwargs: Any) -> AnymailMessage:
    message = AnymailMessage(
        subject="Today's issue",
        body="Hello %recipient.name%",
        from_email="News <news@mg.newsroom.test>",
        to=addresses,
        **kwargs,
    )
    message.attach_alternative("<p>Hello %recipient.name%</p>", "text/html")
    message.merge_data = {a: {"name": a.split("@")[0]} for a in addresses}
    message.merge_metadata = {a: {"delivery_id": str(i), "send_id": send_id} for i, a in enumerate(addresses)}
    message.merge_headers = {a: {"List-Unsubscribe": f"<https://newsroom.test/u/{i}>"} for i, a in enumerate(addresses)}
    return message


def test_mailgun_batch_is_accepted_with_one_message_id_for_every_recipient(provider: FakeProviderClient) -> None:
    addresses = [f"reader{i}@example.org" for i in range(5)]
    message = batch(addresses)

    sent = mailgun(provider).send_messages([message])

    assert sent == 1
    statuses = message.anymail_status.recipients
    assert set(statuses) == set(addresses)
    assert {s.status for s in statuses.values()} == {"queued"}
    assert len({s.message_id for s in statuses.values()}) == 1
    stats = provider.stats()
    assert (stats["messages"], stats["recipients"], stats["duplicates"]) == (1, 5, 0)
    first = stats["last_request"]["first_recipient_variables"]
    assert first["name"] == "reader0"
    assert first["v:send_id"] == "7"
    assert first["h:List-Unsubscribe"] == "<https://newsroom.test/u/0>"


def test_same_reader_of_the_same_send_twice_counts_as_a_duplicate(provider: FakeProviderClient) -> None:
    backend = mailgun(provider)
    backend.send_messages([batch(["a@example.org", "b@example.org"], send_id="1")])
    backend.send_messages([batch(["A@example.org"], send_id="1")])
    backend.send_messages([batch(["a@example.org"], send_id="2")])

    stats = provider.stats()
    assert stats["recipients"] == 4
    assert stats["unique_recipients"] == 3
    assert stats["duplicates"] == 1
    assert stats["duplicate_addresses"] == ["a@example.org"]
    assert provider.accepted() == ["a@example.org", "b@example.org"]


def test_mailgun_with_an_attachment_is_parsed_from_multipart(provider: FakeProviderClient) -> None:
    message = batch(["x@example.org", "y@example.org"])
    message.attach("note.txt", b"hello", "text/plain")

    mailgun(provider).send_messages([message])

    assert provider.stats()["recipients"] == 2
    assert "attachment" not in provider.stats()["last_request"]["fields"]


def test_outage_for_a_number_of_requests_then_success(provider: FakeProviderClient) -> None:
    provider.set_mode(status=503, requests=2)
    backend = mailgun(provider)

    for _ in range(2):
        with pytest.raises(AnymailRequestsAPIError) as caught:
            backend.send_messages([batch(["r@example.org"])])
        assert caught.value.status_code == 503
    backend.send_messages([batch(["r@example.org"])])

    stats = provider.stats()
    assert stats["failed_requests"] == {"503": 2}
    assert (stats["recipients"], stats["duplicates"]) == (1, 0)


def test_rate_limit_for_a_while(provider: FakeProviderClient) -> None:
    provider.set_mode(status=429, seconds=60)

    with pytest.raises(AnymailRequestsAPIError) as caught:
        mailgun(provider).send_messages([batch(["r@example.org"])])

    assert caught.value.status_code == 429
    assert provider.stats()["recipients"] == 0


def test_a_batch_containing_the_rejected_address_gets_a_400_with_the_reason(provider: FakeProviderClient) -> None:
    provider.set_mode(reject_address="bad@example.org", message="Invalid address: bad@example.org")
    backend = mailgun(provider)

    with pytest.raises(AnymailRequestsAPIError) as caught:
        backend.send_messages([batch(["ok@example.org", "bad@example.org"])])
    backend.send_messages([batch(["fine@example.org"])])

    assert caught.value.status_code == 400
    assert "Invalid address: bad@example.org" in str(caught.value)
    assert provider.accepted() == ["fine@example.org"]


def test_a_slow_answer_times_out_the_client_after_the_provider_accepted(provider: FakeProviderClient) -> None:
    provider.set_mode(slow_seconds=2, requests=1)

    with pytest.raises(requests.exceptions.ReadTimeout):
        mailgun(provider, timeout=0.5).send_messages([batch(["slow@example.org"])])

    assert provider.accepted() == ["slow@example.org"]


def test_missing_api_key_is_refused(provider: FakeProviderClient) -> None:
    answer = requests.post(f"{provider.mailgun_api_url}/mg.newsroom.test/messages", data={"to": "a@b.c"}, timeout=5)

    assert answer.status_code == 401
    assert provider.stats()["recipients"] == 0


def test_reset_forgets_counts_and_modes(provider: FakeProviderClient) -> None:
    provider.set_mode(status=503)
    with pytest.raises(AnymailRequestsAPIError):
        mailgun(provider).send_messages([batch(["r@example.org"])])

    provider.reset()
    mailgun(provider).send_messages([batch(["r@example.org"])])

    stats = provider.stats()
    assert (stats["requests"], stats["recipients"], stats["failed_requests"]) == (1, 1, {})


def test_postmark_batch_gets_a_message_id_per_recipient(provider: FakeProviderClient) -> None:
    addresses = ["p1@example.org", "p2@example.org", "p3@example.org"]
    message = AnymailMessage(subject="Hi", body="Text", from_email="news@newsroom.test", to=addresses)
    message.merge_metadata = {a: {"send_id": "9", "delivery_id": str(i)} for i, a in enumerate(addresses)}

    postmark(provider).send_messages([message])

    statuses = message.anymail_status.recipients
    assert {s.status for s in statuses.values()} == {"sent"}
    assert len({s.message_id for s in statuses.values()}) == 3
    assert provider.stats()["recipients"] == 3
    assert provider.stats()["unique_recipients"] == 3


def test_postmark_single_message_and_outage(provider: FakeProviderClient) -> None:
    backend = postmark(provider)
    provider.set_mode(status=503, requests=1)
    message = AnymailMessage(subject="Hi", body="Text", from_email="news@newsroom.test", to=["one@example.org"])

    with pytest.raises(AnymailRequestsAPIError):
        backend.send_messages([message])
    backend.send_messages([message])

    assert message.anymail_status.status == {"sent"}
    assert provider.accepted() == ["one@example.org"]
