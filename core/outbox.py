"""A mail backend that keeps every message in the database instead of sending it.

It understands the same per-recipient batch features as a real provider
(anymail's ``merge_data``, ``merge_headers`` and ``merge_metadata``), using
Mailgun's ``%recipient.KEY%`` substitution syntax (core.merge), so that the batch path is
exercised unchanged on a laptop. Each recipient's copy is stored as the reader
would have received it, and is shown at /dev/outbox/ when DEBUG is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import make_msgid
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from core.merge import merge


def _html_part(message: EmailMessage) -> str:
    if getattr(message, "content_subtype", "plain") == "html":
        return str(message.body)
    for content, mimetype in getattr(message, "alternatives", []) or []:
        if mimetype == "text/html":
            return str(content)
    return ""


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from core.models import OutboxMessage

        rows = []
        for message in email_messages:
            merge_data: dict[str, dict[str, Any]] = getattr(message, "merge_data", None) or {}
            merge_headers: dict[str, dict[str, str]] = getattr(message, "merge_headers", None) or {}
            merge_metadata: dict[str, dict[str, Any]] = getattr(message, "merge_metadata", None) or {}
            metadata: dict[str, Any] = getattr(message, "metadata", None) or {}
            text = "" if getattr(message, "content_subtype", "plain") == "html" else str(message.body)
            html = _html_part(message)
            ids: dict[str, str] = {}
            for recipient in message.recipients():
                values = merge_data.get(recipient, {})
                headers = {**message.extra_headers, **merge_headers.get(recipient, {})}
                message_id = headers.get("Message-ID") or make_msgid(domain="outbox.newsroom.local")
                rows.append(
                    OutboxMessage(
                        subject=merge(str(message.subject), values),
                        from_email=str(message.from_email),
                        to=recipient,
                        text_body=merge(text, values),
                        html_body=merge(html, values),
                        headers={k: merge(str(v), values) for k, v in headers.items()},
                        metadata={**metadata, **merge_metadata.get(recipient, {})},
                        message_id=message_id,
                    )
                )
                ids[recipient] = message_id
            # Anymail-style status so callers can treat every backend alike.
            message.anymail_status = _OutboxStatus(ids)  # type: ignore[attr-defined]
        OutboxMessage.objects.bulk_create(rows)
        return len(email_messages)


class _RecipientStatus:
    def __init__(self, message_id: str) -> None:
        self.status = "queued"
        self.message_id = message_id


class _OutboxStatus:
    def __init__(self, ids: dict[str, str]) -> None:
        self.recipients = {addr: _RecipientStatus(mid) for addr, mid in ids.items()}
        self.status = {"queued"} if ids else set()
        self.message_id = set(ids.values()) if len(ids) > 1 else next(iter(ids.values()), None)
