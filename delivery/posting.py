"""The provider calls of one batch and the recording of the provider's answers.

``send_in_one_call`` is anymail's batch send (one message, per-recipient
``merge_data``); ``send_one_by_one`` sends a message per reader over one
connection. Both turn what happened into ``Results`` (with delivery.judge for
exceptions), which ``record`` writes to the Delivery rows."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from anymail.utils import parse_single_address
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection
from django.db import connection, models
from django.db.models import F
from django.utils import timezone

from delivery.judge import REASON_LIMIT, SEND_ERRORS, Judgement, Verdict, judge, reason_of
from delivery.models import Delivery, DeliveryStatus
from delivery.providers import Idempotency, ProviderStrategy, Recipient, message_idempotency_key
from delivery.recipients import common_headers, common_metadata
from issues.rendering import RenderedEmail


@dataclass
class Results:
    """What became of each claimed row (by Delivery id)."""

    sent: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (provider message id, status)
    failed: dict[int, str] = field(default_factory=dict)
    uncertain: dict[int, str] = field(default_factory=dict)
    retry: dict[int, str] = field(default_factory=dict)
    config_error: str = ""
    retry_after: float | None = None  # seconds the provider asked us to wait (429 Retry-After)

    def put(self, ids: list[int], judgement: Judgement) -> None:
        if judgement.verdict == Verdict.SENT:
            self.sent.update(dict.fromkeys(ids, ("", "accepted")))
            return
        if judgement.verdict == Verdict.CONFIG:
            self.config_error = judgement.reason
        target = {
            Verdict.FAILED: self.failed,
            Verdict.UNCERTAIN: self.uncertain,
            Verdict.RETRY: self.retry,
            Verdict.CONFIG: self.retry,
        }[judgement.verdict]
        target.update(dict.fromkeys(ids, judgement.reason))


REFUSED = ("rejected", "invalid", "failed")


def _read_statuses(message: EmailMessage, recipients: list[Recipient], results: Results) -> None:
    """The provider's per-recipient answer, as anymail parsed it (backends without one: sent)."""
    statuses = getattr(getattr(message, "anymail_status", None), "recipients", None) or {}
    by_address = {address.lower(): status for address, status in statuses.items()}
    for r in recipients:
        status = by_address.get(r.email.lower())
        code = (getattr(status, "status", None) or "sent")[:32]
        if code in REFUSED:
            results.failed[r.delivery_id] = f"The provider answered {code} for this address."
        else:
            provider_id = getattr(status, "message_id", None)
            results.sent[r.delivery_id] = ("" if provider_id is None else str(provider_id)[:200], code)


def _merged(first: Results, second: Results) -> Results:
    first.sent |= second.sent
    first.failed |= second.failed
    first.uncertain |= second.uncertain
    first.retry |= second.retry
    first.config_error = first.config_error or second.config_error
    first.retry_after = first.retry_after if first.retry_after is not None else second.retry_after
    return first


def retry_after(exc: BaseException) -> float | None:
    """The seconds of a 429 answer's Retry-After header (a number or an HTTP date), else None
    (a 429 without one only retries its batch with backoff)."""
    response = getattr(exc, "response", None)
    if getattr(response, "status_code", None) != 429:
        return None
    raw = str(getattr(response, "headers", {}).get("Retry-After", "")).strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return float(settings.SEND_RETRY_BACKOFF_SECONDS)
    return max(0.0, (when - timezone.now()).total_seconds())


def _invalid(recipients: list[Recipient]) -> list[Recipient]:
    bad = []
    for r in recipients:
        try:
            parse_single_address(r.email)
        except AnymailInvalidAddress:
            bad.append(r)
    return bad


def _nothing() -> None:
    pass


def send_in_one_call(
    strategy: ProviderStrategy,
    rendered: RenderedEmail,
    recipients: list[Recipient],
    *,
    send_id: int,
    key: str,
    posting: Callable[[], None] = _nothing,
    metadata: dict[str, str] | None = None,
) -> Results:
    """One anymail call for the whole batch, with merge_data, merge_headers and merge_metadata.

    ``posting`` runs right before the call (see delivery.claims.batch_posting). ``metadata``
    replaces the send's (a sequence step's batch names itself, not a send)."""
    results = Results()
    common = common_metadata(send_id) if metadata is None else metadata
    message = strategy.build_batch(rendered, recipients, key=key, headers=common_headers(), metadata=common)
    try:
        posting()
        get_connection().send_messages([message])
    except AnymailRecipientsRefused:
        _read_statuses(message, recipients, results)  # anymail read the answer before raising
    except AnymailInvalidAddress as exc:
        # Refused before any request: fail the bad addresses, send the others.
        bad = _invalid(recipients)
        for r in bad:
            results.failed[r.delivery_id] = f"{r.email!r} is not a valid email address."
        good = [r for r in recipients if r not in bad]
        if bad and good:
            again = send_in_one_call(
                strategy, rendered, good, send_id=send_id, key=key, posting=posting, metadata=metadata
            )
            return _merged(results, again)
        results.put([r.delivery_id for r in good], Judgement(Verdict.FAILED, reason_of(exc)))
    except SEND_ERRORS as exc:
        results.put([r.delivery_id for r in recipients], judge(exc, idempotent=strategy.idempotent))
        results.retry_after = retry_after(exc)
    else:
        _read_statuses(message, recipients, results)
    return results


