"""Provider strategies: how one batch of readers becomes anymail messages.

A strategy knows the provider's merge-tag syntax and whether it can take one
message with many recipients (``merge_data``) or needs one message per reader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from issues.rendering import MERGE_KEYS, RenderedEmail, mailgun_tag


def brevo_tag(key: str) -> str:
    return "{{ params." + key + " }}"


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    email: str
    merge: dict[str, str]
    headers: dict[str, str]
    metadata: dict[str, str]


@dataclass(frozen=True)
class ProviderStrategy:
    """``batch`` True: one anymail call with merge_data for all readers."""

    name: str
    merge_tag: Callable[[str], str]
    batch: bool
    idempotency_header: str = ""

    def build(self, rendered: RenderedEmail, recipients: list[Recipient], *, key: str) -> list[EmailMultiAlternatives]:
        if self.batch:
            message = _message(rendered.subject, rendered.text, rendered.html, [r.email for r in recipients])
            message.merge_data = {r.email: r.merge for r in recipients}  # type: ignore[attr-defined]
            message.merge_headers = {r.email: r.headers for r in recipients}  # type: ignore[attr-defined]
            message.merge_metadata = {r.email: r.metadata for r in recipients}  # type: ignore[attr-defined]
            if self.idempotency_header:
                message.esp_extra = {"headers": {self.idempotency_header: key}}  # type: ignore[attr-defined]
            return [message]
        messages = []
        for r in recipients:
            message = _message(
                _merge(rendered.subject, r.merge, self.merge_tag),
                _merge(rendered.text, r.merge, self.merge_tag),
                _merge(rendered.html, r.merge, self.merge_tag),
                [r.email],
            )
            message.extra_headers.update(r.headers)
            message.metadata = r.metadata  # type: ignore[attr-defined]
            messages.append(message)
        return messages

    def deliver(self, messages: list[EmailMultiAlternatives]) -> None:
        """Send over one connection, opened once for the whole batch."""
        connection = get_connection()
        connection.open()
        try:
            connection.send_messages(messages)
        finally:
            connection.close()


def _message(subject: str, text: str, html: str, to: list[str]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    message.attach_alternative(html, "text/html")
    return message


def _merge(template: str, values: dict[str, str], tag: Callable[[str], str]) -> str:
    for key in MERGE_KEYS:
        template = template.replace(tag(key), values.get(key, ""))
    return template


STRATEGIES: dict[str, ProviderStrategy] = {
    "outbox": ProviderStrategy("outbox", mailgun_tag, batch=True),
    "mailgun": ProviderStrategy("mailgun", mailgun_tag, batch=True),
    "brevo": ProviderStrategy("brevo", brevo_tag, batch=True, idempotency_header="Idempotency-Key"),
    "postmark": ProviderStrategy("postmark", mailgun_tag, batch=False),
    "amazon_ses": ProviderStrategy("amazon_ses", mailgun_tag, batch=False),
    "resend": ProviderStrategy("resend", mailgun_tag, batch=False),
    "smtp": ProviderStrategy("smtp", mailgun_tag, batch=False),
    "console": ProviderStrategy("console", mailgun_tag, batch=False),
}


def strategy_for(provider: str | None = None) -> ProviderStrategy:
    """The strategy for ``provider`` (default settings.EMAIL_PROVIDER)."""
    from django.core.exceptions import ImproperlyConfigured

    name = provider or settings.EMAIL_PROVIDER
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ImproperlyConfigured(f"Unknown mail provider {name!r}.") from None


def provider_check() -> None:
    """Build the configured backend; raises ImproperlyConfigured/AnymailConfigurationError when misconfigured."""
    strategy_for()
    get_connection()
