"""Provider strategies: how one batch of readers becomes anymail messages.

A strategy knows the provider's merge-tag syntax, whether the provider takes one
message with many recipients and per-recipient ``merge_data`` (one API call per
batch) or needs one message per reader, and how to give the provider an
idempotency key, if it accepts one.

Which providers batch, as anymail 15 implements them:

- Mailgun, Brevo, SendGrid, SparkPost, Mailjet and Unisender Go take
  ``merge_data`` substitutions and per-reader headers in an ordinary message
  (each in its own merge syntax, below). Mandrill merges values but not headers,
  so it sends one message per reader.
- Postmark and Amazon SES substitute only into templates stored at the
  provider, and Resend's batch endpoint takes no ``merge_data`` at all
  (anymail raises ``AnymailUnsupportedFeature``). The email carries per-reader
  links in its body, so each reader gets a message merged here; Postmark and
  Resend take the batch's messages in one request (``messages_per_call``, see
  delivery.backends), Amazon SES one message per reader over one connection.
- MailerSend, Postal, Scaleway and Mailtrap send one message per reader, merged
  here. anymail gives none of them per-reader headers with ``merge_data`` in one
  call: MailerSend's backend takes ``merge_data`` but no ``merge_headers`` (and its
  one-call paths either show every reader the whole To list or answer with no
  message ids); Postal's and Scaleway's backends take no ``merge_data`` at all;
  Mailtrap's batch merges ``merge_data`` only into a template stored at Mailtrap.
  MailerSend and Postal keep no metadata (anymail's backends have none), so their
  events find the reader by the message id the send answer gave.
- Django's SMTP backend and the console send one message per reader, over one
  connection (SMTP's commands pipelined where the server allows: delivery/backends.py).
"""

from __future__ import annotations

import copy
import functools
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.html import escape

from core.merge import MergeTag, brevo_tag, mailgun_tag, merge, merge_html
from issues.rendering import RenderedEmail

# Brevo wants a UUID for its idempotency key; uuid5 makes one from our own ids.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c2a53-0c57-4f0e-9d55-2d0c3b7a9e41")


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    email: str
    merge: dict[str, str]
    headers: dict[str, str]
    metadata: dict[str, str]


class Idempotency:
    """Where a provider takes an idempotency key (both keep it for a limited time)."""

    NONE = ""
    # Brevo: a UUID in the JSON body's "headers" object, as "idempotencyKey"
    # (developers.brevo.com, "Idempotency for batch emails"; kept 30 minutes).
    BREVO_BODY = "brevo"
    # Resend: the "Idempotency-Key" HTTP request header on POST /emails
    # (resend.com/docs, "Idempotency keys"; kept 24 hours).
    HTTP_HEADER = "http-header"


