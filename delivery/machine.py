"""Opens and clicks made by machines rather than readers.

An open is a fetch of the message's tracking image, a click a fetch of a
tracked link. Since 2021 many of those fetches are not a person reading:

* **Apple Mail Privacy Protection** fetches every remote image of a message
  through Apple's proxies as soon as the message reaches the device, whether
  or not it is ever read. Its fetches come from Apple's own network,
  17.0.0.0/8, with a bare ``Mozilla/5.0`` user agent (no browser or system
  named), which no mail client sends for a person.
* **Security gateways and link scanners** (Barracuda, Mimecast, Proofpoint,
  Microsoft's Safe Links, and plain HTTP libraries) fetch images and follow
  links to check them, within seconds of delivery, often with HEAD requests.
* **Image proxies of webmail** (Gmail's ``GoogleImageProxy``, Yahoo's
  ``YahooMailProxy``) fetch when a person opens the message, so their opens
  count; but they also prefetch for some mailboxes, which shows as a fetch
  within seconds of the send.

So, in this order: a provider's own "machine open" flag (SendGrid's
``sg_machine_open``), Apple's network or user agent, a scanner's user agent, a
HEAD request, and timing: any open or click within ``MACHINE_OPEN_SECONDS`` of
our handing the message to the provider is a machine's. A machine open still
proves the message arrived (``Delivery.delivered_at``); only opens and clicks
of people fill ``Delivery.opened_at`` / ``clicked_at`` and the reader's
``last_engaged_at``, which is what segments and open rates read. A person who
opens or clicks later is counted then, whatever the machines did before.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models

#: Apple's network (a /8 Apple has held since 1990); Mail Privacy Protection fetches from inside it.
APPLE_NETWORKS = (ipaddress.IPv4Network("17.0.0.0/8"),)
#: The user agent Apple's proxies send: no browser, no system, nothing after it.
APPLE_PROXY_AGENTS = frozenset({"mozilla/5.0"})
#: User agents of link scanners and security gateways, and of HTTP libraries no reader uses (lower case).
SCANNER_AGENT = re.compile(
    r"barracuda|mimecast|proofpoint|safelinks|symantec|forcepoint|trendmicro|sophos|fortinet|"
    r"python-requests|python-urllib|aiohttp|go-http-client|curl/|wget/|libwww|java/|okhttp|"
    r"headlesschrome|phantomjs|bot\b|crawler|spider|linkcheck|urlscan"
)


class MachineKind(models.TextChoices):
    """Why an open or click is counted as a machine's ("" is a person, as far as we can tell)."""

    PERSON = "", "A person"
    PROVIDER = "provider", "Flagged by the provider"
    APPLE_MPP = "apple_mpp", "Apple Mail Privacy Protection"
    SCANNER = "scanner", "Link scanner or security gateway"
    PREFETCH = "prefetch", "Fetched within seconds of sending"


def machine_kind(
    *,
    user_agent: str,
    ip: str,
    at: datetime,
    sent_at: datetime | None,
    method: str = "GET",
    provider_flag: bool = False,
) -> str:
    """The MachineKind of one open or click ("" for a person); see the module's docstring."""
    agent = (user_agent or "").strip().lower()
    if provider_flag:
        return MachineKind.PROVIDER
    if agent in APPLE_PROXY_AGENTS or _in_networks(ip, APPLE_NETWORKS):
        return MachineKind.APPLE_MPP
    if SCANNER_AGENT.search(agent) or method.upper() == "HEAD":
        return MachineKind.SCANNER
    if sent_at is not None and (at - sent_at).total_seconds() <= settings.MACHINE_OPEN_SECONDS:
        return MachineKind.PREFETCH
    return MachineKind.PERSON


def provider_ip(raw: Any) -> str:
    """The fetching client's address in a provider's raw open or click event, where the provider gives it."""
    if not isinstance(raw, dict):
        return ""
    candidates = [
        _get(raw, "event-data", "ip"),  # Mailgun
        raw.get("ip"),  # SendGrid, Brevo, Mailjet
        _get(raw, "Geo", "IP"),  # Postmark
        _get(raw, "open", "ipAddress"),  # Amazon SES
        _get(raw, "click", "ipAddress"),
    ]
    return next((str(value) for value in candidates if isinstance(value, str) and value), "")


def provider_flag(raw: Any) -> bool:
    """True when the provider itself says the open was a machine's (SendGrid marks Apple's proxy so)."""
    return isinstance(raw, dict) and raw.get("sg_machine_open") in (True, "true", "True", 1)


def _get(raw: dict[str, Any], outer: str, inner: str) -> Any:
    value = raw.get(outer)
    return value.get(inner) if isinstance(value, dict) else None


def _in_networks(ip: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address in network for network in networks)
