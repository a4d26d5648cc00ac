"""The API's front door: who is calling, how often, retried POSTs, and the request log.

Runs for paths under /api/v1/ only. A request without an Authorization header
goes on to the views (the schema and the docs page need none; every operation
answers 401 on its own). With a header, the key is checked here, before
anything else, so that the rate limit, the idempotency store and the log all
know the key; the views' auth (api.auth) then checks the scope.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_ratelimit.core import get_usage

from api import idempotency
from api.errors import error_response
from api.keys import KeyRefused, api_key_authenticate
from api.models import ApiKey
from api.services import api_request_log

PREFIX = "/api/v1/"


def _bearer(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


def _rate_key(group: str, request: HttpRequest) -> str:
    return str(request.api_key.pk)  # type: ignore[attr-defined]


def _rate_limited(request: HttpRequest) -> HttpResponse | None:
    usage = get_usage(request, group="api-key", key=_rate_key, rate=settings.API_RATE_LIMIT, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    wait = max(1, int(usage["time_left"]))
    return error_response(
        429,
        f"Too many requests with this key: at most {settings.API_RATE_LIMIT}. Retry in {wait} s.",
        headers={"Retry-After": str(wait)},
    )


class ApiKeyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        token = _bearer(request)
        if token is None:
            return self.get_response(request)
        started = time.monotonic()
        if not token:
            return error_response(401, "Send the key as “Authorization: Bearer <key>”.", errors=[_auth_field()])
        try:
            api_key = api_key_authenticate(token)
        except KeyRefused as refused:
            refusal = error_response(401, refused.reason, errors=[_auth_field()])
            if refused.key is not None:
                api_request_log(api_key=refused.key, request=request, status=401, started=started)
            return refusal
        request.api_key = api_key  # type: ignore[attr-defined]
        response: HttpResponse = _rate_limited(request) or self._answer(request, api_key)
        api_request_log(api_key=api_key, request=request, status=response.status_code, started=started)
        return response

    def _answer(self, request: HttpRequest, api_key: ApiKey) -> HttpResponse:
        raw = request.headers.get(idempotency.HEADER)
        if request.method != "POST" or raw is None:
            return self.get_response(request)
        try:
            claim = idempotency.idempotency_begin(api_key=api_key, raw_key=raw, request=request)
        except idempotency.IdempotencyRefused as refused:
            return error_response(
                refused.status, refused.detail, errors=[{"field": idempotency.HEADER, "message": refused.detail}]
            )
        if isinstance(claim, idempotency.Replay):
            return claim.response
        try:
            response = self.get_response(request)
        except BaseException:
            idempotency.idempotency_finish(claim=claim, response=HttpResponse(status=500))
            raise
        idempotency.idempotency_finish(claim=claim, response=response)
        return response


def _auth_field() -> dict[str, str]:
    return {"field": "Authorization", "message": "A valid, unexpired, unrevoked API key is needed."}