@dataclass(frozen=True)
class ProviderStrategy:
    """``batch`` True: one anymail call with merge_data for all readers of a batch."""

    name: str
    merge_tag: MergeTag
    batch: bool
    idempotency: str = Idempotency.NONE
    # Not ``batch``, but the backend takes each reader's own message in one request
    # (delivery.backends.MessageBatchBackend: Postmark's and Resend's batch endpoints).
    messages_per_call: bool = False
    # anymail's esp_extra for a batch (the provider's merge syntax, where it has a choice).
    esp_extra: dict[str, Any] = field(default_factory=dict)
    # The per-reader headers the provider can merge in a batch, if not all of them
    # (Unisender Go merges only List-Unsubscribe, and sets its own Message-ID).
    merge_header_names: tuple[str, ...] | None = None
    # The provider's own merge syntax, when it is not ``merge_tag``: the issue is rendered
    # with ``merge_tag`` (Mailgun's %recipient.key%, which nothing else reads as a tag) and
    # turned into this one for the batch. SparkPost's {{{key}}} and Unisender Go's {{key}}
    # would otherwise be read as custom-field tags, {{ field|fallback }}, by core.merge.
    batch_tag: MergeTag | None = None
    # False where anymail's backend has no metadata (MailerSend, Postal): none is set on the
    # message, which anymail would refuse as an unsupported feature.
    metadata: bool = True

    @property
    def idempotent(self) -> bool:
        return bool(self.idempotency)

    def build_batch(
        self,
        rendered: RenderedEmail,
        recipients: list[Recipient],
        *,
        key: str,
        headers: dict[str, str],
        metadata: dict[str, str],
    ) -> EmailMultiAlternatives:
        """One message to every reader of the batch; the provider merges each reader's values.

        ``headers`` and ``metadata`` are the same for every reader, so they are
        sent once rather than in every reader's merge values."""
        html, merge_data = html_merge_fields(rendered.html, recipients, self.merge_tag)
        subject, text = rendered.subject, rendered.text
        if self.batch_tag is not None:
            subject, text, html = (retag(part, self.merge_tag, self.batch_tag) for part in (subject, text, html))
        message = _message(subject, text, html, [r.email for r in recipients])
        message.extra_headers.update(headers)
        message.metadata = metadata  # type: ignore[attr-defined]
        message.merge_data = merge_data  # type: ignore[attr-defined]
        message.merge_headers = {r.email: self._mergeable(r.headers) for r in recipients}  # type: ignore[attr-defined]
        message.merge_metadata = {r.email: r.metadata for r in recipients}  # type: ignore[attr-defined]
        if self.esp_extra:
            message.esp_extra = copy.deepcopy(self.esp_extra)  # type: ignore[attr-defined]
        if self.idempotency == Idempotency.BREVO_BODY:
            message.extra_headers["idempotencyKey"] = batch_idempotency_key(key)
        return message

    def _mergeable(self, headers: dict[str, str]) -> dict[str, str]:
        if self.merge_header_names is None:
            return headers
        return {k: v for k, v in headers.items() if k in self.merge_header_names}

    def build_one(
        self, rendered: RenderedEmail, recipient: Recipient, *, headers: dict[str, str], metadata: dict[str, str]
    ) -> EmailMultiAlternatives:
        """The message of one reader, their values merged here."""
        values = recipient.merge
        message = _message(
            merge(rendered.subject, values, tag=self.merge_tag, keep_unknown=True),
            merge(rendered.text, values, tag=self.merge_tag, keep_unknown=True),
            merge_html(rendered.html, values, tag=self.merge_tag, keep_unknown=True),
            [recipient.email],
        )
        message.extra_headers.update({**headers, **recipient.headers})
        if self.metadata:
            message.metadata = {**metadata, **recipient.metadata}  # type: ignore[attr-defined]
        return message


# The provider fills one variable with the same value in every part. A value that HTML
# would read as markup (a name such as "<a href=...>") goes to the HTML part escaped, under
# a variable of its own: the text part and the subject keep the plain one.
HTML_VARIABLE_SUFFIX = "_html"
# What django.utils.html.escape changes; a value without one of these is the same escaped.
_HTML_SPECIAL = re.compile(r"[&<>\"']")


def html_merge_fields(html: str, recipients: list[Recipient], tag: MergeTag) -> tuple[str, dict[str, dict[str, str]]]:
    """The batch's HTML and each reader's merge values for a provider that merges.

    Only keys whose value changes when escaped, for some reader of the batch, get an
    escaped twin (``name_html``), so a batch of plain names costs nothing more."""
    keys = sorted({k for r in recipients for k, v in r.merge.items() if _HTML_SPECIAL.search(v)})
    values = {r.email: r.merge for r in recipients}
    if not keys:
        return html, values
    for key in keys:
        html = html.replace(tag(key), tag(key + HTML_VARIABLE_SUFFIX))
    for r in recipients:
        values[r.email] = {**r.merge, **{key + HTML_VARIABLE_SUFFIX: str(escape(r.merge.get(key, ""))) for key in keys}}
    return html, values


@functools.cache
def _tag_pattern(tag: MergeTag) -> re.Pattern[str]:
    prefix, _, suffix = tag("KEY").partition("KEY")
    return re.compile(re.escape(prefix) + r"([A-Za-z0-9_]+)" + re.escape(suffix))


def retag(text: str, tag: MergeTag, to: MergeTag) -> str:
    """``text`` with each ``tag(key)`` written ``to(key)``."""
    return _tag_pattern(tag).sub(lambda m: to(m.group(1)), text)


