"""A fake mail provider that answers like the send APIs of Mailgun, Postmark, Brevo, Resend,
SendGrid, SparkPost, Mandrill, Mailjet, Unisender Go, MailerSend, Postal, Scaleway and Mailtrap.

anymail's real backends talk to it when their API URL points here
(ANYMAIL_API_URL=http://127.0.0.1:<port>/v3 for Mailgun and Brevo, .../v3/ for
SendGrid, .../api/v1/ for SparkPost, .../api/1.0/ for Mandrill, .../v3.1/ for
Mailjet, .../en/transactional/api/v1/ for Unisender Go, .../v1/ for MailerSend,
.../transactional-email/v1alpha1/regions/{region}/ for Scaleway, .../api/ for Mailtrap,
http://127.0.0.1:<port>/ for Postmark, Resend and Postal). Postal refuses the rejected
address with HTTP 200 and ``"status": "error"``, as the real one does.
Where the real API answers per message or recipient (Postmark's and Resend's
batches, Mandrill, Mailjet, Unisender Go, Postal), the rejected address of ``/_mode``
refuses its own message or recipient in that API's words and
the rest are accepted; elsewhere it refuses the request. It keeps no message bodies: it
counts requests, accepted messages and recipients, and remembers one key per
accepted recipient (send id + address) to count duplicates. Like the real Brevo
and Resend, it answers a request whose idempotency key it has seen with the
first answer, without sending again.

Control API (JSON):
- GET  /_stats     counters, duplicates, first/last acceptance times, ``accepts``: one
                   [unix time, recipients] pair per accepted request (the rate a limit let through),
                   and ``request_bytes``, the bodies of all send requests
- GET  /_accepted  the accepted addresses (lower-cased), sorted
- POST /_reset     forget everything, back to answering 200
- POST /_mode      set a failure mode, e.g.
  {"status": 503, "requests": 5}            the next 5 send requests get 503
  {"status": 429, "seconds": 2.5}           every send request gets 429 for 2.5 s
  {"status": 429, "requests": 1, "retry_after": 3}
                                            ... with a Retry-After: 3 header
  {"reject_address": "x@example.org"}       a 400 for any batch containing it (until reset)
  {"slow_seconds": 3, "requests": 1}        accept the next request, then answer after 3 s
  {"status": 503, "requests": 1, "after_accept": true}
                                            accept the next request, then answer 503 (the
                                            provider took it but said it failed)

Run on its own: ``python -m testing.fakeprovider --port 8025``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

MAILGUN_OK = "Queued. Thank you."
POSTMARK_BATCH_LIMIT = 500  # messages per POST /email/batch (postmarkapp.com/developer, "Send batch emails")
RESEND_BATCH_LIMIT = 100
SENDGRID_PERSONALIZATIONS_LIMIT = 1000  # personalizations per POST /v3/mail/send
MAILJET_MESSAGES_LIMIT = 50  # Messages per POST /v3.1/send
UNISENDER_GO_RECIPIENTS_LIMIT = (
    500  # recipients per email/send.json  # emails per POST /emails/batch (resend.com/docs, "Batch sending")
)
MAX_DUPLICATES_LISTED = 100


@dataclass(frozen=True)
class Raw:
    """An answer that is not JSON: MailerSend's 202 has an empty body and the id in a header."""

    body: bytes
    headers: dict[str, str]


@dataclass
class Mode:
    """A failure the provider plays back; status 0 means none."""

    status: int = 0
    until: float = 0.0  # monotonic deadline, 0 = not time-bound
    requests_left: int = 0  # 0 = not count-bound
    reject_address: str = ""
    reject_message: str = "'to' parameter is not a valid address. please check documentation"
    slow_seconds: float = 0.0
    slow_left: int = 0
    after_accept: bool = False  # the failure comes after the provider took the request
    retry_after: str = ""  # the Retry-After header of a 429

    def take_failure(self) -> int:
        """The status this request should fail with, consuming the mode; 0 if none."""
        if not self.status:
            return 0
        if self.until and time.monotonic() >= self.until:
            self.status = 0
            return 0
        if self.requests_left:
            self.requests_left -= 1
            if self.requests_left == 0 and not self.until:
                status, self.status = self.status, 0
                return status
        return self.status

    def take_slow(self) -> float:
        if self.slow_left > 0:
            self.slow_left -= 1
            return self.slow_seconds
        return 0.0


