"""Writes of the API app itself: the request log and its pruning.

The resources' writes are the other apps' services (api/routers/*), called as
the key's creator."""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from api.models import ApiKey, ApiRequest, IdempotentRequest
from core.net import client_ip

PRUNE_BATCH = 5000


def api_request_log(*, api_key: ApiKey, request: HttpRequest, status: int, started: float) -> ApiRequest:
    """One row per request made with ``api_key``, refusals included."""
    return ApiRequest.objects.create(
        api_key=api_key,
        method=(request.method or "")[:10],
        path=request.get_full_path()[:500],
        status=status,
        duration_ms=max(0, round((time.monotonic() - started) * 1000)),
        ip=client_ip(request) or None,
    )


def api_logs_prune(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete request-log rows older than API_REQUEST_LOG_DAYS and stored idempotent answers past their window.

    In batches, so a large backlog never holds one long lock; returns how many of each went."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.API_REQUEST_LOG_DAYS)
    requests = 0
    while True:
        ids = list(ApiRequest.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            break
        requests += ApiRequest.objects.filter(pk__in=ids).delete()[0]
    stale = now - datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    answers = IdempotentRequest.objects.filter(created_at__lt=stale).delete()[0]
    return {"requests": requests, "idempotent_answers": answers}
