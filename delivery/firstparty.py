"""First-party tracking: signed click redirects and an open pixel on our own site.

Works with every provider, SMTP and the dev outbox, because the email itself
carries the tracking: each link of the issue is rewritten, once per send, to
``SITE_URL/t/c/<token>/`` with the token left as a merge tag (``t0``, ``t1``, ...),
and the pixel to ``SITE_URL/t/o/<token>.gif``. Per reader only the tokens are
signed and merged, so the rewrite costs one HMAC per link per reader.

A click token names (send, delivery, link index) and is signed with a salt of
its own: it never carries a URL. The index points into the send's
:class:`TrackedLink` table, which holds only the links found in the issue, so
the redirect is never open, and a tampered token or an index that is not in
the table is a 404 with nothing stored.

The events go through delivery.tracking.event_record as ``esp_name`` "newsroom",
so they have the same effects as a provider's (the reader's engagement, the
Delivery's opened/clicked times). HEAD requests and known link scanners are
stored with ``uncounted="scanner"``; a replayed pixel finds its open already
stored and stores nothing.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from dataclasses import dataclass

from anymail.signals import AnymailTrackingEvent, EventType
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes

from core.merge import MergeTag
from delivery.models import Delivery, Event, Send, TrackedLink, Uncounted

ESP_NAME = "newsroom"
CLICK_SALT = "delivery.track.click"
OPEN_SALT = "delivery.track.open"
# 12 bytes, 16 characters of base64: 96 bits, plenty for a link nobody may forge.
SIGNATURE_BYTES = 12
OPEN_KEY = "o"
# Links worth tracking: absolute http(s) links in an <a> tag. Merge-tag links (unsubscribe,
# preferences) start with the tag, not with http, and stay as they are.
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")(https?://[^"]+)(")', re.IGNORECASE)
_PIXEL_AT = re.compile(r"</body>", re.IGNORECASE)
# User agents of mail security gateways and scripts that follow every link in a message.
# Substrings, matched case-insensitively; a missing user agent counts as a scanner too.
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "symantec",
    "messagelabs",
    "forcepoint",
    "sophos",
    "trendmicro",
    "trend micro",
    "fortiguard",
    "cisco",
    "ironport",
    "bitdefender",
    "safelinks",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "curl/",
    "wget/",
    "libwww",
    "httpclient",
    "bot",
    "crawler",
    "spider",
)
# The smallest transparent GIF.
PIXEL_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


class InvalidTrackingToken(Exception):
    """The token is malformed, tampered with, or names no link or reader of the send."""


class TrackingSigner(signing.Signer):
    """Django's Signer with its key derived once and a short, fast signature.

    Tokens go into every link of every email, one per link per reader, so the
    signature is keyed BLAKE2b (a MAC in its own right, several times cheaper than
    HMAC-SHA256 here) cut to 12 bytes, 16 characters. Fallback keys
    (SECRET_KEY_FALLBACKS) still verify, through Signer.unsign."""

    def __init__(self, *, salt: str) -> None:
        super().__init__(salt=salt, sep=".", algorithm="sha256")
        self._derived = self._derive(self.key)

    def _derive(self, key: str | bytes) -> bytes:
        return hashlib.sha256(force_bytes(self.salt) + b"signer" + force_bytes(key)).digest()

    def signature(self, value: str | bytes, key: str | bytes | None = None) -> str:
        derived = self._derived if key is None or key == self.key else self._derive(key)
        return _mac(derived, force_bytes(value))


def _mac(key: bytes, value: bytes) -> str:
    digest = hashlib.blake2b(value, key=key, digest_size=SIGNATURE_BYTES).digest()
    return signing.b64_encode(digest).decode()


def _b62(n: int) -> str:
    return signing.b62_encode(n)


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def link_key(index: int) -> str:
    """The merge key of link ``index``'s token."""
    return f"t{index}"


# --- once per send: the email with placeholders -------------------------------------


def send_links(*, send: Send, urls: list[str]) -> dict[str, int]:
    """The send's link table, URL -> index, with the given URLs added if new.

    Links already stored keep their index (the issue may be rendered again, by a
    second worker or after the cache expired); concurrent workers insert the same
    rows and the unique constraint keeps one."""
    with transaction.atomic():
        known = dict(TrackedLink.objects.filter(send=send).values_list("url", "index"))
        new = [u for u in dict.fromkeys(urls) if u not in known]
        if new:
            start = max(known.values(), default=-1) + 1
            rows = [TrackedLink(send=send, index=start + n, url=u) for n, u in enumerate(new)]
            TrackedLink.objects.bulk_create(rows, ignore_conflicts=True)
            known = dict(TrackedLink.objects.filter(send=send).values_list("url", "index"))
    return known


