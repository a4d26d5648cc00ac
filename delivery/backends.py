"""anymail's Mailgun backend, cheaper for 1,000-reader batches; Postmark's and Resend's
backends, sending a batch of per-reader messages in one call (the second half).

Two changes, both measured with cProfile on a worker sending 1,000-reader
batches (docs/benchmarks.md), and nothing else:

- The request is posted as multipart/form-data instead of a urlencoded form,
  with the recipients in one comma-separated ``to`` field. Mailgun's send API
  takes either encoding and either form of ``to``. A batch carries about 800 kB
  of recipient variables (JSON); urlencoding escapes it one character at a time
  in Python (about 20 ms of a worker's CPU per batch), multipart sends it as it is.
- Plain ``to`` addresses (``local@domain``, ASCII, no display name: what the
  send path passes) become anymail's EmailAddress without going through the
  email package's full address parser, which took about a third of a batch's
  CPU. Anything else takes anymail's own parser, as before.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Sequence
from typing import Any

from anymail.backends.mailgun import EmailBackend as AnymailMailgunBackend
from anymail.backends.mailgun import MailgunPayload
from anymail.backends.postal import EmailBackend as AnymailPostalBackend
from anymail.backends.postmark import EmailBackend as AnymailPostmarkBackend
from anymail.backends.resend import EmailBackend as AnymailResendBackend
from anymail.exceptions import AnymailRequestsAPIError
from anymail.message import AnymailRecipientStatus, AnymailStatus
from anymail.utils import EmailAddress, parse_address_list
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend

# RFC 5322 dot-atom local part and an ASCII domain of dot-separated labels.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PLAIN = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")


def parse_recipients(addresses: Any) -> list[EmailAddress]:
    """anymail's parse_address_list, with a fast path for a list of plain addresses."""
    if isinstance(addresses, list | tuple) and all(isinstance(a, str) and _PLAIN.fullmatch(a) for a in addresses):
        parts = (a.rpartition("@") for a in addresses)
        return [EmailAddress(username=local, domain=domain) for local, _, domain in parts]
    return parse_address_list(addresses, field="to")


class BatchMailgunPayload(MailgunPayload):
    base_message_attrs = tuple(
        (attr, combiner, parse_recipients if attr == "to" else converter)
        for attr, combiner, converter in MailgunPayload.base_message_attrs
    )

    def get_request_params(self, api_url: str) -> dict[str, Any]:
        params = super().get_request_params(api_url)
        fields: list[tuple[str, Any]] = []
        for name, value in (params.pop("data", None) or {}).items():
            values = value if isinstance(value, list | tuple) else [value]
            if name == "to":  # one field, as Mailgun takes it: a part per reader costs more than the address
                values = [", ".join(str(item) for item in values)]
            fields += [(name, (None, str(item))) for item in values]
        params["files"] = fields + list(params.get("files") or [])
        return params


class MailgunBackend(AnymailMailgunBackend):
    """Set by ANYMAIL_PROVIDER=mailgun (newsroom/settings.py)."""

    def build_message_payload(self, message: Any, defaults: Any) -> BatchMailgunPayload:
        return BatchMailgunPayload(message, defaults, self)


# --- many messages in one call -------------------------------------------------------------
#
# Postmark and Resend substitute per-reader values only into templates stored at the
# provider, so anymail cannot send them one message with ``merge_data``. Both take many
# complete messages in one request instead: Postmark's POST /email/batch (up to 500
# messages, one answer per message, in order: postmarkapp.com/developer, "Send batch
# emails") and Resend's POST /emails/batch (up to 100; "Batch sending", and its
# ``x-batch-validation: permissive`` mode queues the valid emails and lists the invalid
# ones by index). ``send_batch`` builds each reader's message with anymail's own payload
# class (the same JSON anymail would post to the one-message endpoint), joins them into
# one JSON array and posts it once, through anymail's post_to_esp (its errors, its timeout).


# Per message: its recipient's status, and the provider's reason for a refused recipient.
Answer = tuple[dict[str, AnymailRecipientStatus], dict[str, str]]


