"""``Idempotency-Key`` on POST: a retried create returns the first answer instead of creating twice.

The first request with a key stores a row (status 0, running) before the
operation runs; a unique constraint makes a second request with the same key
wait for nothing: it is told the first is still running (409). When the first
succeeds (2xx) its answer is stored; when it fails the row is deleted, so a
retry runs the operation afresh. The same key with another method, path or
body is refused (422): it names a different request.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from api.models import ApiKey, IdempotentRequest

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Replay:
    response: HttpResponse


def fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def window() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


def key_clean(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyRefused(400, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    return key


def idempotency_begin(*, api_key: ApiKey, raw_key: str, request: HttpRequest) -> IdempotentRequest | Replay:
    """Claim ``raw_key`` for this request, or the stored answer of the request that claimed it."""
    key = key_clean(raw_key)
    wanted = fingerprint(request)
    IdempotentRequest.objects.filter(api_key=api_key, key=key, created_at__lt=timezone.now() - window()).delete()
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(api_key=api_key, key=key, fingerprint=wanted)
    except IntegrityError:
        stored = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
    if stored is None:  # the first request failed and let go of the key just now
        return idempotency_begin(api_key=api_key, raw_key=raw_key, request=request)
    if stored.fingerprint != wanted:
        raise IdempotencyRefused(
            422, f"This {HEADER} was used for a different request (another body or path); use a new key."
        )
    if not stored.status:
        raise IdempotencyRefused(409, f"A request with this {HEADER} is still being handled; retry in a moment.")
    response = HttpResponse(bytes(stored.body), status=stored.status, content_type=stored.content_type)
    response["Idempotent-Replayed"] = "true"
    return Replay(response)


def idempotency_finish(*, claim: IdempotentRequest, response: HttpResponse) -> None:
    """Keep a successful answer for retries; forget a failed attempt so that a retry runs again."""
    if 200 <= response.status_code < 300 and not getattr(response, "streaming", False):
        IdempotentRequest.objects.filter(pk=claim.pk).update(
            status=response.status_code, body=response.content, content_type=response.get("Content-Type", "")
        )
    else:
        IdempotentRequest.objects.filter(pk=claim.pk).delete()