def rewrite_html(*, send: Send, html_body: str, merge_tag: MergeTag) -> tuple[str, int]:
    """The email HTML with each tracked link and the pixel as placeholders; returns it
    and how many link tokens a reader needs (0 when the send tracks no click)."""
    links = 0
    if send.track_clicks:
        urls = [html.unescape(m.group(2)) for m in _HREF.finditer(html_body)]
        table = send_links(send=send, urls=[u for u in urls if len(u) <= 2000])
        prefix = _site(reverse("delivery:track_click", kwargs={"token": "TOKEN"})).partition("TOKEN")

        def replace(match: re.Match[str]) -> str:
            index = table.get(html.unescape(match.group(2)))
            if index is None:
                return match.group(0)
            return f"{match.group(1)}{prefix[0]}{merge_tag(link_key(index))}{prefix[2]}{match.group(3)}"

        html_body = _HREF.sub(replace, html_body)
        links = max(table.values(), default=-1) + 1
    if send.track_opens:
        shape = _site(reverse("delivery:track_open", kwargs={"token": "TOKEN"})).partition("TOKEN")
        pixel = (
            f'<img src="{shape[0]}{merge_tag(OPEN_KEY)}{shape[2]}" width="1" height="1" alt="" '
            'style="display:block;width:1px;height:1px;border:0" aria-hidden="true">'
        )
        html_body, found = _PIXEL_AT.subn(pixel + "</body>", html_body, count=1)
        if not found:
            html_body += pixel
    return html_body, links


# --- per reader: the tokens -----------------------------------------------------------


class ReaderTokens:
    """Signs each reader's tokens for one batch: the signers are made once."""

    def __init__(self) -> None:
        self.click = TrackingSigner(salt=CLICK_SALT)
        self.open = TrackingSigner(salt=OPEN_SALT)
        self._links: list[tuple[str, str]] = []

    def _sign(self, signer: TrackingSigner, value: str) -> str:
        # TrackingSigner.sign's token, without Signer.sign's per-call overhead.
        return f"{value}.{_mac(signer._derived, value.encode())}"

    def tokens(self, *, send: Send, delivery_id: int, links: int) -> dict[str, str]:
        """Merge values: ``t<i>`` for each of ``links`` links, and ``o`` when the send tracks opens."""
        if len(self._links) != links:
            self._links = [(link_key(i), f"-{_b62(i)}") for i in range(links)]
        stem = f"{_b62(send.pk)}-{_b62(delivery_id)}"
        values = {key: self._sign(self.click, stem + suffix) for key, suffix in self._links}
        if send.track_opens:
            values[OPEN_KEY] = self._sign(self.open, stem)
        return values


def _parse(token: str, *, salt: str, parts: int) -> list[int]:
    try:
        value = TrackingSigner(salt=salt).unsign(token)
        numbers = [signing.b62_decode(p) for p in value.split("-")]
    except (signing.BadSignature, ValueError):
        raise InvalidTrackingToken("This link is not valid.") from None
    if len(numbers) != parts or any(n < 0 for n in numbers):
        raise InvalidTrackingToken("This link is not valid.")
    return numbers


# --- recording --------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """What the request told us: its method and user agent."""

    method: str
    user_agent: str

    @property
    def scanner(self) -> bool:
        if self.method == "HEAD" or not self.user_agent.strip():
            return True
        agent = self.user_agent.lower()
        return any(name in agent for name in SCANNER_AGENTS)


def _delivery(send_id: int, delivery_id: int) -> Delivery:
    delivery = Delivery.objects.filter(pk=delivery_id, send_id=send_id).only("pk", "email", "send_id").first()
    if delivery is None:
        raise InvalidTrackingToken("This link names no reader of the send.")
    return delivery


def _event(*, kind: str, delivery: Delivery, visit: Visit, event_id: str, url: str = "") -> AnymailTrackingEvent:
    return AnymailTrackingEvent(
        event_type=kind,
        timestamp=timezone.now(),
        event_id=event_id,
        recipient=delivery.email,
        click_url=url or None,
        user_agent=visit.user_agent,
        metadata={"delivery_id": str(delivery.pk)},
        esp_event={"source": ESP_NAME, "method": visit.method},
    )


def click_record(*, token: str, visit: Visit) -> str:
    """Store the click of a signed link and return where it goes (the issue's own URL).

    Raises InvalidTrackingToken (the view's 404) for a bad token, a link index the
    send does not have, or a reader the send does not have."""
    from delivery.tracking import event_record

    send_id, delivery_id, index = _parse(token, salt=CLICK_SALT, parts=3)
    url = TrackedLink.objects.filter(send_id=send_id, index=index).values_list("url", flat=True).first()
    if url is None:
        raise InvalidTrackingToken("This link is not in the issue.")
    delivery = _delivery(send_id, delivery_id)
    event = _event(kind=EventType.CLICKED, delivery=delivery, visit=visit, event_id=uuid.uuid4().hex, url=url)
    event_record(event=event, esp_name=ESP_NAME, uncounted=Uncounted.SCANNER if visit.scanner else "")
    return url


def open_record(*, token: str, visit: Visit) -> Event | None:
    """Store the reader's open, once: a replayed pixel stores nothing (returns None).

    A scanner's fetch is stored apart and does not use up the reader's own open."""
    from delivery.tracking import event_record

    send_id, delivery_id = _parse(token, salt=OPEN_SALT, parts=2)
    delivery = _delivery(send_id, delivery_id)
    once = f"open-{delivery.pk}" if not visit.scanner else uuid.uuid4().hex
    event = _event(kind=EventType.OPENED, delivery=delivery, visit=visit, event_id=once)
    return event_record(event=event, esp_name=ESP_NAME, uncounted=Uncounted.SCANNER if visit.scanner else "")
