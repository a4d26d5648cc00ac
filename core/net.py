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
import socket

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


class UnsafeAddress(ValueError):
    """A URL's host is, or resolves to, an address our servers must not call (server-side request forgery)."""


def address_is_public(address: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local and the like."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses ``host`` resolves to, each one checked; raises UnsafeAddress.

    Every address is checked, not just the first: a name that resolves to one
    public and one private address is refused, since a connection could take
    either. The caller connects to an address from this list, never to the
    name again, so a second lookup cannot answer differently (DNS rebinding).
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress(f"{host} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise UnsafeAddress(f"{host} does not resolve.")
    if not allow_private:
        for address in addresses:
            if not address_is_public(address):
                raise UnsafeAddress(
                    f"{host} resolves to {address}, a private, loopback or link-local address; "
                    "set OUTBOUND_WEBHOOKS_ALLOW_PRIVATE=1 to allow it."
                )
    return addresses
