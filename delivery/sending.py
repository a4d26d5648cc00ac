"""How one batch of a send goes out: claim its rows, call the provider, record its answer.

``services.send_batch_process`` is the entry point; this module holds its parts.
The rules, from DESIGN.md "Promises":

- A row is claimed (``claimed``) and committed before the provider is called,
  and marked with the provider's answer after.
- An error before the provider could have taken the request (it could not be
  reached, or it answered 429 or 5xx) puts the rows back in the queue for a
  retry with backoff; on the last attempt they fail with the reason.
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

import base64
import contextlib
import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
)
from anymail.utils import parse_single_address
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from botocore.exceptions import ConnectTimeoutError as BotoConnectTimeout
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, Exists, F, TextField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus, Send, SendStatus
from delivery.providers import Idempotency, ProviderStrategy, Recipient, message_idempotency_key
from issues.rendering import RenderedEmail
from subscribers.links import PREFERENCES_SALT, UNSUBSCRIBE_SALT, address_digest
from subscribers.selectors import sendable_subscribers

WORKER_STOPPED = "The worker stopped while sending this batch; the provider may have it."
# Provider answers kept only as long as the reason needs (Delivery.error is a TextField).
REASON_LIMIT = 2000
# Merge values of idempotent providers are kept so that a retry sends the same request.
MERGE_CACHE_SECONDS = 24 * 3600


# What sending can raise: anymail's errors (requests' and botocore's wrapped in
# them), Django's SMTP backend's, sockets', and a missing setting.
SEND_ERRORS = (AnymailError, smtplib.SMTPException, OSError, ImproperlyConfigured)


# --- verdicts -------------------------------------------------------------------


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


def _reason(exc: BaseException) -> str:
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
    reason = _reason(exc)
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


# --- claiming --------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    delivery_id: int
    subscriber_id: int | None
    email: str
    name: str


def _lock_key(send_id: int, batch: int) -> int:
    return (send_id << 24) + batch


@contextlib.contextmanager
def batch_lock(send_id: int, batch: int) -> Iterator[bool]:
    """Hold a PostgreSQL session lock on one batch while it is being sent.

    Yields False if another worker holds it. The database drops the lock when
    the worker's connection ends, so a batch found locked is being sent by a
    live worker, and claimed rows of an unlocked batch were left by a dead one.
    Elsewhere (SQLite: one machine) it yields True without locking."""
    if connection.vendor != "postgresql" or batch >= 1 << 24:
        yield True
        return
    key = _lock_key(send_id, batch)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def batch_claim(*, send_id: int, batch: int) -> list[Row]:
    """Claim the batch's queued rows while the send is sending; skip readers no longer sendable.

    Rows still ``claimed`` from an earlier attempt whose worker died are settled by
    the batch's status: if the provider call had begun (``posting``, or no Batch row
    to say) they may have reached the provider and become uncertain; if it had not
    (``claimed``), nobody got them and they are claimed again here."""
    table = Delivery._meta.db_table
    send_table = Send._meta.db_table
    with transaction.atomic():
        _settle_left_claimed(send_id, batch)
        with connection.cursor() as cursor:
            # Table names come from the models; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1 "  # noqa: S608
                "WHERE send_id = %s AND batch = %s AND status = %s "
                f"AND EXISTS (SELECT 1 FROM {send_table} s WHERE s.id = %s AND s.status IN (%s, %s)) "
                "RETURNING id, subscriber_id, email",
                [
                    DeliveryStatus.CLAIMED,
                    timezone.now(),
                    send_id,
                    batch,
                    DeliveryStatus.QUEUED,
                    send_id,
                    SendStatus.SNAPSHOTTING,
                    SendStatus.SENDING,
                ],
            )
            claimed = cursor.fetchall()
        subscriber_ids = [sub for _, sub, _ in claimed if sub is not None]
        names = dict(sendable_subscribers().filter(pk__in=subscriber_ids).values_list("pk", "name"))
        gone = [pk for pk, sub, _ in claimed if sub not in names]
        if gone:
            Delivery.objects.filter(pk__in=gone).update(status=DeliveryStatus.SKIPPED, error="No longer sendable.")
        if claimed:
            Batch.objects.filter(send_id=send_id, number=batch).update(
                status=BatchStatus.CLAIMED, started_at=timezone.now(), attempts=F("attempts") + 1
            )
    rows = [Row(pk, sub, email, names[sub] or NAME_FALLBACK) for pk, sub, email in claimed if sub in names]
    return sorted(rows, key=lambda r: r.delivery_id)


def _settle_left_claimed(send_id: int, batch: int) -> None:
    """One UPDATE, usually of no row: back to the queue if the call had not begun, else uncertain."""
    not_posted = Exists(Batch.objects.filter(send_id=send_id, number=batch, status=BatchStatus.CLAIMED))
    Delivery.objects.filter(send_id=send_id, batch=batch, status=DeliveryStatus.CLAIMED).update(
        status=Case(When(not_posted, then=Value(DeliveryStatus.QUEUED)), default=Value(DeliveryStatus.UNCERTAIN)),
        error=Case(When(not_posted, then=F("error")), default=Value(WORKER_STOPPED), output_field=TextField()),
    )


def batch_posting(*, send_id: int, batch: int) -> None:
    """Say, committed, that the provider call of the batch begins: from here a worker that
    dies leaves its claimed readers uncertain; before it they are simply sent again."""
    Batch.objects.filter(send_id=send_id, number=batch).update(status=BatchStatus.POSTING)


def batch_settle(*, send_id: int, batch: int, retry_at: Any = None) -> None:
    """The batch's attempt is over: due again at ``retry_at`` (a retry's ETA), or done."""
    batches = Batch.objects.filter(send_id=send_id, number=batch)
    if retry_at is not None:
        batches.update(status=BatchStatus.QUEUED, due_at=retry_at)
    else:
        batches.update(status=BatchStatus.DONE)


# A reader who gave no name is greeted "Hi there,".
NAME_FALLBACK = "there"


# --- recipients --------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LinkMaker:
    """Each reader's links, the same as subscribers.links.links_for makes them, a batch at a time.

    links_for signs with django.core.signing.dumps, which builds a signer and
    derives its HMAC key again for every token: about 10 µs a token, two per
    reader, a quarter of a worker's CPU per batch. Here the URL shapes are
    reversed once and each salt's key derived once per batch; the tokens are
    Django's TimestampSigner format byte for byte (base64 JSON, base62 time,
    HMAC-SHA256 keyed by sha256(salt + "signer" + SECRET_KEY)). test_sending
    checks them against make_token and read_token, so a change on either side fails a test."""

    def __init__(self) -> None:
        site = settings.SITE_URL.rstrip("/")
        marker = "TOKEN"

        def shape(name: str) -> tuple[str, str]:
            prefix, _, suffix = (site + reverse(name, kwargs={"token": marker})).partition(marker)
            return prefix, suffix

        self.unsubscribe = shape("subscribers:unsubscribe")
        self.one_click = shape("subscribers:one_click")
        self.preferences = shape("subscribers:preferences")
        secret = force_bytes(settings.SECRET_KEY)
        self.keys = {
            salt: hashlib.sha256(force_bytes(salt + "signer") + secret).digest()
            for salt in (UNSUBSCRIBE_SALT, PREFERENCES_SALT)
        }
        self.stamp = signing.b62_encode(int(time.time()))

    def _token(self, payload: str, salt: str) -> str:
        value = f"{payload}:{self.stamp}"
        return f"{value}:{_b64(hmac.new(self.keys[salt], value.encode(), hashlib.sha256).digest())}"

    def links(self, *, subscriber_id: int, email: str) -> dict[str, str]:
        data = json.dumps({"s": subscriber_id, "d": address_digest(email)}, separators=(",", ":"))
        payload = _b64(data.encode("latin-1"))
        unsubscribe = self._token(payload, UNSUBSCRIBE_SALT)
        preferences = self._token(payload, PREFERENCES_SALT)
        return {
            "unsubscribe_url": unsubscribe.join(self.unsubscribe),
            "one_click_url": unsubscribe.join(self.one_click),
            "preferences_url": preferences.join(self.preferences),
        }


def sender_domain() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"


def message_id(*, send_id: int, delivery_id: int, domain: str) -> str:
    """The reader's Message-ID: the same for every attempt at the same delivery."""
    return f"<d{delivery_id}.s{send_id}@{domain}>"


