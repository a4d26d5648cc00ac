"""Signed links readers get in every email: unsubscribe, one-click unsubscribe, preferences.

Tokens carry the subscriber id and a short digest of the address, so a link
stops working when the address is erased or changed, and are checked with a
maximum age. :func:`links_for` runs no query: DELIVERY calls it per reader.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import SuspiciousOperation
from django.urls import reverse

CONFIRM_SALT = "subscribers.confirm"
UNSUBSCRIBE_SALT = "subscribers.unsubscribe"
PREFERENCES_SALT = "subscribers.preferences"

CONFIRM_MAX_AGE = timedelta(days=7)
# Links in sent emails stay valid for a year (the contract asks for >= 60 days).
LINK_MAX_AGE = timedelta(days=365)


class InvalidLink(SuspiciousOperation):
    """The token was tampered with, has expired or names no current reader.

    A SuspiciousOperation, so a view that does not catch it answers 400; the
    reader-facing views catch it and show which of the three it was."""


@dataclass(frozen=True)
class TokenData:
    subscriber_id: int
    digest: str


def address_digest(email: str) -> str:
    return hashlib.sha256(f"link:{email.strip().lower()}".encode()).hexdigest()[:16]


def make_token(*, subscriber_id: int, email: str, salt: str) -> str:
    return signing.dumps({"s": subscriber_id, "d": address_digest(email)}, salt=salt, compress=False)


def read_token(token: str, *, salt: str, max_age: timedelta) -> TokenData:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidLink("This link has expired.") from None
    except signing.BadSignature:
        raise InvalidLink("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("d"), str):
        raise InvalidLink("This link is not valid.")
    return TokenData(subscriber_id=data["s"], digest=data["d"])


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def confirm_url(*, subscriber_id: int, email: str) -> str:
    token = make_token(subscriber_id=subscriber_id, email=email, salt=CONFIRM_SALT)
    return _absolute(reverse("subscribers:confirm", kwargs={"token": token}))


def links_for(*, subscriber_id: int, email: str) -> dict[str, str]:
    """The reader's own links, absolute on SITE_URL: unsubscribe_url, one_click_url, preferences_url."""
    unsubscribe = make_token(subscriber_id=subscriber_id, email=email, salt=UNSUBSCRIBE_SALT)
    preferences = make_token(subscriber_id=subscriber_id, email=email, salt=PREFERENCES_SALT)
    return {
        "unsubscribe_url": _absolute(reverse("subscribers:unsubscribe", kwargs={"token": unsubscribe})),
        "one_click_url": _absolute(reverse("subscribers:one_click", kwargs={"token": unsubscribe})),
        "preferences_url": _absolute(reverse("subscribers:preferences", kwargs={"token": preferences})),
    }
