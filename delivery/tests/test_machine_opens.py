"""Opens and clicks of privacy proxies and scanners are stored apart from the reader's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from delivery.machine import MachineKind, machine_kind, provider_flag, provider_ip
from delivery.models import Delivery, Event
from delivery.tests import test_tracking_support as support
from delivery.tests.test_tracking_support import MAILGUN_URL, POSTMARK_URL, mailgun_payload, post, postmark_payload
from subscribers.models import Subscriber

delivery = support.delivery
webhook_settings = support.webhook_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]

SENT = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


@pytest.mark.parametrize(
    ("agent", "ip", "seconds", "method", "expected"),
    [
        ("Mozilla/5.0", "203.0.113.9", 3600, "GET", MachineKind.APPLE_MPP),  # Apple's bare user agent
        (IPHONE, "17.58.63.101", 3600, "GET", MachineKind.APPLE_MPP),  # from Apple's network
        (IPHONE, "203.0.113.9", 3600, "GET", MachineKind.PERSON),
        (GMAIL, "66.249.84.1", 3600, "GET", MachineKind.PERSON),  # Gmail fetches when the reader opens
        (GMAIL, "66.249.84.1", 4, "GET", MachineKind.PREFETCH),  # ... unless it is seconds after sending
        ("Barracuda Sentinel (EE)", "198.51.100.4", 3600, "GET", MachineKind.SCANNER),
        ("python-requests/2.31.0", "198.51.100.4", 3600, "GET", MachineKind.SCANNER),
        (IPHONE, "203.0.113.9", 3600, "HEAD", MachineKind.SCANNER),
        ("", "", 16, "GET", MachineKind.PERSON),
        ("", "not an address", 15, "GET", MachineKind.PREFETCH),
    ],
)
def test_machine_kind_tells_proxies_scanners_and_prefetch_from_people(
    agent: str, ip: str, seconds: int, method: str, expected: str
) -> None:
    at = SENT + timedelta(seconds=seconds)
    assert machine_kind(user_agent=agent, ip=ip, at=at, sent_at=SENT, method=method) == expected


def test_a_providers_own_flag_and_address_are_read_from_its_raw_event() -> None:
    assert provider_flag({"sg_machine_open": True}) and not provider_flag({"sg_machine_open": False})
    assert provider_ip({"event-data": {"ip": "17.1.2.3"}}) == "17.1.2.3"
    assert provider_ip({"Geo": {"IP": "203.0.113.1"}}) == "203.0.113.1"
    assert provider_ip({"open": {"ipAddress": "198.51.100.2"}}) == "198.51.100.2"
    assert provider_ip(["not", "a", "dict"]) == ""


def test_apples_proxy_open_proves_delivery_but_is_not_an_open(client: Client, delivery: Delivery) -> None:
    payload = mailgun_payload("opened", delivery, at="2026-11-02T06:03:00", ip="17.58.63.101")
    payload["event-data"]["client-info"] = {"user-agent": "Mozilla/5.0"}
    post(client, MAILGUN_URL, payload)

    delivery.refresh_from_db()
    assert Event.objects.get().machine == MachineKind.APPLE_MPP
    assert delivery.delivered_at == delivery.machine_opened_at == datetime(2026, 11, 2, 6, 3, tzinfo=UTC)
    assert delivery.opened_at is None
    assert Subscriber.objects.get(deliveries=delivery).last_engaged_at is None


def test_the_reader_opening_after_the_proxy_counts_as_an_open(client: Client, delivery: Delivery) -> None:
    post(client, POSTMARK_URL, postmark_payload("Open", delivery, at="2026-11-02T06:00:05Z"))  # 5 s after sending
    post(client, POSTMARK_URL, postmark_payload("Open", delivery, at="2026-11-02T09:30:00Z"))

    delivery.refresh_from_db()
    kinds = list(Event.objects.order_by("at").values_list("machine", flat=True))
    assert kinds == [MachineKind.PREFETCH, MachineKind.PERSON]
    assert delivery.machine_opened_at == datetime(2026, 11, 2, 6, 0, 5, tzinfo=UTC)
    assert delivery.opened_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert Subscriber.objects.get(deliveries=delivery).last_engaged_at == delivery.opened_at


def test_a_scanners_click_is_not_a_click(client: Client, delivery: Delivery) -> None:
    payload = mailgun_payload("clicked", delivery, at="2026-11-02T07:00:00", url="https://example.org/story")
    payload["event-data"]["client-info"] = {"user-agent": "Mimecast URL Protect"}
    post(client, MAILGUN_URL, payload)

    delivery.refresh_from_db()
    assert Event.objects.get().machine == MachineKind.SCANNER
    assert (delivery.clicked_at, delivery.opened_at) == (None, None)
    assert delivery.delivered_at is not None


def test_only_the_readers_own_open_and_click_mark_the_send_they_engaged_with(client: Client) -> None:
    from testing.factories import SendFactory

    send = SendFactory.create(started_at=SENT)
    row = support.make_delivery("bo@example.org", send=send)
    proxy = mailgun_payload("opened", row, at="2026-11-02T06:02:00", ip="17.58.63.101")
    post(client, MAILGUN_URL, proxy)
    reader = Subscriber.objects.get(deliveries=row)
    assert (reader.last_open_send_at, reader.last_click_send_at) == (None, None)

    post(client, MAILGUN_URL, mailgun_payload("clicked", row, at="2026-11-02T08:00:00", url="https://example.org/s"))

    reader.refresh_from_db()
    assert reader.last_open_send_at == reader.last_click_send_at == SENT