def _merge_values(send: Any, rows: list[Row], *, keep: bool) -> dict[int, dict[str, str]]:
    """Per-reader merge values and links; kept in the cache when a retry must repeat them exactly."""
    cache_key = f"delivery:merge:{send.pk}:" + "{}"
    found: dict[int, dict[str, str]] = {}
    if keep:
        stored = cache.get_many([cache_key.format(r.delivery_id) for r in rows])
        found = {int(k.rsplit(":", 1)[1]): v for k, v in stored.items()}
    maker = LinkMaker()
    fresh = {}
    for r in rows:
        if r.delivery_id not in found:
            fresh[r.delivery_id] = {"name": r.name, **maker.links(subscriber_id=r.subscriber_id or 0, email=r.email)}
    if keep and fresh:
        cache.set_many({cache_key.format(pk): v for pk, v in fresh.items()}, MERGE_CACHE_SECONDS)
    return found | fresh


MERGE_VALUES = ("name", "unsubscribe_url", "preferences_url")


def recipients_for(send: Any, rows: list[Row], strategy: ProviderStrategy) -> list[Recipient]:
    """Each reader's merge values (name, unsubscribe and preferences links), List-Unsubscribe,
    Message-ID and Delivery id. The issue's web link is the same for everyone: see common_headers
    and services.rendered_for."""
    values = _merge_values(send, rows, keep=strategy.idempotent)
    domain = sender_domain()
    recipients = []
    for r in rows:
        v = values[r.delivery_id]
        recipients.append(
            Recipient(
                delivery_id=r.delivery_id,
                email=r.email,
                merge={
                    "name": v["name"],
                    "unsubscribe_url": v["unsubscribe_url"],
                    "preferences_url": v["preferences_url"],
                },
                headers={
                    "List-Unsubscribe": f"<{v['one_click_url']}>",
                    "Message-ID": message_id(send_id=send.pk, delivery_id=r.delivery_id, domain=domain),
                },
                metadata={"delivery_id": str(r.delivery_id)},
            )
        )
    return recipients


