"""Signed links readers get in every email: unsubscribe, one-click unsubscribe, preferences.

Tokens carry the subscriber id and a short digest of the address, so a link
stops working when the address is erased or changed, and are checked with a
maximum age. :func:`links_for` runs no query: DELIVERY calls it per reader.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import SuspiciousOperation
from django.urls import reverse
from django.utils.encoding import force_bytes

CONFIRM_SALT = "subscribers.confirm"
UNSUBSCRIBE_SALT = "subscribers.unsubscribe"
PREFERENCES_SALT = "subscribers.preferences"
KEEP_SALT = "subscribers.keep"

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


class ReaderSigner(signing.TimestampSigner):
    """Django's TimestampSigner, with its HMAC key derived once per signer.

    Django derives the key again for every signature (sha256 of salt, "signer"
    and SECRET_KEY), which is most of the cost of a token; a batch signs two
    tokens per reader. Tokens are Django's own format, so ``signing.loads``
    reads them and a rotated key in SECRET_KEY_FALLBACKS still verifies.
    """

    def __init__(self, *, salt: str) -> None:
        super().__init__(salt=salt, algorithm="sha256")
        self._derived = hashlib.sha256(force_bytes(f"{salt}signer") + force_bytes(self.key)).digest()
        self._stamp: tuple[int, str] = (0, "")

    def signature(self, value: str | bytes, key: str | bytes | None = None) -> str:
        if key is not None and key != self.key:
            return super().signature(value, key)
        return signing.b64_encode(hmac.digest(self._derived, force_bytes(value), "sha256")).decode()

    def timestamp(self) -> str:
        # The same base62 second as Django's, encoded once per second rather than per token.
        now = int(time.time())
        if self._stamp[0] != now:
            self._stamp = (now, signing.b62_encode(now))
        return self._stamp[1]


def make_token(*, subscriber_id: int, email: str, salt: str) -> str:
    return ReaderSigner(salt=salt).sign_object({"s": subscriber_id, "d": address_digest(email)})


def read_token(token: str, *, salt: str, max_age: timedelta) -> TokenData:
    try:
        data = ReaderSigner(salt=salt).unsign_object(token, max_age=max_age)
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


class ReaderLinks:
    """Every reader's own links, for one email or a batch of thousands.

    The URL shapes are reversed once and each salt's signer made once, so the
    batch path costs two signatures per reader and nothing else.
    """

    def __init__(self) -> None:
        marker = "TOKEN"

        def shape(name: str) -> tuple[str, str]:
            prefix, _, suffix = _absolute(reverse(name, kwargs={"token": marker})).partition(marker)
            return prefix, suffix

        self.unsubscribe, self.one_click = shape("subscribers:unsubscribe"), shape("subscribers:one_click")
        self.preferences = shape("subscribers:preferences")
        self.signers = {salt: ReaderSigner(salt=salt) for salt in (UNSUBSCRIBE_SALT, PREFERENCES_SALT)}

    def links(self, *, subscriber_id: int, email: str) -> dict[str, str]:
        """unsubscribe_url, one_click_url and preferences_url, absolute on SITE_URL."""
        # sign_object's encoding, done once for both signatures.
        data = {"s": subscriber_id, "d": address_digest(email)}
        payload = signing.b64_encode(signing.JSONSerializer().dumps(data)).decode()
        unsubscribe = self.signers[UNSUBSCRIBE_SALT].sign(payload)
        preferences = self.signers[PREFERENCES_SALT].sign(payload)
        return {
            "unsubscribe_url": unsubscribe.join(self.unsubscribe),
            "one_click_url": unsubscribe.join(self.one_click),
            "preferences_url": preferences.join(self.preferences),
        }


def keep_url(*, subscriber_id: int, email: str) -> str:
    """The "keep me subscribed" link of a re-engagement email (a page with a button: the POST keeps)."""
    token = make_token(subscriber_id=subscriber_id, email=email, salt=KEEP_SALT)
    return _absolute(reverse("subscribers:keep", kwargs={"token": token}))


def links_for(*, subscriber_id: int, email: str) -> dict[str, str]:
    """The reader's own links, absolute on SITE_URL: unsubscribe_url, one_click_url, preferences_url."""
    return ReaderLinks().links(subscriber_id=subscriber_id, email=email)