class _JoinedPayload:
    """The request of many anymail payloads as one JSON array, posted to ``endpoint``."""

    def __init__(self, payloads: list[Any], endpoint: str, headers: dict[str, str]) -> None:
        self.payloads = payloads
        self.endpoint = endpoint
        self.headers = headers

    def get_request_params(self, api_url: str) -> dict[str, Any]:
        first = self.payloads[0].get_request_params(api_url)
        bodies = [first["data"]] + [p.serialize_data() for p in self.payloads[1:]]
        first["url"] = api_url + self.endpoint
        first["data"] = ("[" + ",".join(bodies) + "]").encode()
        first["headers"] = {**first.get("headers", {}), **self.headers}
        return first


class MessageBatchBackend:
    """A mixin for anymail's requests backends: ``send_batch(messages)`` in one API call."""

    batch_endpoint = ""
    batch_headers: dict[str, str] = {}

    def send_batch(self, messages: list[Any], *, idempotency_key: str = "") -> list[dict[str, str]]:
        """Post ``messages`` (one recipient each) in one request.

        Sets each message's ``anymail_status`` (its recipient's status and message id) and
        returns, per message, the provider's reason for any recipient it refused. Raises
        anymail's errors as its one-message send would (AnymailRequestsAPIError for an HTTP
        error or no answer, AnymailInvalidAddress before any request)."""
        backend: Any = self
        created = backend.open()
        try:
            payloads = []
            for message in messages:
                message.anymail_status = AnymailStatus()
                payloads.append(backend.build_message_payload(message, backend.send_defaults))
            headers = dict(self.batch_headers)
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            joined = _JoinedPayload(payloads, self.batch_endpoint, headers)
            response = backend.post_to_esp(joined, messages[0])
            answers = self.batch_answers(response, payloads, messages)
            reasons = []
            for message, (statuses, refused) in zip(messages, answers, strict=True):
                message.anymail_status.esp_response = response
                message.anymail_status.set_recipient_status(statuses)
                reasons.append(refused)
            return reasons
        finally:
            if created:
                backend.close()

    def batch_answers(self, response: Any, payloads: list[Any], messages: list[Any]) -> list[Answer]:
        raise NotImplementedError

    def _unreadable(self, response: Any, payloads: list[Any], messages: list[Any], why: str) -> AnymailRequestsAPIError:
        return AnymailRequestsAPIError(
            f"The provider's batch answer was unreadable: {why}",
            email_message=messages[0],
            payload=payloads[0],
            response=response,
            backend=self,
        )


def _recipient(message: Any) -> str:
    return str(message.to[0])


class PostmarkBackend(MessageBatchBackend, AnymailPostmarkBackend):
    """Set by ANYMAIL_PROVIDER=postmark: a batch goes to POST /email/batch in one call.

    Postmark answers 200 with one object per message, in the order sent; ErrorCode 0 is
    accepted, 406 an inactive (suppressed) recipient, 300 an invalid message; other
    codes refuse that message alone."""

    batch_endpoint = "email/batch"

    def batch_answers(self, response: Any, payloads: list[Any], messages: list[Any]) -> list[Answer]:
        try:
            items = response.json()
        except ValueError as exc:
            raise self._unreadable(response, payloads, messages, "not JSON") from exc
        if not isinstance(items, list) or len(items) != len(messages):
            raise self._unreadable(response, payloads, messages, "not one answer per message")
        answers: list[Answer] = []
        for message, item in zip(messages, items, strict=True):
            to = _recipient(message)
            code = int(item.get("ErrorCode", 0) or 0)
            if code == 0:
                status = "queued" if "delivery may be delayed" in str(item.get("Message", "")) else "sent"
                answers.append(({to: AnymailRecipientStatus(message_id=item.get("MessageID"), status=status)}, {}))
                continue
            status = "rejected" if code == 406 else "invalid" if code == 300 else "failed"
            reason = f"Postmark refused this message (ErrorCode {code}): {item.get('Message', '')}"
            answers.append(({to: AnymailRecipientStatus(message_id=None, status=status)}, {to: reason}))
        return answers