def batch_idempotency_key(key: str) -> str:
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, key))


def message_idempotency_key(*, send_id: int, delivery_id: int) -> str:
    return f"newsroom/send-{send_id}/delivery-{delivery_id}"


def _message(subject: str, text: str, html: str, to: list[str]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    message.attach_alternative(html, "text/html")
    return message


# Each provider's own merge-tag syntax for content sent inline (not a stored template). The
# HTML part gets values already escaped (html_merge_fields), so the provider must insert
# them as they are: SparkPost's triple braces do not escape (double braces would escape
# the HTML part again); SendGrid's substitutions are plain text replacement of whatever
# string we name (anymail's merge_field_format); Mailjet's template language
# (TemplateLanguage on) {{var:key}}; Unisender Go's "simple" engine {{key}}. (Mandrill's
# copies are merged here, one per reader, so it never sees a merge tag of ours.)
def sparkpost_tag(key: str) -> str:
    return "{{{" + key + "}}}"


SENDGRID_MERGE_FIELD_FORMAT = "%recipient.{}%"


def mailjet_tag(key: str) -> str:
    return "{{var:" + key + "}}"


def unisender_go_tag(key: str) -> str:
    return "{{" + key + "}}"


STRATEGIES: dict[str, ProviderStrategy] = {
    "outbox": ProviderStrategy("outbox", mailgun_tag, batch=True),
    "mailgun": ProviderStrategy("mailgun", mailgun_tag, batch=True),
    "brevo": ProviderStrategy("brevo", brevo_tag, batch=True, idempotency=Idempotency.BREVO_BODY),
    "postmark": ProviderStrategy("postmark", mailgun_tag, batch=False, messages_per_call=True),
    "amazon_ses": ProviderStrategy("amazon_ses", mailgun_tag, batch=False),
    "resend": ProviderStrategy(
        "resend", mailgun_tag, batch=False, idempotency=Idempotency.HTTP_HEADER, messages_per_call=True
    ),
    "sendgrid": ProviderStrategy(
        "sendgrid", mailgun_tag, batch=True, esp_extra={"merge_field_format": SENDGRID_MERGE_FIELD_FORMAT}
    ),
    "sparkpost": ProviderStrategy("sparkpost", mailgun_tag, batch=True, batch_tag=sparkpost_tag),
    # Mandrill merges values but not per-recipient headers (anymail: "Mandrill does not support
    # merge_headers"), and each reader needs their own List-Unsubscribe: one message per reader.
    "mandrill": ProviderStrategy("mandrill", mailgun_tag, batch=False),
    "mailjet": ProviderStrategy("mailjet", mailjet_tag, batch=True, esp_extra={"Globals": {"TemplateLanguage": True}}),
    "unisender_go": ProviderStrategy(
        "unisender_go",
        mailgun_tag,
        batch=True,
        batch_tag=unisender_go_tag,
        esp_extra={"template_engine": "simple"},
        merge_header_names=("List-Unsubscribe",),
    ),
    # One message per reader, merged here (see the module's docstring for why each).
    "mailersend": ProviderStrategy("mailersend", mailgun_tag, batch=False, metadata=False),
    "postal": ProviderStrategy("postal", mailgun_tag, batch=False, metadata=False),
    "scaleway": ProviderStrategy("scaleway", mailgun_tag, batch=False),
    "mailtrap": ProviderStrategy("mailtrap", mailgun_tag, batch=False),
    "smtp": ProviderStrategy("smtp", mailgun_tag, batch=False),
    "console": ProviderStrategy("console", mailgun_tag, batch=False),
}


def strategy_for(provider: str | None = None) -> ProviderStrategy:
    """The strategy for ``provider`` (default settings.EMAIL_PROVIDER)."""
    name = provider or settings.EMAIL_PROVIDER
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ImproperlyConfigured(f"Unknown mail provider {name!r}.") from None


def provider_check() -> ProviderStrategy:
    """The configured strategy, after building its backend.

    Raises ImproperlyConfigured (or anymail's AnymailConfigurationError, a
    subclass) when the provider is unknown or its backend lacks a setting, such
    as the API key."""
    strategy = strategy_for()
    get_connection()
    return strategy
