"""A guard in front of anymail's webhook views (they still do all the parsing and checking).

anymail answers a post without the right ``WEBHOOK_SECRET`` with 400 (it raises
SuspiciousOperation). HTTP basic auth is a challenge-response scheme: some HTTP
clients send credentials only after a 401 with ``WWW-Authenticate``, and 401 is
the honest answer for "who are you?". The guard answers that case itself and
also refuses a body that claims to be JSON and is not (anymail's Postmark view
would otherwise fail with a 500, which providers retry for days).
Everything else goes to anymail's view unchanged, which checks the secret again
and the provider's signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.crypto import constant_time_compare

View = Callable[..., HttpResponse]


def webhook_secrets() -> list[str]:
    """The accepted "user:password" pairs, read at request time (tests override settings)."""
    secrets = get_anymail_setting("webhook_secret", default=[])
    if isinstance(secrets, str):
        return [secrets] if secrets else []
    return [str(secret) for secret in secrets or []]


def basic_auth_ok(request: HttpRequest) -> bool:
    secrets = webhook_secrets()
    if not secrets:
        return True
    given = get_request_basic_auth(request)
    if given is None:
        return False
    return any(constant_time_compare(given, secret) for secret in secrets)


def guarded(view: View) -> View:
    """Wrap an anymail webhook view: 401 without the secret, 400 for broken JSON."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            if not basic_auth_ok(request):
                response = HttpResponse(
                    "Webhook credentials missing or wrong.\n", status=401, content_type="text/plain"
                )
                response["WWW-Authenticate"] = 'Basic realm="webhooks", charset="UTF-8"'
                return response
            if request.content_type == "application/json" and not _is_json_document(request.body):
                return HttpResponseBadRequest("The body is not a JSON object.\n", content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapped


def _is_json_document(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body.decode("utf-8")), dict | list)
    except (UnicodeDecodeError, ValueError):
        return False