class ResendBackend(MessageBatchBackend, AnymailResendBackend):
    """Set by ANYMAIL_PROVIDER=resend: a batch goes to POST /emails/batch in one call, in
    permissive validation mode, with the batch's Idempotency-Key (Resend keeps it 24 hours
    and answers a repeated key with its first answer).

    Resend answers ``{"data": [{"id": ...}, ...], "errors": [{"index": i, "message": ...}]}``:
    an id for each email it queued, in order, and the index of each it refused."""

    batch_endpoint = "emails/batch"
    batch_headers = {"x-batch-validation": "permissive"}

    def batch_answers(self, response: Any, payloads: list[Any], messages: list[Any]) -> list[Answer]:
        try:
            parsed = response.json()
            refused = {int(e["index"]): str(e.get("message", "")) for e in parsed.get("errors") or []}
            ids = iter([str(d["id"]) for d in parsed.get("data") or []])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise self._unreadable(response, payloads, messages, "no data or errors list") from exc
        answers: list[Answer] = []
        for index, message in enumerate(messages):
            to = _recipient(message)
            if index in refused:
                reason = f"Resend refused this email: {refused[index]}"
                answers.append(({to: AnymailRecipientStatus(message_id=None, status="invalid")}, {to: reason}))
                continue
            message_id = next(ids, None)
            if message_id is None:
                raise self._unreadable(response, payloads, messages, "fewer ids than emails")
            answers.append(({to: AnymailRecipientStatus(message_id=message_id, status="queued")}, {}))
        return answers


# --- Postal: a refusal comes with HTTP 200 --------------------------------------------------
#
# Postal's send API answers every request it could read with HTTP 200, a refusal included:
# ``{"status": "error", "data": {"code": "...", "message": "..."}}`` ("parameter-error" for a
# request it could not read). anymail raises AnymailRequestsAPIError carrying that 200, which
# the send path would read as "taken, answer unreadable". PostalBackend gives the error the
# status it means instead: 401 for a key Postal refused (the send pauses for an operator),
# 400 for a message it refused (that reader fails with Postal's words).

POSTAL_CREDENTIAL_CODES = frozenset(
    {"InvalidServerAPIKey", "AccessDenied", "ServerSuspended", "UnauthenticatedRequest"}
)