def common_headers() -> dict[str, str]:
    """Headers every reader's copy carries alike (RFC 8058 one-click unsubscribe)."""
    return {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def common_metadata(send_id: int) -> dict[str, str]:
    return {"send_id": str(send_id)}


# --- sending ---------------------------------------------------------------------------


@dataclass
class Results:
    """What became of each claimed row (by Delivery id)."""

    sent: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (provider message id, status)
    failed: dict[int, str] = field(default_factory=dict)
    uncertain: dict[int, str] = field(default_factory=dict)
    retry: dict[int, str] = field(default_factory=dict)
    config_error: str = ""

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
    return first


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
) -> Results:
    """One anymail call for the whole batch, with merge_data, merge_headers and merge_metadata.

    ``posting`` runs right before the call (see batch_posting)."""
    results = Results()
    message = strategy.build_batch(
        rendered, recipients, key=key, headers=common_headers(), metadata=common_metadata(send_id)
    )
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
            again = send_in_one_call(strategy, rendered, good, send_id=send_id, key=key, posting=posting)
            return _merged(results, again)
        results.put([r.delivery_id for r in good], Judgement(Verdict.FAILED, _reason(exc)))
    except SEND_ERRORS as exc:
        results.put([r.delivery_id for r in recipients], judge(exc, idempotent=strategy.idempotent))
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
) -> Results:
    """One message per reader, over one connection opened for the whole batch
    (``posting`` runs once it is open, before the first message).

    A reader the provider refuses fails alone; an error that says nothing went
    out, or that leaves one message in doubt, stops the batch: the rest go back
    to the queue."""
    results = Results()
    backend = get_connection()
    try:
        backend.open()
    except SEND_ERRORS as exc:
        # Nothing can have been sent before the connection opened.
        judgement = judge(exc, idempotent=True)
        if judgement.verdict != Verdict.CONFIG:
            judgement = Judgement(Verdict.RETRY, judgement.reason)
        results.put([r.delivery_id for r in recipients], judgement)
        return results
    try:
        posting()
        for index, r in enumerate(recipients):
            message = strategy.build_one(rendered, r, headers=common_headers(), metadata=common_metadata(send_id))
            if strategy.idempotency == Idempotency.HTTP_HEADER:
                _session_header(backend, message_idempotency_key(send_id=send_id, delivery_id=r.delivery_id))
            try:
                backend.send_messages([message])
            except AnymailRecipientsRefused:
                _read_statuses(message, [r], results)
                continue
            except SEND_ERRORS as exc:
                judgement = judge(exc, idempotent=strategy.idempotent)
                results.put([r.delivery_id], judgement)
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


