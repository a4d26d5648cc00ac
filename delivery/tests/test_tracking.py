"""What provider events do: to the Delivery, to the reader, and to the suppression list."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent
from django.test import Client

from delivery.models import Delivery, DeliveryStatus, Event
from delivery.tests import test_tracking_support as support
from delivery.tests.test_tracking_support import (
    MAILGUN_URL,
    POSTMARK_URL,
    mailgun_failed,
    mailgun_payload,
    make_delivery,
    post,
    postmark_payload,
)
from delivery.tracking import bounce_is_soft, event_record
from subscribers.models import Subscriber, SubscriberStatus, Suppression, email_hash

delivery = support.delivery
webhook_settings = support.webhook_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


def reader_of(delivery: Delivery) -> Subscriber:
    assert delivery.subscriber_id is not None
    return Subscriber.objects.get(pk=delivery.subscriber_id)


def suppressed(email: str) -> Suppression | None:
    return Suppression.objects.filter(email_hash=email_hash(email)).first()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_delivered_opened_and_clicked_fill_the_delivery(client: Client, delivery: Delivery) -> None:
    post(client, MAILGUN_URL, mailgun_payload("delivered", delivery, at="2026-11-02T06:01:00"))
    post(client, MAILGUN_URL, mailgun_payload("opened", delivery, at="2026-11-02T07:00:00"))
    link = "https://example.org/story?utm_source=newsletter"
    post(client, MAILGUN_URL, mailgun_payload("clicked", delivery, at="2026-11-02T07:02:00", url=link))

    delivery.refresh_from_db()
    assert delivery.delivered_at == at("2026-11-02T06:01:00")
    assert delivery.opened_at == at("2026-11-02T07:00:00")
    assert delivery.clicked_at == at("2026-11-02T07:02:00")
    assert Event.objects.get(event_type="clicked").url == link
    assert reader_of(delivery).last_engaged_at == at("2026-11-02T07:02:00")


def test_events_out_of_order_do_not_move_the_delivery_backwards(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("Open", delivery, at="2026-11-02T08:00:00Z"))
    post(client, POSTMARK_URL, postmark_payload("Open", delivery, at="2026-11-02T09:30:00Z"))
    post(client, POSTMARK_URL, postmark_payload("Delivery", delivery, at="2026-11-02T06:00:30Z"))

    delivery.refresh_from_db()
    assert delivery.opened_at == at("2026-11-02T08:00:00")  # the first open, not the latest to arrive
    assert delivery.delivered_at == at("2026-11-02T06:00:30")  # the real delivery time, earlier than the open
    assert Event.objects.count() == 3


def test_an_open_before_any_delivered_event_counts_as_delivered(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("Open", delivery, at="2026-11-02T08:00:00Z"))

    delivery.refresh_from_db()
    assert delivery.delivered_at == at("2026-11-02T08:00:00")


def test_a_hard_bounce_suppresses_the_address_and_marks_the_reader_bounced(client: Client, delivery: Delivery) -> None:
    payload = mailgun_failed(
        delivery,
        severity="permanent",
        code=550,
        message="5.1.1 The account that you tried to reach does not exist",
    )

    assert post(client, MAILGUN_URL, payload).status_code == 200

    assert reader_of(delivery).status == SubscriberStatus.BOUNCED
    entry = suppressed(delivery.email)
    assert entry is not None and entry.reason == Suppression.Reason.HARD_BOUNCE
    event = Event.objects.get()
    assert event.event_type == "bounced" and "5.1.1" in event.description


def test_a_postmark_hard_bounce_suppresses_the_address(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("Bounce", delivery, Type="HardBounce"))

    assert reader_of(delivery).status == SubscriberStatus.BOUNCED
    assert suppressed(delivery.email) is not None


def test_a_rejected_message_counts_as_a_hard_bounce(client: Client, delivery: Delivery) -> None:
    payload = mailgun_payload("rejected", delivery, reject={"reason": "invalid recipient", "description": ""})

    post(client, MAILGUN_URL, payload)

    assert Event.objects.get().event_type == "rejected"
    assert reader_of(delivery).status == SubscriberStatus.BOUNCED
    assert suppressed(delivery.email) is not None


def test_a_complaint_marks_the_reader_and_suppresses_the_address(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("SpamComplaint", delivery))

    assert reader_of(delivery).status == SubscriberStatus.COMPLAINED
    entry = suppressed(delivery.email)
    assert entry is not None and entry.reason == Suppression.Reason.COMPLAINT


def test_a_mailgun_complaint_marks_the_reader(client: Client, delivery: Delivery) -> None:
    post(client, MAILGUN_URL, mailgun_payload("complained", delivery))

    assert reader_of(delivery).status == SubscriberStatus.COMPLAINED
    assert suppressed(delivery.email) is not None


def test_soft_bounces_count_and_suppress_only_at_the_limit(client: Client, webhook_settings: Any) -> None:
    webhook_settings.SOFT_BOUNCE_LIMIT = 3
    email = "full.mailbox@example.org"
    first = make_delivery(email)
    reader = reader_of(first)
    sends = [first] + [make_delivery(email, subscriber=reader) for _ in range(2)]

    for number, item in enumerate(sends[:2], start=1):
        message = "4.2.2 The email account that you tried to reach is over quota"
        post(client, MAILGUN_URL, mailgun_failed(item, severity="temporary", code=452, message=message))
        reader.refresh_from_db()
        assert reader.soft_bounces == number
        assert reader.status == SubscriberStatus.ACTIVE
        assert suppressed(email) is None

    post(client, POSTMARK_URL, postmark_payload("Bounce", sends[2], Type="SoftBounce"))

    reader.refresh_from_db()
    assert reader.soft_bounces == 3
    assert reader.status == SubscriberStatus.BOUNCED
    assert suppressed(email) is not None
    assert Event.objects.filter(event_type="deferred").count() == 2


def temporary_failure(item: Delivery, at: str = "2026-11-02T06:10:00") -> dict[str, Any]:
    message = "452 4.2.2 The email account that you tried to reach is over quota"
    return mailgun_failed(item, severity="temporary", code=452, message=message, at=at)


def test_retries_of_one_message_count_as_one_soft_bounce(client: Client, delivery: Delivery) -> None:
    for minute in range(10, 50, 10):  # Mailgun reports each failed retry of the same message
        post(client, MAILGUN_URL, temporary_failure(delivery, at=f"2026-11-02T06:{minute}:00"))

    reader = reader_of(delivery)
    assert Event.objects.filter(event_type="deferred").count() == 4
    assert reader.soft_bounces == 1
    assert reader.status == SubscriberStatus.ACTIVE
    assert suppressed(delivery.email) is None


def test_a_message_delivered_after_temporary_failures_is_no_soft_bounce(client: Client, delivery: Delivery) -> None:
    post(client, MAILGUN_URL, temporary_failure(delivery, at="2026-11-02T06:10:00"))
    post(client, MAILGUN_URL, mailgun_payload("delivered", delivery, at="2026-11-02T07:10:00"))

    assert reader_of(delivery).soft_bounces == 0


def reader_with_sends(count: int) -> list[Delivery]:
    first = make_delivery("full.mailbox@example.org")
    return [first] + [make_delivery(first.email, subscriber=reader_of(first)) for _ in range(count - 1)]


def test_a_delivery_in_between_ends_the_run_of_soft_bounces(client: Client) -> None:
    one, two, three, four, five = reader_with_sends(5)
    for item in (one, two):
        post(client, MAILGUN_URL, temporary_failure(item))
    post(client, MAILGUN_URL, mailgun_payload("delivered", three))
    for item in (four, five):
        post(client, MAILGUN_URL, temporary_failure(item))

    reader = reader_of(one)
    assert reader.soft_bounces == 2  # four and five; one and two were before a delivered message
    assert reader.status == SubscriberStatus.ACTIVE
    assert suppressed(one.email) is None


def test_the_soft_bounce_run_does_not_depend_on_the_order_events_arrive(client: Client) -> None:
    sends = reader_with_sends(4)
    payloads = [temporary_failure(sends[0]), mailgun_payload("delivered", sends[1])]
    payloads += [temporary_failure(sends[2]), temporary_failure(sends[3])]

    for payload in reversed(payloads):  # newest first, the opposite of how they happened
        post(client, MAILGUN_URL, payload)
    for payload in payloads:  # and every one of them again
        post(client, MAILGUN_URL, payload)

    reader = reader_of(sends[0])
    assert reader.soft_bounces == 2
    assert reader.status == SubscriberStatus.ACTIVE
    assert Event.objects.count() == 4


def test_the_limit_reached_out_of_order_still_suppresses(client: Client) -> None:
    sends = reader_with_sends(3)

    for item in reversed(sends):
        post(client, MAILGUN_URL, temporary_failure(item))

    reader = reader_of(sends[0])
    assert (reader.soft_bounces, reader.status) == (3, SubscriberStatus.BOUNCED)
    entry = suppressed(sends[0].email)
    assert entry is not None and entry.reason == Suppression.Reason.SOFT_BOUNCES


def test_a_postmark_block_of_the_message_is_soft_unless_postmark_deactivated_the_address(client: Client) -> None:
    kept, gone = make_delivery("kept@example.org"), make_delivery("gone@example.org")

    post(client, POSTMARK_URL, postmark_payload("Bounce", kept, Type="Blocked", Inactive=False))
    post(client, POSTMARK_URL, postmark_payload("Bounce", gone, Type="Blocked", Inactive=True))

    assert (reader_of(kept).status, reader_of(kept).soft_bounces) == (SubscriberStatus.ACTIVE, 1)
    assert suppressed(kept.email) is None
    assert reader_of(gone).status == SubscriberStatus.BOUNCED
    assert suppressed(gone.email) is not None


def test_an_open_resets_the_soft_bounce_count(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("Bounce", delivery, Type="SoftBounce"))
    assert reader_of(delivery).soft_bounces == 1

    post(client, POSTMARK_URL, postmark_payload("Open", delivery))

    assert reader_of(delivery).soft_bounces == 0


def test_unsubscribed_unsubscribes_the_reader(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("SubscriptionChange", delivery))

    reader = reader_of(delivery)
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
    assert reader.unsubscribed_at is not None
    assert Event.objects.get().event_type == "unsubscribed"


def test_a_mailgun_unsubscribe_unsubscribes_the_reader(client: Client, delivery: Delivery) -> None:
    post(client, MAILGUN_URL, mailgun_payload("unsubscribed", delivery))

    assert reader_of(delivery).status == SubscriberStatus.UNSUBSCRIBED


def test_an_uncertain_delivery_that_gets_any_event_becomes_sent(client: Client) -> None:
    uncertain = make_delivery(status=DeliveryStatus.UNCERTAIN, sent_at=None)

    post(client, MAILGUN_URL, mailgun_payload("delivered", uncertain, at="2026-11-02T06:03:00"))

    uncertain.refresh_from_db()
    assert uncertain.status == DeliveryStatus.SENT
    assert uncertain.sent_at == at("2026-11-02T06:03:00")


def test_an_uncertain_delivery_becomes_sent_even_from_an_unknown_event(client: Client) -> None:
    uncertain = make_delivery(status=DeliveryStatus.UNCERTAIN, sent_at=None)

    post(client, MAILGUN_URL, mailgun_payload("stored", uncertain))

    uncertain.refresh_from_db()
    assert uncertain.status == DeliveryStatus.SENT


def test_an_event_for_an_unknown_message_is_kept_and_changes_no_reader(client: Client) -> None:
    bystander = make_delivery("bystander@example.org")
    payload = mailgun_failed(bystander, severity="permanent", code=550, message="5.1.1 no such user")
    payload["event-data"]["user-variables"] = {}
    payload["event-data"]["message"]["headers"]["message-id"] = "somewhere-else@mg.newsroom.test"

    response = post(client, MAILGUN_URL, payload)

    assert response.status_code == 200
    event = Event.objects.get()
    assert (event.delivery, event.send, event.message_id) == (None, None, "<somewhere-else@mg.newsroom.test>")
    assert reader_of(bystander).status == SubscriberStatus.ACTIVE
    assert not Suppression.objects.exists()


def test_without_metadata_the_delivery_is_found_by_message_id_and_recipient(client: Client) -> None:
    target = make_delivery("grace@example.org")
    payload = mailgun_payload("delivered", target, metadata=False, recipient="Grace@Example.org")

    post(client, MAILGUN_URL, payload)

    assert Event.objects.get().delivery == target
    target.refresh_from_db()
    assert target.delivered_at is not None


def test_metadata_naming_a_delivery_to_another_address_is_not_trusted(client: Client) -> None:
    ours = make_delivery("ours@example.org")
    stranger = make_delivery("stranger@example.org")
    payload = mailgun_failed(stranger, severity="permanent", code=550, message="5.1.1 no such user")
    payload["event-data"]["user-variables"] = {"delivery_id": str(ours.pk)}

    post(client, MAILGUN_URL, payload)

    assert Event.objects.get().delivery == stranger  # by message id and recipient instead
    assert reader_of(ours).status == SubscriberStatus.ACTIVE
    assert suppressed(ours.email) is None


@pytest.mark.parametrize("bad_id", ["²", "١٢", "1" * 40, "-3", " 7 ", "0x10"])
def test_a_delivery_id_that_is_not_plain_ascii_digits_is_ignored_and_the_message_id_used(
    client: Client, bad_id: str
) -> None:
    target = make_delivery("sup@example.org")
    payload = mailgun_payload("delivered", target)
    payload["event-data"]["user-variables"] = {"delivery_id": bad_id}

    response = post(client, MAILGUN_URL, payload)

    assert response.status_code == 200
    assert Event.objects.get().delivery == target


def test_without_metadata_our_own_message_id_finds_the_delivery(client: Client) -> None:
    target = make_delivery("own@example.org", provider_message_id="<batch-reply-7@mg.newsroom.test>")
    header_id = f"d{target.pk}.s{target.send_id}@news.example.com"
    payload = mailgun_payload("opened", target, metadata=False, message_id=header_id)

    post(client, MAILGUN_URL, payload)

    assert Event.objects.get().delivery == target
    target.refresh_from_db()
    assert target.opened_at is not None


def test_a_time_without_a_zone_is_taken_as_utc(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("Delivery", delivery, at="2026-11-02T06:05:00"))

    delivery.refresh_from_db()
    assert delivery.delivered_at == at("2026-11-02T06:05:00")


def test_a_duplicate_bounce_does_not_count_twice(client: Client, delivery: Delivery) -> None:
    payload = postmark_payload("Bounce", delivery, ID=4242, Type="SoftBounce")

    post(client, POSTMARK_URL, payload)
    post(client, POSTMARK_URL, payload)

    assert reader_of(delivery).soft_bounces == 1
    assert Event.objects.count() == 1


def test_event_record_returns_none_for_a_duplicate(delivery: Delivery) -> None:
    event = AnymailTrackingEvent(
        event_type="opened",
        timestamp=at("2026-11-02T07:00:00"),
        message_id=delivery.provider_message_id,
        recipient=delivery.email,
        metadata={"delivery_id": str(delivery.pk)},
        esp_event={"RecordType": "Open"},
    )

    first = event_record(event=event, esp_name="Postmark")
    second = event_record(event=event, esp_name="Postmark")

    assert first is not None and first.delivery == delivery
    assert second is None
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("event_type", "reject_reason", "mta_response", "raw", "soft"),
    [
        ("deferred", None, "", {}, True),
        ("bounced", "bounced", "smtp;550 5.1.1 user unknown", {}, False),
        ("bounced", "bounced", "452 4.2.2 mailbox full", {}, True),
        ("bounced", "timed_out", "", {}, True),
        ("bounced", "bounced", "", {"RecordType": "Bounce", "Type": "SoftBounce"}, True),
        ("bounced", "bounced", "", {"RecordType": "Bounce", "Type": "HardBounce"}, False),
        ("bounced", "bounced", "", {"RecordType": "Bounce", "Type": "HardBounce", "Inactive": False}, False),
        ("rejected", "blocked", "", {"RecordType": "Bounce", "Type": "Blocked", "Inactive": False}, True),
        ("rejected", "blocked", "", {"RecordType": "Bounce", "Type": "Blocked", "Inactive": True}, False),
        ("rejected", "invalid", "", {"RecordType": "Bounce", "Type": "BadEmailAddress"}, False),
        ("bounced", "bounced", "", {}, False),
        ("rejected", "invalid", "421 4.7.0 try later", {}, False),
    ],
)
def test_the_soft_bounce_rule(
    event_type: str, reject_reason: str | None, mta_response: str, raw: dict[str, Any], soft: bool
) -> None:
    event = SimpleNamespace(
        event_type=event_type, reject_reason=reject_reason, mta_response=mta_response, description="", esp_event=raw
    )

    assert bounce_is_soft(event) is soft  # type: ignore[arg-type]
