"""A guard in front of anymail's webhook views (they still do all the parsing and checking).

anymail answers a post without the right ``WEBHOOK_SECRET`` with 400 (it raises
SuspiciousOperation), and takes every post when no secret is set. HTTP basic
auth is a challenge-response scheme: some HTTP clients send credentials only
after a 401 with ``WWW-Authenticate``, and 401 is the honest answer for "who are
you?". So the guard:

* answers 401 to a post without the right secret, and to every post while no
  ``WEBHOOK_SECRET`` is configured (a webhook anyone may post to could suppress
  any reader with a made-up bounce);
* answers 400, in words, to a body that is not JSON where JSON is claimed, to a
  body anymail cannot read as the provider's event (anymail would fail with a
  500, which providers retry for days), to a failed signature check, and to a
  signature that is stale or reused (delivery/webhook_signatures.py);
* answers 503 when the cache that remembers used signatures cannot answer, so
  that the provider tries again rather than the check being skipped.

Everything else goes to anymail's view unchanged, which checks the secret again
and the provider's signature, then sends the ``tracking`` signal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

from delivery.webhook_signatures import (
    SignatureMemoryUnavailable,
    request_digest,
    signature_check_fresh,
    signature_stamp,
)

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]

#: What reading a provider's body can raise when the body is not the shape the provider documents.
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError, OSError)


class WebhookBodyError(SuspiciousOperation):
    """The body is not an event of this provider (answered with 400, never stored)."""


class ReadableBodyMixin:
    """Put before an anymail webhook view: a body anymail cannot parse becomes WebhookBodyError.

    Only checking and parsing are covered. Errors while storing an event (in the ``tracking``
    receiver) are not: a database that is down must answer 500 so that the
    provider tries again later.
    """

    def run_validators(self, request: HttpRequest) -> None:
        try:
            super().run_validators(request)  # type: ignore[misc]
        except _SHAPE_ERRORS as error:  # e.g. Mailgun's signature block read from a JSON list
            raise WebhookBodyError(f"The body is not a {self.esp_name} event ({type(error).__name__}).") from error  # type: ignore[attr-defined]

    def parse_events(self, request: HttpRequest) -> list[Any]:
        try:
            return super().parse_events(request)  # type: ignore[misc, no-any-return]
        except AnymailConfigurationError as error:  # e.g. the inbound webhook pointed at the tracking URL
            raise WebhookBodyError(str(error)) from error
        except _SHAPE_ERRORS as error:
            raise WebhookBodyError(f"The body is not a {self.esp_name} event ({type(error).__name__}).") from error  # type: ignore[attr-defined]


class FreshSignatureMixin:
    """Put before an anymail webhook view: once anymail has checked a signature, it must be recent and new."""

    def run_validators(self, request: HttpRequest) -> None:
        super().run_validators(request)  # type: ignore[misc]
        stamp = signature_stamp(view=self, request=request)
        if stamp is not None:
            signature_check_fresh(stamp=stamp, content_digest=request_digest(request))


def webhook_secrets() -> list[str]:
    """The accepted "user:password" pairs, read at request time (tests override settings)."""
    secrets = get_anymail_setting("webhook_secret", default=[])
    if isinstance(secrets, str):
        return [secrets] if secrets else []
    return [str(secret) for secret in secrets or [] if secret]


def basic_auth_ok(request: HttpRequest) -> bool:
    """True only for a request carrying one of the configured secrets (never when none is configured)."""
    secrets = webhook_secrets()
    given = get_request_basic_auth(request)
    if not secrets or given is None:
        return False
    return any(constant_time_compare(given, secret) for secret in secrets)


def guarded(view: View) -> View:
    """Wrap an anymail webhook view: 401 without the secret, 400 in words for a body it cannot take."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        if not webhook_secrets():
            return _unauthorised("Webhooks are refused: this site has no WEBHOOK_SECRET configured.\n")
        if not basic_auth_ok(request):
            return _unauthorised("Webhook credentials missing or wrong.\n")
        if request.content_type == "application/json" and not _is_json_document(request.body):
            return _bad_request("The body is not a JSON object.")
        try:
            return view(request, *args, **kwargs)
        except (WebhookBodyError, AnymailWebhookValidationFailure) as error:
            logger.warning("Webhook %s refused: %s", request.path, error)
            return _bad_request((str(error) or "The webhook post was refused.").splitlines()[0])
        except SignatureMemoryUnavailable as error:
            logger.error("Webhook %s not taken for now: %s", request.path, error)
            return _try_again_later(str(error))

    return wrapped


def _unauthorised(text: str) -> HttpResponse:
    response = HttpResponse(text, status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = 'Basic realm="webhooks", charset="UTF-8"'
    return response


def _bad_request(text: str) -> HttpResponse:
    return HttpResponse(text.rstrip() + "\n", status=400, content_type="text/plain; charset=utf-8")


def _try_again_later(text: str) -> HttpResponse:
    response = HttpResponse(text + " Try again later.\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "60"
    return response


def _is_json_document(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body.decode("utf-8")), dict | list)
    except (UnicodeDecodeError, ValueError):
        return False