def record(results: Results, *, final_attempt: bool) -> None:
    """Write each row's outcome; rows to retry go back to the queue (or fail, on the last attempt)."""
    now = timezone.now()
    _record_sent(results.sent, now)
    if final_attempt and not results.config_error:
        results.failed.update({pk: f"Gave up after retries: {why}" for pk, why in results.retry.items()})
        results.retry = {}
    for status, rows in ((DeliveryStatus.FAILED, results.failed), (DeliveryStatus.UNCERTAIN, results.uncertain)):
        for reason, ids in _group(rows).items():
            Delivery.objects.filter(pk__in=ids).update(status=status, error=reason[:REASON_LIMIT])
    for reason, ids in _group(results.retry).items():
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.CLAIMED).update(
            status=DeliveryStatus.QUEUED, error=reason[:REASON_LIMIT]
        )


def _group(rows: dict[int, Any]) -> dict[Any, list[int]]:
    groups: dict[Any, list[int]] = {}
    for pk, value in rows.items():
        groups.setdefault(value, []).append(pk)
    return groups


def _record_sent(sent: dict[int, tuple[str, str]], now: Any) -> None:
    """Sent rows in one statement: one UPDATE per distinct answer, or one UPDATE ... FROM unnest().

    On PostgreSQL the ids go as one array parameter: a 1,000-row batch costs one
    short statement, not 1,000 placeholders for Django to compile."""
    if not sent:
        return
    groups = _group(sent)
    table = Delivery._meta.db_table
    if connection.vendor != "postgresql":
        for (provider_id, code), ids in groups.items():
            Delivery.objects.filter(pk__in=ids).update(
                status=DeliveryStatus.SENT, sent_at=now, provider_message_id=provider_id, provider_status=code, error=""
            )
        return
    with connection.cursor() as cursor:
        if len(groups) == 1:
            ((provider_id, code), ids) = next(iter(groups.items()))
            cursor.execute(
                f"UPDATE {table} SET status = %s, sent_at = %s, provider_message_id = %s, "  # noqa: S608
                "provider_status = %s, error = '' WHERE id = ANY(%s)",
                [DeliveryStatus.SENT, now, provider_id, code, ids],
            )
            return
        ids = list(sent)
        cursor.execute(
            f"UPDATE {table} AS d SET status = %s, sent_at = %s, provider_message_id = v.mid, "  # noqa: S608
            "provider_status = v.code, error = '' "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, mid, code) WHERE d.id = v.id",
            [DeliveryStatus.SENT, now, ids, [sent[pk][0] for pk in ids], [sent[pk][1] for pk in ids]],
        )