def send_one_by_one(
    strategy: ProviderStrategy,
    rendered: RenderedEmail,
    recipients: list[Recipient],
    *,
    send_id: int,
    posting: Callable[[], None] = _nothing,
    metadata: dict[str, str] | None = None,
    message_key: Callable[[int], str] | None = None,
) -> Results:
    """One message per reader, over one connection opened for the whole batch
    (``posting`` runs once it is open, before the first message).

    ``metadata`` and ``message_key`` (a row's idempotency key) replace the send's,
    for messages that are not an issue's (a sequence step's).

    A reader the provider refuses fails alone; an error that says nothing went
    out, or that leaves one message in doubt, stops the batch: the rest go back
    to the queue.

    A backend that takes many messages in one request (``strategy.messages_per_call`` and
    a ``send_batch`` method) gets them all at once: see send_messages_in_one_call. Another
    backend set for the provider (anymail's test backend, say) sends them one by one."""
    backend = get_connection()
    if strategy.messages_per_call and hasattr(backend, "send_batch"):
        return send_messages_in_one_call(
            strategy,
            rendered,
            recipients,
            send_id=send_id,
            posting=posting,
            metadata=metadata,
            message_key=message_key,
            backend=backend,
        )
    results = Results()
    try:
        backend.open()
    except SEND_ERRORS as exc:
        # Nothing can have been sent before the connection opened.
        judgement = judge(exc, idempotent=True)
        if judgement.verdict != Verdict.CONFIG:
            judgement = Judgement(Verdict.RETRY, judgement.reason)
        results.put([r.delivery_id for r in recipients], judgement)
        return results
    common = common_metadata(send_id) if metadata is None else metadata
    try:
        posting()
        for index, r in enumerate(recipients):
            message = strategy.build_one(rendered, r, headers=common_headers(), metadata=common)
            if strategy.idempotency == Idempotency.HTTP_HEADER:
                key = (
                    message_key(r.delivery_id)
                    if message_key is not None
                    else message_idempotency_key(send_id=send_id, delivery_id=r.delivery_id)
                )
                _session_header(backend, key)
            try:
                backend.send_messages([message])
            except AnymailRecipientsRefused:
                _read_statuses(message, [r], results)
                continue
            except SEND_ERRORS as exc:
                judgement = judge(exc, idempotent=strategy.idempotent)
                results.put([r.delivery_id], judgement)
                results.retry_after = retry_after(exc)
                if judgement.verdict in (Verdict.FAILED, Verdict.SENT):
                    continue
                rest = [x.delivery_id for x in recipients[index + 1 :]]
                why = f"Held back after an error on an earlier reader: {judgement.reason}"
                held_back = Judgement(Verdict.RETRY, why)
                results.put(rest, judgement if judgement.verdict == Verdict.CONFIG else held_back)
                break
            _read_statuses(message, [r], results)
    finally:
        with contextlib.suppress(Exception):
            backend.close()
    return results


def send_messages_in_one_call(
    strategy: ProviderStrategy,
    rendered: RenderedEmail,
    recipients: list[Recipient],
    *,
    send_id: int,
    posting: Callable[[], None] = _nothing,
    metadata: dict[str, str] | None = None,
    message_key: Callable[[int], str] | None = None,
    backend: Any = None,
) -> Results:
    """Each reader's own message, all in one request (delivery.backends.MessageBatchBackend).

    The request as a whole is judged as ``send_in_one_call``'s is (an error, a 429, no
    answer); the provider's answer for each message then sends or fails its reader alone.
    An idempotent provider gets one key for the batch, made from the rows' own keys, so
    a retry of the same rows repeats the same request under the same key."""
    results = Results()
    common = common_metadata(send_id) if metadata is None else metadata
    messages = [strategy.build_one(rendered, r, headers=common_headers(), metadata=common) for r in recipients]
    key = ""
    if strategy.idempotency == Idempotency.HTTP_HEADER:
        keys = [
            message_key(r.delivery_id)
            if message_key is not None
            else message_idempotency_key(send_id=send_id, delivery_id=r.delivery_id)
            for r in recipients
        ]
        key = "newsroom/batch/" + hashlib.sha256(",".join(keys).encode()).hexdigest()
    backend = backend if backend is not None else get_connection()
    if not hasattr(backend, "send_batch"):
        raise ImproperlyConfigured(f"{backend.__class__.__name__} cannot send many messages in one call.")
    try:
        posting()
        reasons = backend.send_batch(messages, idempotency_key=key)
    except AnymailInvalidAddress as exc:
        # Refused before any request: fail the bad addresses, send the others.
        bad = _invalid(recipients)
        for r in bad:
            results.failed[r.delivery_id] = f"{r.email!r} is not a valid email address."
        good = [r for r in recipients if r not in bad]
        if bad and good:
            again = send_messages_in_one_call(
                strategy,
                rendered,
                good,
                send_id=send_id,
                posting=posting,
                metadata=metadata,
                message_key=message_key,
                backend=backend,
            )
            return _merged(results, again)
        results.put([r.delivery_id for r in good], Judgement(Verdict.FAILED, reason_of(exc)))
    except SEND_ERRORS as exc:
        results.put([r.delivery_id for r in recipients], judge(exc, idempotent=strategy.idempotent))
        results.retry_after = retry_after(exc)
    else:
        for r, message, refused in zip(recipients, messages, reasons, strict=True):
            _read_statuses(message, [r], results)
            if r.delivery_id in results.failed and refused:
                results.failed[r.delivery_id] = next(iter(refused.values()))[:REASON_LIMIT]
    return results


