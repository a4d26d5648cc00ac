"""The reader's IP address, as the rate limits and consent records need it.

Behind a TLS-terminating proxy or load balancer, REMOTE_ADDR is the proxy's
address, so every reader would share one rate-limit bucket and every consent
record would name the proxy. Each trusted proxy appends the address it saw to
X-Forwarded-For; the entry that many places from the right is the one our own
proxies vouch for. Entries further left were written by the client and can be
anything, so they are never used.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the X-Forwarded-For entry our proxies added."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if not hops:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
