"""What each reader's copy of a send carries: the issue rendered once per send, and each
reader's merge values, links, List-Unsubscribe and Message-ID."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.core.cache import cache

from core.mail import ONE_CLICK_POST, list_id_header, list_unsubscribe, sender_domain
from core.merge import FieldTags, field_tags_place, field_values
from delivery import firstparty
from delivery.claims import Row
from delivery.models import Send, TrackedLink
from delivery.providers import ProviderStrategy, Recipient
from issues.models import Issue
from issues.rendering import RenderedEmail, render_email
from subscribers.links import ReaderLinks
from subscribers.models import CustomField, Subscriber

# Merge values of idempotent providers are kept so that a retry sends the same request.
MERGE_CACHE_SECONDS = 24 * 3600


def message_id(*, send_id: int, delivery_id: int, domain: str) -> str:
    """The reader's Message-ID: the same for every attempt at the same delivery."""
    return f"<d{delivery_id}.s{send_id}@{domain}>"


def reader_values(
    rows: list[Row], *, links: ReaderLinks, tags: FieldTags, attributes: dict[int, dict[str, Any]]
) -> dict[int, dict[str, str]]:
    """Each reader's merge values and links (no database): name, unsubscribe, one-click and
    preferences links, and the values of the email's ``{{ field|fallback }}`` tags."""
    values = {}
    for r in rows:
        own = {"name": r.name, **attributes.get(r.subscriber_id or 0, {})}
        values[r.delivery_id] = {
            "name": r.name,
            **links.links(subscriber_id=r.subscriber_id or 0, email=r.email),
            **field_values(tags, own),
        }
    return values


def _merge_values(send: Any, rows: list[Row], *, keep: bool, merge_tag: Any) -> dict[int, dict[str, str]]:
    """Per-reader merge values and links; kept in the cache when a retry must repeat them exactly."""
    cache_key = f"delivery:merge:{send.pk}:" + "{}"
    found: dict[int, dict[str, str]] = {}
    if keep:
        stored = cache.get_many([cache_key.format(r.delivery_id) for r in rows])
        found = {int(k.rsplit(":", 1)[1]): v for k, v in stored.items()}
    # Only when fields exist: {{ key|fallback }} text is left alone in an installation without them.
    tags = field_tags_for(send, merge_tag) if CustomField.objects.exists() else {}
    missing = [r for r in rows if r.delivery_id not in found]
    attributes = _attributes_of([r.subscriber_id for r in missing if r.subscriber_id]) if tags else {}
    fresh = reader_values(missing, links=ReaderLinks(), tags=tags, attributes=attributes) if missing else {}
    if keep and fresh:
        cache.set_many({cache_key.format(pk): v for pk, v in fresh.items()}, MERGE_CACHE_SECONDS)
    return found | fresh


def recipients_for(send: Any, rows: list[Row], strategy: ProviderStrategy) -> list[Recipient]:
    """Each reader's merge values (name, unsubscribe and preferences links, custom fields,
    tracking tokens), List-Unsubscribe, Message-ID and Delivery id. The issue's web link is the
    same for everyone: see common_headers and rendered_for, which must have run first for a
    tracked send (it stores the send's link table)."""
    values = _merge_values(send, rows, keep=strategy.idempotent, merge_tag=strategy.merge_tag)
    links = TrackedLink.objects.filter(send_id=send.pk).count() if send.track_clicks else 0
    return recipients_from(send, rows, values, links=links, domain=sender_domain())


def recipients_from(
    send: Any, rows: list[Row], values: dict[int, dict[str, str]], *, links: int, domain: str
) -> list[Recipient]:
    """The recipients of ``rows`` from their merge values (reader_values), with ``links`` click
    tokens each when the send tracks clicks; no database."""
    tokens = firstparty.ReaderTokens() if send.track_clicks or send.track_opens else None
    recipients = []
    for r in rows:
        v = values[r.delivery_id]
        merge = {
            "name": v["name"],
            "unsubscribe_url": v["unsubscribe_url"],
            "preferences_url": v["preferences_url"],
            # The issue's {{ field|fallback }} tags: the reader's own values (core.merge).
            **{key: value for key, value in v.items() if key.startswith("cf_")},
        }
        if tokens is not None:
            merge.update(tokens.tokens(send=send, delivery_id=r.delivery_id, links=links))
        recipients.append(
            Recipient(
                delivery_id=r.delivery_id,
                email=r.email,
                merge=merge,
                headers={
                    **list_unsubscribe(v["one_click_url"]),
                    "Message-ID": message_id(send_id=send.pk, delivery_id=r.delivery_id, domain=domain),
                },
                metadata={"delivery_id": str(r.delivery_id)},
            )
        )
    return recipients


def common_headers() -> dict[str, str]:
    """Headers every reader's copy carries alike: RFC 8058 one-click unsubscribe and the List-Id."""
    return {**ONE_CLICK_POST, **list_id_header()}


def common_metadata(send_id: int) -> dict[str, str]:
    return {"send_id": str(send_id)}


def _rendered_and_tags(send: Send, merge_tag: Any) -> tuple[RenderedEmail, FieldTags]:
    key = f"delivery:rendered:{send.pk}:{getattr(merge_tag, '__name__', 'tag')}"
    cached = cache.get(key)
    if cached is None:
        rendered = issue_rendered(send.issue, merge_tag)
        tags: FieldTags = {}
        rendered = dataclasses.replace(
            rendered,
            subject=field_tags_place(rendered.subject, tag=merge_tag, found=tags),
            html=field_tags_place(rendered.html, tag=merge_tag, found=tags),
            text=field_tags_place(rendered.text, tag=merge_tag, found=tags),
        )
        if send.track_clicks or send.track_opens:
            # Rewritten once per send: per reader only the tokens are merged (recipients_for).
            html, _ = firstparty.rewrite_html(send=send, html_body=rendered.html, merge_tag=merge_tag)
            rendered = dataclasses.replace(rendered, html=html)
        cached = (rendered, tags)
        cache.set(key, cached, 6 * 3600)
    return cached


def rendered_for(send: Send, merge_tag: Any) -> RenderedEmail:
    """The issue rendered once per send (cached in Django's cache), its web link filled in, each
    ``{{ field|fallback }}`` turned into a merge tag of its own, and its links and open pixel
    rewritten for first-party tracking when the send has it. The plain text keeps the links as
    they are: a reader of plain text sees where each one goes.

    The web link is the same for every reader, so it is not sent as a merge value."""
    return _rendered_and_tags(send, merge_tag)[0]


def field_tags_for(send: Send, merge_tag: Any) -> FieldTags:
    """The custom-field tags of the send's email: merge key -> (field key, fallback)."""
    return _rendered_and_tags(send, merge_tag)[1]


def _attributes_of(subscriber_ids: list[int]) -> dict[int, dict[str, Any]]:
    return dict(Subscriber.objects.filter(pk__in=subscriber_ids).values_list("pk", "attributes"))


def issue_rendered(issue: Issue, merge_tag: Any) -> RenderedEmail:
    """``issue`` rendered for sending: every merge tag left for the provider but the web link."""
    rendered = render_email(issue, merge_tag=merge_tag)
    tag, url = merge_tag("web_url"), settings.SITE_URL.rstrip("/") + issue.get_absolute_url()
    return dataclasses.replace(
        rendered,
        subject=rendered.subject.replace(tag, url),
        html=rendered.html.replace(tag, url),
        text=rendered.text.replace(tag, url),
    )
