"""What an exception from a provider call means for the readers it was for.

The rules, from DESIGN.md "Promises":

- An error before the provider could have taken the request (it could not be
  reached, or it answered 429 or 5xx): retry with backoff; on the last attempt
  the rows fail with the reason.
- The provider refused a reader (a 4xx other than 429, a rejected recipient):
  that reader fails with the provider's message.
- No answer after the request went out (a read timeout, a connection dropped
  mid-request, an SMTP session lost mid-message): the rows become
  ``uncertain`` and are never re-sent automatically, unless the provider takes
  an idempotency key, which makes the retry safe.
- The provider refused our credentials or a setting is missing: the send is
  paused with the reason, its rows back in the queue, for an operator to fix
  and resume.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailError,
    AnymailRequestsAPIError,
)
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from botocore.exceptions import ConnectTimeoutError as BotoConnectTimeout
from django.core.exceptions import ImproperlyConfigured
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

# Provider answers kept only as long as the reason needs (Delivery.error is a TextField).
REASON_LIMIT = 2000

# What sending can raise: anymail's errors (requests' and botocore's wrapped in
# them), Django's SMTP backend's, sockets', and a missing setting.
SEND_ERRORS = (AnymailError, smtplib.SMTPException, OSError, ImproperlyConfigured)


class Verdict:
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    CONFIG = "config"


@dataclass(frozen=True)
class Judgement:
    verdict: str
    reason: str


def reason_of(exc: BaseException) -> str:
    """The exception's message, cut to REASON_LIMIT, for a Delivery's error."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails still gets a reason
        text = repr(exc)
    return (text or exc.__class__.__name__)[:REASON_LIMIT]


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and exceptions held in their args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None)]
        todo += [a for a in item.args if isinstance(a, BaseException)]


def _never_connected(exc: BaseException) -> bool:
    """The request never left: no connection could be made (requests/urllib3, or botocore for SES)."""
    kinds = (NewConnectionError, ConnectTimeoutError, BotoConnectTimeout, EndpointConnectionError)
    return any(isinstance(e, kinds) for e in _chain(exc))


def _botocore_status(exc: BaseException) -> int | None:
    for e in _chain(exc):
        if isinstance(e, ClientError):
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return int(status) if status else None
    return None


def judge(exc: BaseException, *, idempotent: bool) -> Judgement:
    """What an exception from sending one request means for its readers."""
    reason = reason_of(exc)
    went_out = Verdict.RETRY if idempotent else Verdict.UNCERTAIN
    if isinstance(exc, (AnymailConfigurationError, ImproperlyConfigured)):
        return Judgement(Verdict.CONFIG, reason)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None) or _botocore_status(exc)
        if status is not None:
            return _judge_status(status, reason, idempotent=idempotent)
        if _never_connected(exc):
            return Judgement(Verdict.RETRY, reason)
        if isinstance(exc, AnymailRequestsAPIError) or any(isinstance(e, ReadTimeoutError) for e in _chain(exc)):
            return Judgement(went_out, f"No answer after the request was sent: {reason}")
        return Judgement(Verdict.RETRY, reason)
    if isinstance(exc, AnymailError):
        # Raised while building the request (unsupported feature, serialisation): nothing went out.
        return Judgement(Verdict.FAILED, reason)
    return _judge_smtp(exc, reason)


def _judge_status(status: int, reason: str, *, idempotent: bool) -> Judgement:
    if 200 <= status < 300:
        return Judgement(Verdict.SENT, f"The provider accepted but its answer was unreadable: {reason}")
    if status in (401, 403):
        return Judgement(Verdict.CONFIG, f"The provider refused our credentials: {reason}")
    if status == 429 or status >= 500:
        return Judgement(Verdict.RETRY, reason)
    if status == 409 and idempotent:
        # The provider has seen this idempotency key: an earlier request reached it.
        return Judgement(Verdict.UNCERTAIN, f"The provider had this request already: {reason}")
    return Judgement(Verdict.FAILED, reason)


def _judge_smtp(exc: BaseException, reason: str) -> Judgement:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        return Judgement(Verdict.FAILED if permanent else Verdict.RETRY, reason)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Judgement(Verdict.CONFIG, f"The SMTP server refused our credentials: {reason}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return Judgement(Verdict.FAILED if exc.smtp_code >= 500 else Verdict.RETRY, reason)
    if isinstance(exc, (smtplib.SMTPConnectError, ConnectionRefusedError)):
        return Judgement(Verdict.RETRY, reason)
    return Judgement(Verdict.UNCERTAIN, f"The connection was lost while sending: {reason}")
