"""Provider webhook signatures must be recent and used once.

Mailgun signs only a timestamp and a random token (HMAC of ``timestamp + token``),
not the event, so a signature block taken from one genuine post could be sent
again, for ever, with any event beside it: a complaint that suppresses another
reader. anymail checks that the HMAC is right and nothing more. So, after
anymail's own checks have passed:

* a signature dated more than ``settings.WEBHOOK_MAX_AGE_SECONDS`` ago, or more
  than FUTURE_SKEW_SECONDS ahead of our clock, is refused;
* the token of each accepted signature is remembered in the cache (``add``:
  set-if-absent, atomic in Redis, shared by every web server) until its
  timestamp would be refused anyway; the same token with another body is
  refused. The same token with the *same* body is the provider retrying a post
  whose answer it did not get: it goes through, and the Event's ``dedupe_key``
  makes it change nothing.
* When the cache cannot answer, the post is answered 503 (the provider tries
  again later) rather than taken without the check.

Providers covered: Mailgun (tracking and inbound), and Resend when its signing
secret is set (Svix signs the body too, and checks a 5-minute window itself;
the id is held to the same rule here). Postmark and Brevo do not sign their
webhooks, and anymail does not verify Amazon SNS signatures: for them the
basic-auth ``WEBHOOK_SECRET`` is the only guard.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, RawPostDataException

#: How far ahead of our clock a provider's clock may be (NTP keeps servers within a second).
FUTURE_SKEW_SECONDS = 60
# Unix seconds in ASCII digits; 12 digits reach the year 33658.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_MISSING = object()


class StaleWebhookSignature(AnymailWebhookValidationFailure):
    """The signature is too old or dated in the future (answered with 400)."""


class ReusedWebhookSignature(AnymailWebhookValidationFailure):
    """The signature was already used for another body (answered with 400)."""


class SignatureMemoryUnavailable(Exception):
    """The cache that remembers used signatures did not answer (answered with 503: try again)."""


@dataclass(frozen=True)
class SignatureStamp:
    """What makes a provider's signature unique in time: when it was made and its one-off token."""

    esp_name: str
    timestamp: str
    token: str


def signature_stamp(*, view: Any, request: HttpRequest) -> SignatureStamp | None:
    """The stamp of a post whose signature anymail's ``view`` has checked, or None where nothing is signed."""
    esp_name = view.esp_name
    if esp_name == "Mailgun":  # anymail always checks Mailgun's signature (the key defaults to the API key)
        if request.content_type == "application/json":
            block: Any = json.loads(request.body.decode("utf-8"))["signature"]
        else:  # the legacy form post; anymail checked the last value of each field
            block = request.POST
        return SignatureStamp(esp_name, str(block["timestamp"]), str(block["token"]))
    # anymail checks Resend's (Svix) signature only when RESEND_SIGNING_SECRET is set.
    if esp_name == "Resend" and getattr(view, "_svix_webhook", None) is not None:
        headers = request.headers
        token = headers.get("svix-id", headers.get("webhook-id", ""))
        timestamp = headers.get("svix-timestamp", headers.get("webhook-timestamp", ""))
        return SignatureStamp(esp_name, timestamp, token)
    return None


def request_digest(request: HttpRequest) -> str:
    """A digest of what was posted: the raw body, or for a form post already read (multipart), its fields and files."""
    try:
        return hashlib.sha256(request.body).hexdigest()
    except RawPostDataException:
        fields = sorted((key, value) for key, values in request.POST.lists() for value in values)
        files = sorted((key, f.name, f.size) for key, items in request.FILES.lists() for f in items)
        return hashlib.sha256(json.dumps([fields, files], default=str).encode()).hexdigest()


def signature_check_fresh(*, stamp: SignatureStamp, content_digest: str) -> None:
    """Refuse a stale, future-dated or reused signature; remember this one for its window.

    Raises StaleWebhookSignature or ReusedWebhookSignature (400), or
    SignatureMemoryUnavailable (503) when the cache does not answer.
    """
    max_age = settings.WEBHOOK_MAX_AGE_SECONDS
    if not _UNIX_SECONDS.fullmatch(stamp.timestamp):
        raise StaleWebhookSignature(f"{stamp.esp_name} webhook signature has no readable timestamp.")
    age = int(time.time()) - int(stamp.timestamp)
    if age > max_age:
        raise StaleWebhookSignature(
            f"{stamp.esp_name} webhook signature is {age} seconds old; at most {max_age} are accepted."
        )
    if age < -FUTURE_SKEW_SECONDS:
        raise StaleWebhookSignature(f"{stamp.esp_name} webhook signature is dated {-age} seconds in the future.")
    if not stamp.token:
        raise ReusedWebhookSignature(f"{stamp.esp_name} webhook signature has no token.")
    _remember_once(stamp=stamp, content_digest=content_digest, seconds=max_age + FUTURE_SKEW_SECONDS)


def _remember_once(*, stamp: SignatureStamp, content_digest: str, seconds: int) -> None:
    # Hashed: tokens are provider-chosen text of any length; the key must be short and clean.
    token_digest = hashlib.sha256(stamp.token.encode()).hexdigest()
    key = f"webhook-signature:{stamp.esp_name.lower()}:{token_digest}"
    # Kept until the timestamp is refused anyway, so a token is never forgotten while still usable.
    if cache.add(key, content_digest, timeout=seconds):
        return
    seen = cache.get(key, _MISSING)
    if seen == content_digest:
        return
    if seen is _MISSING:
        # core.cache turns a Redis error into "not added" and "missing": we cannot tell, so refuse for now.
        raise SignatureMemoryUnavailable("The cache that remembers webhook signatures did not answer.")
    raise ReusedWebhookSignature(f"{stamp.esp_name} webhook signature was already used for another event.")
