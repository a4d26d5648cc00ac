"""One HTTP POST to an endpoint, to the address we checked and no other.

The host is resolved once and every address it gives is checked
(core.net.resolve_checked); the connection then goes to that address, with
the name kept for the Host header and for TLS (SNI and the certificate check).
A name that answered with a public address when the endpoint was saved and
with 127.0.0.1 now (DNS rebinding) is refused here, at send time. Redirects
are not followed: a 3xx is a failed attempt, so a public endpoint cannot send
us on to a private one.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass

import certifi
import urllib3
from django.conf import settings

from core.net import UnsafeAddress, resolve_checked

EXCERPT_CHARS = 500
_READ_BYTES = 4096


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def url_check(url: str) -> str:
    """The checked address to connect to for ``url``; raises UnsafeAddress if we may not post there."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeAddress("The URL must start with http:// or https:// and name a host.")
    if parts.username or parts.password:
        raise UnsafeAddress("The URL must not carry a user name or password; the signature authenticates us.")
    return resolve_checked(parts.hostname, _port(parts), allow_private=settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE)[0]


def _port(parts: urllib.parse.SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _pool(parts: urllib.parse.SplitResult, address: str) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=5.0, read=float(settings.OUTBOUND_WEBHOOKS_TIMEOUT_SECONDS))
    if parts.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            _port(parts),
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
        )
    return urllib3.HTTPConnectionPool(address, _port(parts), timeout=timeout, retries=False)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST ``body``; never raises for a network failure or a refused address, it says so in the result."""
    started = time.monotonic()

    def result(status: int | None, excerpt: str = "", error: str = "") -> PostResult:
        return PostResult(status, excerpt[:EXCERPT_CHARS], error[:300], int((time.monotonic() - started) * 1000))

    parts = urllib.parse.urlsplit(url)
    try:
        address = url_check(url)
    except UnsafeAddress as exc:
        return result(None, error=f"Refused: {exc}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pool = _pool(parts, address)
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=body,
            headers={**headers, "Host": parts.netloc},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            text = response.read(_READ_BYTES, decode_content=True).decode("utf-8", "replace")
        finally:
            response.release_conn()
        return result(response.status, excerpt=text)
    except urllib3.exceptions.HTTPError as exc:
        return result(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        pool.close()