class PostalRefused(AnymailRequestsAPIError):
    """Postal refused the message (or our key) in a 200 answer; ``status_code`` says which."""

    def __init__(self, *args: Any, refused_status: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status_code = refused_status


class PostalBackend(AnymailPostalBackend):
    """Set by ANYMAIL_PROVIDER=postal: anymail's Postal backend, its 200 refusals read as such."""

    def parse_recipient_status(self, response: Any, payload: Any, message: Any) -> Any:
        parsed = self.deserialize_json_response(response, payload, message)
        if isinstance(parsed, dict) and parsed.get("status") not in (None, "success"):
            found = parsed.get("data")
            data: dict[str, Any] = found if isinstance(found, dict) else {}
            code = str(data.get("code") or parsed.get("status"))
            text = f"Postal refused the message ({code}): {data.get('message', '')}"
            refused_status = 401 if code in POSTAL_CREDENTIAL_CODES else 400
            raise PostalRefused(
                text,
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
                refused_status=refused_status,
            )
        return super().parse_recipient_status(response, payload, message)


# --- SMTP: a message's commands pipelined (RFC 2920) ----------------------------------------
#
# smtplib's sendmail waits for the answer to each command: MAIL, RCPT, DATA and the end of the
# data are four round trips a message. A server that lists PIPELINING in its EHLO answer takes
# MAIL, the RCPTs and DATA in one write (DATA last in the group, RFC 2920 section 3.1) and
# answers them in order; the body then goes in a second write. PipeliningSMTP does that on
# smtplib's own connection (its STARTTLS, AUTH, send and getreply) and raises what smtplib's
# sendmail raises for each answer, so the send path judges an SMTP error as before. A server
# without PIPELINING gets smtplib's sendmail unchanged.


def _dot_stuffed(body: bytes) -> bytes:
    """The DATA payload of ``body`` (CRLF lines): leading dots doubled, ended by CRLF.CRLF."""
    stuffed = re.sub(rb"(?m)^\.", b"..", body)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


class _PipeliningMixin:
    """sendmail for smtplib.SMTP and SMTP_SSL, grouping MAIL, RCPT and DATA in one write."""

    def sendmail(
        self,
        from_addr: str,
        to_addrs: str | Sequence[str],
        msg: Any,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        smtp: Any = self
        smtp.ehlo_or_helo_if_needed()
        recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        # A str is sent as smtplib sends it: its line ends made CRLF, ASCII only.
        body = re.sub(r"\r\n|\n|\r", "\r\n", msg).encode("ascii") if isinstance(msg, str) else bytes(msg)
        if not smtp.does_esmtp or not smtp.has_extn("pipelining") or "smtputf8" in [o.lower() for o in mail_options]:
            sent: dict[str, tuple[int, bytes]] = smtplib.SMTP.sendmail(
                smtp, from_addr, to_addrs, msg, mail_options, rcpt_options
            )
            return sent
        options = list(mail_options)
        if smtp.has_extn("size"):
            options.append(f"size={len(body)}")
        mail_tail = (" " + " ".join(options)) if options else ""
        rcpt_tail = (" " + " ".join(rcpt_options)) if rcpt_options else ""
        group = [f"MAIL FROM:{smtplib.quoteaddr(from_addr)}{mail_tail}"]
        group += [f"RCPT TO:{smtplib.quoteaddr(to)}{rcpt_tail}" for to in recipients]
        group.append("DATA")
        smtp.send("".join(line + "\r\n" for line in group))
        mail_code, mail_text = smtp.getreply()
        if mail_code == 421:
            # The server is closing: the rest of the group will not be answered.
            smtp.close()
            raise smtplib.SMTPSenderRefused(mail_code, mail_text, from_addr)
        refused: dict[str, tuple[int, bytes]] = {}
        hang_up = False
        for to in recipients:
            code, text = smtp.getreply()
            if code not in (250, 251):
                refused[to] = (code, text)
            if code == 421:
                hang_up = True
                break
        if hang_up:
            # A 421 to a RCPT: the server is closing, as smtplib's sendmail reads it.
            with contextlib.suppress(smtplib.SMTPServerDisconnected):
                smtp.getreply()
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
        data_code, data_text = smtp.getreply()
        if data_code == 354 and (mail_code != 250 or len(refused) == len(recipients)):
            # Against RFC 2920 the server took DATA with no sender or recipient: end the
            # transaction without a message by dropping the connection, as sending any
            # body would deliver it.
            smtp.close()
        elif data_code == 421:
            smtp.close()
        elif data_code != 354 or mail_code != 250 or len(refused) == len(recipients):
            smtp.rset()
        if mail_code != 250:
            raise smtplib.SMTPSenderRefused(mail_code, mail_text, from_addr)
        if len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused(refused)
        if data_code != 354:
            raise smtplib.SMTPDataError(data_code, data_text)
        smtp.send(_dot_stuffed(body))
        code, text = smtp.getreply()
        if code != 250:
            if code == 421:
                smtp.close()
            else:
                smtp.rset()
            raise smtplib.SMTPDataError(code, text)
        return refused


class PipeliningSMTP(_PipeliningMixin, smtplib.SMTP):
    pass


class PipeliningSMTP_SSL(_PipeliningMixin, smtplib.SMTP_SSL):
    pass


class PipelinedSMTPBackend(DjangoSMTPBackend):
    """Set by EMAIL_PROVIDER=smtp: Django's SMTP backend (EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS,
    EMAIL_USE_SSL, EMAIL_HOST_USER, its errors) on a connection that pipelines each message's
    commands when the server offers PIPELINING."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return PipeliningSMTP_SSL if self.use_ssl else PipeliningSMTP
