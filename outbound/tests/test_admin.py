"""The endpoint admin: a URL on a private address is refused at save, the secret is shown."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from outbound.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def _resolves_to(monkeypatch: Any, address: str) -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.5"])
def test_an_endpoint_on_a_private_address_is_refused_at_save(
    admin_client: Any, settings: Any, monkeypatch: Any, address: str
) -> None:
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    _resolves_to(monkeypatch, address)
    response = admin_client.post(
        "/admin/outbound/webhookendpoint/add/",
        {"url": "https://hooks.example.org/in", "description": "CRM", "events": ["subscriber.created"]},
    )
    assert response.status_code == 200
    assert f"resolves to {address}" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_on_a_public_address_is_saved_with_a_standard_webhooks_secret(
    admin_client: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    _resolves_to(monkeypatch, "93.184.215.14")
    response = admin_client.post(
        "/admin/outbound/webhookendpoint/add/",
        {
            "url": "https://hooks.example.org/in",
            "description": "CRM",
            "events": ["subscriber.created", "send.finished"],
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert endpoint.events == ["subscriber.created", "send.finished"]
    assert endpoint.secret.startswith("whsec_")
    page = admin_client.get(response["Location"]).content.decode()
    assert endpoint.secret in page


def test_an_endpoint_needs_at_least_one_event(admin_client: Any, settings: Any) -> None:
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    response = admin_client.post(
        "/admin/outbound/webhookendpoint/add/", {"url": "http://127.0.0.1:9/in", "description": "", "events": []}
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
