"""Transactional email: rendering, sending, and the Celery task that sends.

Each kind of email is one small function in its app's ``emails.py`` (or here,
for the operator's check) that queues :func:`send_email_task` with a kind name; the kind names three templates
alike: ``emails/<kind>_subject.txt``, ``emails/<kind>.txt`` and
``emails/<kind>.html``. Context values must be JSON-serialisable because the
email is rendered in a Celery task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, make_msgid, parseaddr, quote
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout

# RFC 2369 / RFC 8058: mail clients show their own unsubscribe button and POST to the link.
ONE_CLICK_POST = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def list_unsubscribe(one_click_url: str) -> dict[str, str]:
    """The per-reader half of the one-click headers (a batch sends it per recipient)."""
    return {"List-Unsubscribe": f"<{one_click_url}>"}


def list_unsubscribe_headers(one_click_url: str) -> dict[str, str]:
    """Both one-click unsubscribe headers for one reader's email."""
    return {**list_unsubscribe(one_click_url), **ONE_CLICK_POST}


def sender_domain() -> str:
    """The domain of DEFAULT_FROM_EMAIL: message ids and the List-Id are named on it."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"


def list_id_header() -> dict[str, str]:
    """RFC 2919 List-Id for every email a reader gets as a member of the list.

    Issue sends carry it in their common headers, as every transactional email
    with an unsubscribe link does: a List-Unsubscribe without a List-Id is what
    SpamAssassin's LIST_PARTIAL rules look for. The id is the sender's address
    turned into a name on its domain (newsletter@example.com:
    newsletter.example.com), so it is ours and stays the same for every issue."""
    local, _, domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].partition("@")
    list_id = f"{local or 'newsletter'}.{domain or 'localhost'}".lower()
    name = settings.PUBLISHER_NAME
    # Only the name is encoded when it is not ASCII, so the <id> stays readable.
    phrase = f'"{quote(name)}"' if name.isascii() else Header(name, "utf-8").encode()
    return {"List-Id": f"{phrase} <{list_id}>"}


def transactional_headers(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with what every transactional email carries: a Date in the
    publication's zone (Django's default says -0000, "zone unknown"), a
    Message-ID on the sender's domain (not this machine's host name), and the
    List-Id when the email has an unsubscribe link."""
    extra = {
        "Date": format_datetime(timezone.localtime()),
        "Message-ID": make_msgid(domain=sender_domain()),
    }
    if "List-Unsubscribe" in headers:
        extra |= list_id_header()
    return {**extra, **headers}


MailContextPart = Callable[[], dict[str, Any]]
_CONTEXT_PARTS: list[MailContextPart] = []


def mail_context_register(part: MailContextPart) -> None:
    """Add values every transactional email's templates see, read when the email is
    rendered (in the worker). The issues app gives the masthead an editor set
    (``pub``, and ``PUBLISHER_NAME`` from it); core knows no app."""
    if part not in _CONTEXT_PARTS:
        _CONTEXT_PARTS.append(part)


def render_templated(*, kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    base: dict[str, Any] = {
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
        "PUBLISHER_ADDRESS": settings.PUBLISHER_ADDRESS,
        "SITE_URL": settings.SITE_URL,
    }
    for part in _CONTEXT_PARTS:
        base |= part()
    ctx = {**base, **context}
    subject = " ".join(render_to_string(f"emails/{kind}_subject.txt", ctx).split())
    text = render_to_string(f"emails/{kind}.txt", ctx)
    html = render_to_string(f"emails/{kind}.html", ctx)
    return subject, text, html


def build_templated(
    *, kind: str, to: list[str], context: dict[str, Any], headers: dict[str, str] | None = None
) -> EmailMultiAlternatives:
    """The message :func:`send_templated` sends, rendered and addressed but not sent."""
    subject, text, html = render_templated(kind=kind, context=context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=transactional_headers(headers or {}),
    )
    message.attach_alternative(html, "text/html")
    return message


def send_templated(
    *, kind: str, to: list[str], context: dict[str, Any], headers: dict[str, str] | None = None
) -> str | None:
    """Render and send one email now; returns the provider's message id if any."""
    message = build_templated(kind=kind, to=to, context=context, headers=headers)
    message.send()
    status = getattr(message, "anymail_status", None)
    message_id = getattr(status, "message_id", None)
    return message_id if isinstance(message_id, str) else None


# --- one sample of every kind of email a reader can get --------------------------


@dataclass(frozen=True)
class SampleReader:
    """The reader a sample email is addressed to (a real one, or made up)."""

    subscriber_id: int
    email: str
    name: str


EmailSample = Callable[[SampleReader], EmailMessage | None]
_SAMPLES: dict[str, EmailSample] = {}
_SAMPLE_GROUPS: dict[str, Callable[[], dict[str, EmailSample]]] = {}


def email_sample_register(kind: str, build: EmailSample) -> None:
    """Say how to build one reader's copy of an email ``kind``, as the real send builds it.

    Each app registers its kinds in ``AppConfig.ready()`` (the issue, the
    confirmation, the welcome, a sequence's steps...); ``build`` returns the
    MIME message with every header the reader's copy carries, or None when
    there is nothing to build it from (no sent issue yet). The SpamAssassin
    test scores every registered kind, so a new kind is checked as soon as it
    is registered."""
    _SAMPLES[kind] = build


def email_sample_group_register(prefix: str, kinds: Callable[[], dict[str, EmailSample]]) -> None:
    """Say how to build kinds that editors make (each step of each sequence): ``kinds`` is asked
    at every :func:`email_samples` call, and its kinds are listed as ``prefix:name``."""
    _SAMPLE_GROUPS[prefix] = kinds


def email_samples() -> dict[str, EmailSample]:
    """Every registered kind of email and its builder, in the order registered, then the groups' kinds."""
    found = dict(_SAMPLES)
    for prefix, kinds in _SAMPLE_GROUPS.items():
        found |= {f"{prefix}:{name}": build for name, build in kinds().items()}
    return found


def operator_check(*, to: str) -> None:
    """Queue a short email that proves the worker and the provider work."""
    send_email_task.delay(kind="operator_check", to=[to], context={})


# The task keeps its first name so messages already queued are still understood.
@shared_task(
    name="newsroom.send_email",
    autoretry_for=(RequestsConnectionError, Timeout, ConnectionError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def send_email_task(
    *, kind: str, to: list[str], context: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    """Send one transactional email. Arguments are JSON: the kind and its context."""
    send_templated(kind=kind, to=to, context=context, headers=headers)
