"""Making, checking and revoking API keys.

A key is ``nr_`` and 43 URL-safe characters (32 random bytes). The database
keeps its SHA-256 only, so a stolen database lets nobody in; the first 11
characters are kept too, for people to tell their keys apart. Every request
reads the key's row afresh: no cache, so a revoke stops the next request.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.models import ApiKey
from api.scopes import Scope

KEY_PREFIX = "nr_"
SHOWN_PREFIX_LENGTH = 11
# last_used_at is written at most this often per key: a busy key would otherwise write its row on every request.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)


class KeyRefused(Exception):
    """The request names no usable key; ``reason`` says why (for the 401 answer)."""

    def __init__(self, reason: str, *, key: ApiKey | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def scopes_clean(scopes: Any) -> list[str]:
    """The scopes as stored: known ones only, in the order Scope lists them."""
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    unknown = sorted({str(s) for s in scopes} - set(Scope.values))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}."})
    return [s for s in Scope.values if s in scopes]


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def api_key_create(*, name: str, scopes: list[str], expires_at: datetime.datetime | None, acting_user: Any) -> NewKey:
    """Make a key that acts as ``acting_user``; the secret is in the answer and nowhere else."""
    if not acting_user.has_perm("api.add_apikey"):
        raise PermissionDenied("You may not create API keys.")
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Give the key a name that says what uses it."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    cleaned = scopes_clean(scopes)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name[:100],
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=key_hash(secret),
        scopes=cleaned,
        expires_at=expires_at,
        created_by=acting_user,
    )
    return NewKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, acting_user: Any) -> ApiKey:
    """Stop a key for good, from its next request on. Revoking twice changes nothing."""
    if not acting_user.has_perm("api.change_apikey"):
        raise PermissionDenied("You may not revoke API keys.")
    ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(revoked_at=timezone.now(), revoked_by=acting_user)
    api_key.refresh_from_db()
    return api_key


def api_key_authenticate(raw: str, *, now: datetime.datetime | None = None) -> ApiKey:
    """The key ``raw`` names, if it may be used now; KeyRefused says why not."""
    now = now or timezone.now()
    if not raw.startswith(KEY_PREFIX):
        raise KeyRefused("The API key is not valid.")
    found = ApiKey.objects.select_related("created_by").filter(key_hash=key_hash(raw)).first()
    if found is None:
        raise KeyRefused("The API key is not valid.")
    if found.revoked_at is not None:
        raise KeyRefused("This API key has been revoked.", key=found)
    if found.expires_at is not None and found.expires_at <= now:
        raise KeyRefused("This API key has expired.", key=found)
    if not found.created_by.is_active:
        raise KeyRefused("The account this API key acts as is deactivated.", key=found)
    ApiKey.objects.filter(pk=found.pk).filter(
        Q(last_used_at=None) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    return found


def key_has_scope(api_key: ApiKey, scope: str) -> bool:
    return scope in (api_key.scopes or [])