def _session_header(backend: Any, key: str) -> None:
    session = getattr(backend, "session", None)
    if session is None:
        raise ImproperlyConfigured(f"{backend.__class__.__name__} has no HTTP session for an idempotency key.")
    session.headers["Idempotency-Key"] = key


def batch_key(send_id: int, batch: int, recipients: list[Recipient]) -> str:
    """Stable for a retry of the same rows of the same batch."""
    digest = hashlib.sha256(",".join(str(r.delivery_id) for r in recipients).encode()).hexdigest()[:32]
    return f"newsroom/send-{send_id}/batch-{batch}/{digest}"


# --- recording ---------------------------------------------------------------------------


def record(
    results: Results, *, final_attempt: bool, model: type[models.Model] = Delivery, attempted_at: Any = None
) -> None:
    """Write each row's outcome; rows to retry go back to the queue (or fail, on the last attempt).

    ``model`` is the row table: Delivery, or another with its status and provider fields
    (a sequence's StepDelivery). ``attempted_at``, when given, is the time of the claim:
    each row recorded counts one more attempt made then (a send's rows are claimed on
    their batch, so their answer is the first write of the attempt)."""
    now = timezone.now()
    table = model._default_manager
    attempt = _attempt_fields(attempted_at)
    _record_sent(results.sent, now, model, attempted_at)
    if final_attempt and not results.config_error:
        results.failed.update({pk: f"Gave up after retries: {why}" for pk, why in results.retry.items()})
        results.retry = {}
    for status, rows in ((DeliveryStatus.FAILED, results.failed), (DeliveryStatus.UNCERTAIN, results.uncertain)):
        for reason, ids in _group(rows).items():
            table.filter(pk__in=ids).update(status=status, error=reason[:REASON_LIMIT], **attempt)
    for reason, ids in _group(results.retry).items():
        table.filter(pk__in=ids, status__in=[DeliveryStatus.CLAIMED, DeliveryStatus.QUEUED]).update(
            status=DeliveryStatus.QUEUED, error=reason[:REASON_LIMIT], **attempt
        )


def _attempt_fields(attempted_at: Any) -> dict[str, Any]:
    """The fields an answer writes to count its attempt (none without a claim time)."""
    return {} if attempted_at is None else {"attempts": F("attempts") + 1, "claimed_at": attempted_at}


def _group(rows: dict[int, Any]) -> dict[Any, list[int]]:
    groups: dict[Any, list[int]] = {}
    for pk, value in rows.items():
        groups.setdefault(value, []).append(pk)
    return groups


def _record_sent(sent: dict[int, tuple[str, str]], now: Any, model: type[models.Model], attempted_at: Any) -> None:
    """Sent rows in one statement: one UPDATE per distinct answer, or one UPDATE ... FROM unnest().

    On PostgreSQL the ids go as one array parameter: a 1,000-row batch costs one
    short statement, not 1,000 placeholders for Django to compile."""
    if not sent:
        return
    groups = _group(sent)
    table = model._meta.db_table
    if connection.vendor != "postgresql":
        attempt = _attempt_fields(attempted_at)
        for (provider_id, code), ids in groups.items():
            model._default_manager.filter(pk__in=ids).update(
                status=DeliveryStatus.SENT,
                sent_at=now,
                provider_message_id=provider_id,
                provider_status=code,
                error="",
                **attempt,
            )
        return
    counted, counted_params = "", []
    if attempted_at is not None:
        counted, counted_params = ", attempts = attempts + 1, claimed_at = %s", [attempted_at]
    with connection.cursor() as cursor:
        if len(groups) == 1:
            ((provider_id, code), ids) = next(iter(groups.items()))
            cursor.execute(
                f"UPDATE {table} SET status = %s, sent_at = %s, provider_message_id = %s, "  # noqa: S608
                f"provider_status = %s, error = ''{counted} WHERE id = ANY(%s)",
                [DeliveryStatus.SENT, now, provider_id, code, *counted_params, ids],
            )
            return
        ids = list(sent)
        cursor.execute(
            f"UPDATE {table} AS d SET status = %s, sent_at = %s, provider_message_id = v.mid, "  # noqa: S608
            f"provider_status = v.code, error = ''{counted} "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, mid, code) WHERE d.id = v.id",
            [
                DeliveryStatus.SENT,
                now,
                *counted_params,
                ids,
                [sent[pk][0] for pk in ids],
                [sent[pk][1] for pk in ids],
            ],
        )