@dataclass
class Stats:
    requests: int = 0
    failed_requests: dict[int, int] = field(default_factory=dict)
    messages: int = 0
    recipients: int = 0
    duplicates: int = 0
    duplicate_addresses: list[str] = field(default_factory=list)
    first_accept_at: float | None = None
    last_accept_at: float | None = None
    replays: int = 0
    idempotency_keys: list[str] = field(default_factory=list)
    last_request: dict[str, Any] = field(default_factory=dict)
    accepts: list[tuple[float, int]] = field(default_factory=list)
    request_bytes: int = 0  # bodies of every send request, as received (bench/providers.py)


class FakeProviderState:
    """Counters shared by the request threads, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.mode = Mode()
            self.stats = Stats()
            self.seen: dict[str, int] = {}  # send-id|address -> times accepted
            self.idempotent: dict[str, tuple[int, Any]] = {}  # idempotency key -> first answer
            self.last_retry_after = ""

    def set_mode(self, spec: dict[str, Any]) -> None:
        with self.lock:
            mode = Mode()
            if spec.get("status"):
                mode.status = int(spec["status"])
                if spec.get("seconds"):
                    mode.until = time.monotonic() + float(spec["seconds"])
                mode.requests_left = int(spec.get("requests", 0))
                mode.after_accept = bool(spec.get("after_accept", False))
                mode.retry_after = str(spec.get("retry_after", ""))
            if spec.get("reject_address"):
                mode.reject_address = str(spec["reject_address"]).lower()
                mode.reject_message = str(spec.get("message", mode.reject_message))
            if spec.get("slow_seconds"):
                mode.slow_seconds = float(spec["slow_seconds"])
                mode.slow_left = int(spec.get("requests", 1))
            self.mode = mode

    def decide(self, addresses: list[str], *, per_message: bool = False) -> tuple[int, str, float, bool]:
        """(status, error message, delay, accepted anyway) for a send request to these addresses.

        ``per_message``: the API answers for each message of the request (Postmark's batch,
        Resend's permissive batch), so the rejected address refuses its message, not the request."""
        with self.lock:
            self.stats.requests += 1
            after_accept = self.mode.after_accept
            self.last_retry_after = self.mode.retry_after
            status = self.mode.take_failure()
            if status:
                self.stats.failed_requests[status] = self.stats.failed_requests.get(status, 0) + 1
                return status, f"Fake provider: simulated {status}", 0.0, after_accept
            if not per_message and self.mode.reject_address and self.mode.reject_address in addresses:
                self.stats.failed_requests[400] = self.stats.failed_requests.get(400, 0) + 1
                return 400, self.mode.reject_message, 0.0, False
            return 200, "", self.mode.take_slow(), False

    def count_bytes(self, size: int) -> None:
        with self.lock:
            self.stats.request_bytes += size

    def rejected(self, address: str) -> bool:
        with self.lock:
            return bool(self.mode.reject_address) and self.mode.reject_address == address.lower()

    def replayed(self, key: str) -> tuple[int, Any] | None:
        """The first answer to a request with this idempotency key, if there was one."""
        with self.lock:
            answer = self.idempotent.get(key) if key else None
            if answer is not None:
                self.stats.replays += 1
            return answer

    def remember(self, key: str, status: int, payload: Any) -> None:
        if key:
            with self.lock:
                self.idempotent.setdefault(key, (status, payload))

    def accept(self, keys: list[tuple[str, str]], summary: dict[str, Any], idempotency_key: str = "") -> int:
        """Record accepted (send id, address) pairs; returns a message number."""
        now = time.time()
        with self.lock:
            s = self.stats
            if idempotency_key:
                s.idempotency_keys.append(idempotency_key)
            s.messages += 1
            s.recipients += len(keys)
            for send_id, address in keys:
                key = f"{send_id}|{address}"
                times = self.seen.get(key, 0)
                if times:
                    s.duplicates += 1
                    if len(s.duplicate_addresses) < MAX_DUPLICATES_LISTED:
                        s.duplicate_addresses.append(address)
                self.seen[key] = times + 1
            s.first_accept_at = s.first_accept_at or now
            s.last_accept_at = now
            s.accepts.append((now, len(keys)))
            s.last_request = summary
            return next(self.ids)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            s = self.stats
            return {
                "requests": s.requests,
                "failed_requests": {str(k): v for k, v in s.failed_requests.items()},
                "messages": s.messages,
                "recipients": s.recipients,
                "unique_recipients": len(self.seen),
                "duplicates": s.duplicates,
                "duplicate_addresses": list(s.duplicate_addresses),
                "first_accept_at": s.first_accept_at,
                "last_accept_at": s.last_accept_at,
                "replays": s.replays,
                "idempotency_keys": list(s.idempotency_keys[-MAX_DUPLICATES_LISTED:]),
                "last_request": s.last_request,
                "accepts": list(s.accepts),
                "request_bytes": s.request_bytes,
            }

    def accepted(self) -> list[str]:
        with self.lock:
            return sorted({key.split("|", 1)[1] for key in self.seen})


_NAME = re.compile(rb'name="([^"]*)"')


def _form_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Mailgun's request body: urlencoded (no attachments) or multipart/form-data."""
    if content_type.startswith("multipart/form-data"):
        return _multipart_fields(content_type, body)
    return parse_qs(body.decode("utf-8"), keep_blank_values=True)


def _multipart_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """The text fields of a multipart/form-data body (file parts left out).

    A plain split on the boundary rather than the email package's parser,
    which takes longer than anymail takes to build the request."""
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    fields: dict[str, list[str]] = {}
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, _, content = part.partition(b"\r\n\r\n")
        match = _NAME.search(head)
        if match is None or b"filename=" in head:
            continue
        fields.setdefault(match.group(1).decode(), []).append(content[:-2].decode("utf-8"))
    return fields


def _addresses(values: list[str]) -> list[str]:
    """Lower-cased addresses of address fields (each may list several, comma-separated);
    plain addresses skip the full parser."""
    if all("<" not in v and '"' not in v for v in values):
        return [part.strip().lower() for v in values for part in v.split(",") if part.strip()]
    return [addr.lower() for _, addr in getaddresses(values)]


def _mailgun_keys(fields: dict[str, list[str]]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(send id, address) for every `to` of a Mailgun request, and a small summary."""
    to = _addresses(fields.get("to", []))
    variables = json.loads(fields.get("recipient-variables", ["{}"])[0] or "{}")
    variables = {k.lower(): v for k, v in variables.items()}
    global_send_id = fields.get("v:send_id", [""])[0]
    if not global_send_id and fields.get("v:step_id"):
        # A sequence step (automations): each step is its own "send" to a reader.
        global_send_id = "step-" + fields["v:step_id"][0]
    keys = []
    for addr in to:
        send_id = str(variables.get(addr, {}).get("v:send_id", global_send_id))
        if send_id.startswith("%recipient"):
            send_id = ""
        keys.append((send_id, addr))
    first = variables.get(to[0], {}) if to else {}
    summary = {
        "api": "mailgun",
        "fields": sorted(fields),
        "to_count": len(to),
        "subject": fields.get("subject", [""])[0],
        "first_recipient": to[0] if to else "",
        "first_recipient_variables": first,
        "html_bytes": len(fields.get("html", [""])[0]),
        "text_bytes": len(fields.get("text", [""])[0]),
    }
    return keys, summary


def _postmark_messages(path: str, body: bytes) -> list[dict[str, Any]]:
    data = json.loads(body or b"{}")
    if path.endswith("/email/batchwithtemplates"):
        return list(data.get("Messages", []))
    if isinstance(data, list):
        return data
    return [data]


# The merge tags a provider would fill: {{x}}, {{{x}}}, {{var:x}}, *|x|*, %recipient.x%.
_MERGE_TAG = re.compile(r"\{\{\{?[A-Za-z0-9_:]+\}?\}\}|\*\|[A-Za-z0-9_]+\|\*|%recipient\.[A-Za-z0-9_]+%")


def _merge_tags(html: str) -> list[str]:
    return sorted(set(_MERGE_TAG.findall(html)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm and the
    # client's delayed ACK every answer would wait ~40 ms.
    disable_nagle_algorithm = True
    server: FakeProviderServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: a benchmark makes thousands of requests

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, payload: Any) -> None:
        raw = payload if isinstance(payload, Raw) else None
        data = raw.body if raw is not None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            retry_after = self.server.state.last_retry_after if status == 429 else ""
            if retry_after:
                self.send_header("Retry-After", retry_after)
            for name, value in (raw.headers if raw is not None else {}).items():
                self.send_header(name, value)
            if raw is None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        state = self.server.state
        if path == "/_stats":
            self._answer(200, state.snapshot())
        elif path == "/_accepted":
            self._answer(200, state.accepted())
        else:
            self._answer(200, {"message": "Mailgun Magnificent API"} if path.startswith("/v3") else {})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.lower()
        body = self._read_body()
        state = self.server.state
        if not path.startswith("/_"):
            state.count_bytes(len(body))
        if path == "/_reset":
            state.reset()
            self._answer(200, {"ok": True})
        elif path == "/_mode":
            state.set_mode(json.loads(body or b"{}"))
            self._answer(200, {"ok": True})
        elif path.startswith("/v3/") and path.endswith("/messages"):
            self._mailgun(body)
        elif path.endswith("/smtp/email"):
            self._brevo(body)
        elif path.endswith("/mail/send"):
            self._sendgrid(body)
        elif path.rstrip("/").endswith("/transmissions"):
            self._sparkpost(body)
        elif path.endswith("/messages/send.json"):
            self._mandrill(body)
        elif path.endswith("/v3.1/send"):
            self._mailjet(body)
        elif path.endswith("/email/send.json"):
            self._unisender_go(body)
        elif path == "/v1/email":
            self._mailersend(body)
        elif path.endswith("/api/v1/send/message"):
            self._postal(body)
        elif path.startswith("/transactional-email/") and path.endswith("/emails"):
            self._scaleway(body)
        elif path == "/api/send":
            self._mailtrap(body)
        elif path.endswith(("/emails", "/emails/batch")):
            self._resend(path, body)
        elif path.endswith(("/email", "/email/batch", "/email/batchwithtemplates")):
            self._postmark(path, body)
        else:
            self._answer(404, {"message": f"Fake provider: no API at {self.path}"})

    def _send(
        self,
        keys: list[tuple[str, str]],
        summary: dict[str, Any],
        ok: Callable[[int], tuple[int, Any]],
        error: Callable[[int, str], Any],
        idempotency_key: str = "",
        per_message: bool = False,
    ) -> None:
        """Decide, count and answer one send request; ``ok(number)`` and ``error(status, message)`` shape the answer.

        ``per_message``: ``keys`` holds only the messages not refused one by one (the caller's ``ok`` answers those)."""
        state = self.server.state
        replay = state.replayed(idempotency_key)
        if replay is not None:
            self._answer(*replay)
            return
        status, message, delay, accepted_anyway = state.decide([addr for _, addr in keys], per_message=per_message)
        if status != 200:
            if accepted_anyway:
                # The provider took it (a replay answers as for a success); the client hears a failure.
                state.remember(idempotency_key, *ok(state.accept(keys, summary, idempotency_key)))
            self._answer(status, error(status, message))
            return
        answer = ok(state.accept(keys, summary, idempotency_key))
        state.remember(idempotency_key, *answer)
        if delay:
            time.sleep(delay)
        self._answer(*answer)

    def _mailgun(self, body: bytes) -> None:
        if not self.headers.get("Authorization", "").startswith("Basic "):
            self._answer(401, {"message": "Invalid private key"})
            return
        fields = _form_fields(self.headers.get("Content-Type", ""), body)
        keys, summary = _mailgun_keys(fields)
        if not keys:
            self._answer(400, {"message": "'to' parameter is missing"})
            return
        self._send(
            keys,
            summary,
            lambda n: (200, {"id": f"<{int(time.time())}.{n}@fake.mailgun.test>", "message": MAILGUN_OK}),
            lambda status, message: {"message": message},
        )

    def _postmark(self, path: str, body: bytes) -> None:
        if not self.headers.get("X-Postmark-Server-Token"):
            self._answer(401, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied."})
            return
        messages = _postmark_messages(path, body)
        batch = not path.endswith("/email")
        if batch and len(messages) > POSTMARK_BATCH_LIMIT:
            self._answer(422, {"ErrorCode": 300, "Message": "Batch contains more than 500 messages."})
            return
        state = self.server.state
        keys: list[tuple[str, str]] = []
        refused: set[int] = set()  # in a batch, Postmark refuses a message alone (ErrorCode 406: inactive recipient)
        for index, msg in enumerate(messages):
            send_id = str((msg.get("Metadata") or {}).get("send_id", ""))
            addresses = _addresses([msg.get("To", "")])
            if batch and any(state.rejected(a) for a in addresses):
                refused.add(index)
                continue
            keys.extend((send_id, addr) for addr in addresses)
        first = messages[0] if messages else {}
        summary = {
            "api": "postmark",
            "to_count": len(keys),
            "first_recipient": keys[0][1] if keys else "",
            "first_headers": {h.get("Name"): h.get("Value") for h in first.get("Headers") or []},
            "first_metadata": first.get("Metadata") or {},
        }

        summary["html_bytes"] = sum(len(m.get("HtmlBody", "")) for m in messages)

        def ok(number: int) -> tuple[int, Any]:
            answers = [
                {
                    "ErrorCode": 0,
                    "Message": "OK",
                    "MessageID": str(uuid.uuid4()),
                    "To": msg.get("To", ""),
                    "SubmittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                if index not in refused
                else {
                    "ErrorCode": 406,
                    "Message": "You tried to send to recipient(s) that have been marked as inactive.",
                }
                for index, msg in enumerate(messages)
            ]
            return 200, answers if batch else answers[0]

        def error(status: int, message: str) -> Any:
            return {"ErrorCode": 300 if status == 400 else status, "Message": message}

        self._send(keys, summary, ok, error, per_message=batch)

    def _brevo(self, body: bytes) -> None:
        """Brevo's POST /v3/smtp/email, with messageVersions for a batch; the idempotency key is in the body."""
        if not self.headers.get("api-key"):
            self._answer(401, {"code": "unauthorized", "message": "Key not found"})
            return
        data = json.loads(body or b"{}")
        top_headers = data.get("headers") or {}
        versions = data.get("messageVersions") or [{"to": data.get("to", []), "headers": {}}]
        keys: list[tuple[str, str]] = []
        for version in versions:
            headers = {**top_headers, **(version.get("headers") or {})}
            send_id = str(json.loads(headers.get("X-Mailin-custom") or "{}").get("send_id", ""))
            keys.extend((send_id, str(to["email"]).lower()) for to in version.get("to", []))
        summary = {
            "api": "brevo",
            "to_count": len(keys),
            "headers": top_headers,
            "first_version": versions[0] if versions else {},
            "html_bytes": len(data.get("htmlContent", "")),
        }
        batch = "messageVersions" in data

        def ok(number: int) -> tuple[int, Any]:
            ids = [f"<{number}.{i}@fake.brevo.test>" for i in range(len(versions))]
            return 201, {"messageIds": ids} if batch else {"messageId": ids[0]}

        self._send(
            keys,
            summary,
            ok,
            lambda status, message: {"code": "invalid_parameter", "message": message},
            idempotency_key=str(top_headers.get("idempotencyKey", "")),
        )

    def _resend(self, path: str, body: bytes) -> None:
        """Resend's POST /emails (and /emails/batch); the idempotency key is the Idempotency-Key header."""
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self._answer(401, {"name": "missing_api_key", "message": "Missing API key"})
            return
        data = json.loads(body or b"{}")
        emails = data if isinstance(data, list) else [data]
        batch = path.endswith("/batch")
        if batch and len(emails) > RESEND_BATCH_LIMIT:
            too_many = {"name": "validation_error", "message": "Too many emails in the batch.", "statusCode": 422}
            self._answer(422, too_many)
            return
        permissive = batch and self.headers.get("x-batch-validation", "").lower() == "permissive"
        state = self.server.state
        keys: list[tuple[str, str]] = []
        refused: dict[int, str] = {}  # permissive mode: an invalid email is listed by index, the others go
        for index, email in enumerate(emails):
            metadata = json.loads((email.get("headers") or {}).get("X-Metadata") or "{}")
            addresses = _addresses(email.get("to", []))
            if permissive and any(state.rejected(a) for a in addresses):
                refused[index] = "Invalid `to` field. " + state.mode.reject_message
                continue
            keys.extend((str(metadata.get("send_id", "")), addr) for addr in addresses)
        summary = {
            "api": "resend",
            "to_count": len(keys),
            "emails": len(emails),
            "first_headers": emails[0].get("headers") if emails else {},
            "html_bytes": sum(len(e.get("html", "")) for e in emails),
        }

        def ok(number: int) -> tuple[int, Any]:
            ids = [{"id": str(uuid.uuid4())} for index in range(len(emails)) if index not in refused]
            if not batch:
                return 200, ids[0]
            answer: dict[str, Any] = {"data": ids}
            if permissive:
                answer["errors"] = [{"index": i, "message": m} for i, m in sorted(refused.items())]
            return 200, answer

        self._send(
            keys,
            summary,
            ok,
            lambda status, message: {"name": "application_error", "message": message, "statusCode": status},
            idempotency_key=self.headers.get("Idempotency-Key", ""),
            per_message=permissive,
        )

    # --- providers that merge a batch themselves (anymail's merge_data) -------------------------

    def _sendgrid(self, body: bytes) -> None:
        """SendGrid's POST /v3/mail/send: one personalization per reader; 202 with an empty body."""
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self._answer(401, {"errors": [{"message": "The provided authorization grant is invalid.", "field": None}]})
            return
        data = json.loads(body or b"{}")
        top = data.get("custom_args") or {}
        keys: list[tuple[str, str]] = []
        for p in data.get("personalizations") or []:
            send_id = str({**top, **(p.get("custom_args") or {})}.get("send_id", ""))
            keys.extend((send_id, str(to["email"]).lower()) for to in p.get("to") or [])
        if len(data.get("personalizations") or []) > SENDGRID_PERSONALIZATIONS_LIMIT:
            self._answer(400, {"errors": [{"message": "Too many personalizations.", "field": "personalizations"}]})
            return
        first = (data.get("personalizations") or [{}])[0]
        html = "".join(c.get("value", "") for c in data.get("content") or [] if c.get("type") == "text/html")
        summary = {
            "api": "sendgrid",
            "to_count": len(keys),
            "first_substitutions": first.get("substitutions") or {},
            "first_headers": first.get("headers") or {},
            "html_bytes": len(html),
            "html_tags": _merge_tags(html),
        }
        self._send(
            keys,
            summary,
            lambda n: (202, None),
            lambda status, message: {"errors": [{"message": message, "field": None, "help": None}]},
        )

    def _sparkpost(self, body: bytes) -> None:
        """SparkPost's POST /api/v1/transmissions: each reader a recipient with substitution_data."""
        if not self.headers.get("Authorization"):
            self._answer(401, {"errors": [{"message": "Unauthorized.", "code": "1000"}]})
            return
        data = json.loads(body or b"{}")
        send_id = str((data.get("metadata") or {}).get("send_id", ""))
        recipients = data.get("recipients") or []
        keys = [(send_id, str(r["address"]["email"]).lower()) for r in recipients]
        first = recipients[0] if recipients else {}
        summary = {
            "api": "sparkpost",
            "to_count": len(keys),
            "first_substitutions": first.get("substitution_data") or {},
            "first_metadata": first.get("metadata") or {},
            "first_headers": (data.get("content") or {}).get("headers") or {},
            "html_bytes": len((data.get("content") or {}).get("html", "")),
            "html_tags": _merge_tags((data.get("content") or {}).get("html", "")),
        }
        self._send(
            keys,
            summary,
            lambda n: (
                200,
                {"results": {"total_rejected_recipients": 0, "total_accepted_recipients": len(keys), "id": str(n)}},
            ),
            lambda status, message: {"errors": [{"message": message, "code": "1902"}]},
        )

    def _mandrill(self, body: bytes) -> None:
        """Mandrill's POST /api/1.0/messages/send.json: merge_vars per reader; an answer per recipient."""
        data = json.loads(body or b"{}")
        if not data.get("key"):
            self._answer(500, {"status": "error", "code": -1, "name": "Invalid_Key", "message": "Invalid API key"})
            return
        message = data.get("message") or {}
        send_id = str((message.get("metadata") or {}).get("send_id", ""))
        state = self.server.state
        everyone = [str(to["email"]).lower() for to in message.get("to") or []]
        refused = {a for a in everyone if state.rejected(a)}
        keys = [(send_id, a) for a in everyone if a not in refused]
        first = (message.get("merge_vars") or [{}])[0]
        summary = {
            "api": "mandrill",
            "to_count": len(keys),
            "merge_language": message.get("merge_language", ""),
            "first_merge_vars": {v["name"]: v["content"] for v in first.get("vars") or []},
            "html_bytes": len(message.get("html", "")),
            "html_tags": _merge_tags(message.get("html", "")),
        }

        def ok(n: int) -> tuple[int, Any]:
            return 200, [
                {"email": a, "status": "rejected", "reject_reason": "hard-bounce", "_id": uuid.uuid4().hex}
                if a in refused
                else {"email": a, "status": "sent", "reject_reason": None, "_id": uuid.uuid4().hex}
                for a in everyone
            ]

        self._send(
            keys,
            summary,
            ok,
            lambda status, message: {"status": "error", "code": -2, "name": "GeneralError", "message": message},
            per_message=True,
        )

    def _mailjet(self, body: bytes) -> None:
        """Mailjet's POST /v3.1/send: a Message per reader with its Variables; a status per message."""
        if not self.headers.get("Authorization", "").startswith("Basic "):
            self._answer(
                401,
                {
                    "ErrorIdentifier": "x",
                    "ErrorCode": "mj-0002",
                    "StatusCode": 401,
                    "ErrorMessage": "API key authentication/authorization failure.",
                },
            )
            return
        data = json.loads(body or b"{}")
        messages = data.get("Messages") or []
        if len(messages) > MAILJET_MESSAGES_LIMIT:
            self._answer(
                400,
                {
                    "ErrorIdentifier": "x",
                    "ErrorCode": "mj-0004",
                    "StatusCode": 400,
                    "ErrorMessage": "Too many messages.",
                },
            )
            return
        globals_ = data.get("Globals") or {}
        state = self.server.state
        keys: list[tuple[str, str]] = []
        refused: set[int] = set()
        for index, m in enumerate(messages):
            payload = json.loads(m.get("EventPayload") or globals_.get("EventPayload") or "{}")
            addresses = [str(to["Email"]).lower() for to in m.get("To") or []]
            if any(state.rejected(a) for a in addresses):
                refused.add(index)
                continue
            keys.extend((str(payload.get("send_id", "")), a) for a in addresses)
        first = messages[0] if messages else {}
        summary = {
            "api": "mailjet",
            "to_count": len(keys),
            "template_language": globals_.get("TemplateLanguage"),
            "first_variables": first.get("Variables") or {},
            "first_headers": first.get("Headers") or {},
            "html_bytes": len(globals_.get("HTMLPart", "")),
            "html_tags": _merge_tags(globals_.get("HTMLPart", "")),
        }

        def ok(n: int) -> tuple[int, Any]:
            results = []
            for index, m in enumerate(messages):
                if index in refused:
                    error = {"ErrorCode": "mj-0013", "StatusCode": 400, "ErrorMessage": '"To" is not a valid address.'}
                    results.append({"Status": "error", "Errors": [error]})
                    continue
                to = [
                    {
                        "Email": t["Email"],
                        "MessageUUID": str(uuid.uuid4()),
                        "MessageID": next(state.ids),
                        "MessageHref": "",
                    }
                    for t in m.get("To") or []
                ]
                results.append({"Status": "success", "To": to, "Cc": [], "Bcc": []})
            return (400 if refused else 200), {"Messages": results}

        self._send(
            keys,
            summary,
            ok,
            lambda status, message: {
                "ErrorIdentifier": "x",
                "ErrorCode": "mj-0003",
                "StatusCode": status,
                "ErrorMessage": message,
            },
            per_message=True,
        )

    def _unisender_go(self, body: bytes) -> None:
        """Unisender Go's POST .../email/send.json: substitutions per recipient; failed_emails by address."""
        if not self.headers.get("X-API-KEY"):
            self._answer(401, {"status": "error", "message": "Invalid API key", "code": 102})
            return
        message = json.loads(body or b"{}").get("message") or {}
        send_id = str((message.get("global_metadata") or {}).get("send_id", ""))
        state = self.server.state
        recipients = message.get("recipients") or []
        if len(recipients) > UNISENDER_GO_RECIPIENTS_LIMIT:
            self._answer(400, {"status": "error", "message": "Too many recipients.", "code": 204})
            return
        everyone = [str(r["email"]).lower() for r in recipients]
        refused = {a for a in everyone if state.rejected(a)}
        keys = [(send_id, a) for a in everyone if a not in refused]
        first = recipients[0] if recipients else {}
        summary = {
            "api": "unisender_go",
            "to_count": len(keys),
            "template_engine": message.get("template_engine", ""),
            "first_substitutions": first.get("substitutions") or {},
            "first_metadata": first.get("metadata") or {},
            "html_bytes": len((message.get("body") or {}).get("html", "")),
            "html_tags": _merge_tags((message.get("body") or {}).get("html", "")),
        }

        def ok(n: int) -> tuple[int, Any]:
            answer: dict[str, Any] = {
                "status": "success",
                "job_id": f"fake-{n}",
                "emails": [a for a in everyone if a not in refused],
            }
            if refused:
                answer["failed_emails"] = dict.fromkeys(sorted(refused), "permanent_unavailable")
            return 200, answer

        self._send(
            keys,
            summary,
            ok,
            lambda status, message: {"status": "error", "message": message, "code": 901},
            per_message=True,
        )

    # --- providers sent one message per reader ---------------------------------------------------

    def _one_reader(self, keys: list[tuple[str, str]], summary: dict[str, Any], html: str) -> None:
        summary["html_bytes"] = len(html)
        summary["html_tags"] = _merge_tags(html)

    def _mailersend(self, body: bytes) -> None:
        """MailerSend's POST /v1/email: 202 with an empty body and the X-Message-Id header;
        a message it refuses gets 422 with the field's errors."""
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self._answer(401, {"message": "Unauthenticated."})
            return
        data = json.loads(body or b"{}")
        keys = [("", str(to["email"]).lower()) for to in data.get("to") or []]
        summary: dict[str, Any] = {
            "api": "mailersend",
            "to_count": len(keys),
            "first_headers": {h["name"]: h["value"] for h in data.get("headers") or []},
            "personalization": bool(data.get("personalization")),
        }
        self._one_reader(keys, summary, data.get("html", ""))
        self._send(
            keys,
            summary,
            lambda n: (202, Raw(b"", {"Content-Type": "text/html; charset=UTF-8", "X-Message-Id": f"fake{n:020x}"})),
            lambda status, message: {"message": message, "errors": {"to.0.email": [message]}},
        )

    def _postal(self, body: bytes) -> None:
        """Postal's POST /api/v1/send/message: HTTP 200 for a refusal too, told by ``status``."""
        if not self.headers.get("X-Server-API-Key"):
            answer = {"code": "AccessDenied", "message": "Must be authenticated as a server."}
            self._answer(200, {"status": "error", "time": 0.0, "flags": {}, "data": answer})
            return
        data = json.loads(body or b"{}")
        keys = [("", a) for a in _addresses(list(data.get("to") or []))]
        summary: dict[str, Any] = {"api": "postal", "to_count": len(keys), "first_headers": data.get("headers") or {}}
        self._one_reader(keys, summary, data.get("html_body", ""))
        state = self.server.state
        refused = any(state.rejected(a) for _, a in keys)

        def ok(n: int) -> tuple[int, Any]:
            if refused:
                refusal = {"code": "ValidationError", "message": state.mode.reject_message}
                return 200, {"status": "error", "time": 0.0, "flags": {}, "data": refusal}
            messages = {a: {"id": next(state.ids), "token": uuid.uuid4().hex[:12]} for _, a in keys}
            answer = {"message_id": f"{uuid.uuid4()}@rp.postal.test", "messages": messages}
            return 200, {"status": "success", "time": 0.01, "flags": {}, "data": answer}

        self._send(
            [] if refused else keys,
            summary,
            ok,
            lambda status, message: {"status": "error", "time": 0.0, "flags": {}, "data": {"message": message}},
            per_message=True,
        )

    def _scaleway(self, body: bytes) -> None:
        """Scaleway's POST .../transactional-email/v1alpha1/regions/<region>/emails: an entry per recipient."""
        if not self.headers.get("X-Auth-Token"):
            self._answer(401, {"message": "authentication is denied", "type": "denied_authentication"})
            return
        data = json.loads(body or b"{}")
        headers = {h["key"]: h["value"] for h in data.get("additional_headers") or []}
        send_id = str(json.loads(headers.get("X-Metadata") or "{}").get("send_id", ""))
        keys = [(send_id, str(to["email"]).lower()) for to in data.get("to") or []]
        summary: dict[str, Any] = {"api": "scaleway", "to_count": len(keys), "first_headers": headers}
        self._one_reader(keys, summary, data.get("html", ""))

        def ok(n: int) -> tuple[int, Any]:
            emails = [
                {"id": str(uuid.uuid4()), "mail_rcpt": a, "rcpt_type": "to", "status": "sending"} for _, a in keys
            ]
            return 200, {"emails": emails}

        self._send(
            keys,
            summary,
            ok,
            lambda status, message: {
                "details": [{"argument_name": "to", "reason": "constraint", "help_message": message}],
                "message": "invalid argument(s)",
                "type": "invalid_arguments",
            },
        )

    def _mailtrap(self, body: bytes) -> None:
        """Mailtrap's POST /api/send: a message id per recipient."""
        if not self.headers.get("Api-Token"):
            self._answer(401, {"success": False, "errors": ["Unauthorized"]})
            return
        data = json.loads(body or b"{}")
        send_id = str((data.get("custom_variables") or {}).get("send_id", ""))
        keys = [(send_id, str(to["email"]).lower()) for to in data.get("to") or []]
        summary: dict[str, Any] = {"api": "mailtrap", "to_count": len(keys), "first_headers": data.get("headers") or {}}
        self._one_reader(keys, summary, data.get("html", ""))
        self._send(
            keys,
            summary,
            lambda n: (200, {"success": True, "message_ids": [str(uuid.uuid4()) for _ in keys]}),
            lambda status, message: {"success": False, "errors": [message]},
        )


class FakeProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), Handler)
        self.state = FakeProviderState()


class FakeProvider:
    """The fake provider in a background thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = FakeProviderServer(host, port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-provider", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class FakeProviderClient:
    """Talks to the control API of a fake provider in any process."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()

    @property
    def mailgun_api_url(self) -> str:
        return f"{self.url}/v3"

    def stats(self) -> dict[str, Any]:
        return dict(self.session.get(f"{self.url}/_stats", timeout=10).json())

    def accepted(self) -> list[str]:
        return list(self.session.get(f"{self.url}/_accepted", timeout=30).json())

    def reset(self) -> None:
        self.session.post(f"{self.url}/_reset", timeout=10).raise_for_status()

    def set_mode(self, **spec: Any) -> None:
        self.session.post(f"{self.url}/_mode", json=spec, timeout=10).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args()
    server = FakeProviderServer(args.host, args.port)
    print(f"fake provider on http://{args.host}:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
