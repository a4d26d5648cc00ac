"""First-party tracking: the email's links rewritten per reader to signed redirects on our
site, the redirect recording the click, tampering refused, scanners kept apart, the pixel
counted once, and each open and click counted from one source per send."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent, EventType
from django.test import Client

from core.models import OutboxMessage
from delivery import analytics, firstparty, pipeline, services
from delivery.models import Delivery, Event, Send, TrackedLink, Uncounted
from delivery.tracking import event_record
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

pytestmark = pytest.mark.django_db

SITE = "https://news.example.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"
CLICK = re.compile(r'href="(https://news\.example\.com/t/c/([^"/]+)/)"')
PIXEL = re.compile(r'src="https://news\.example\.com(/t/o/[^"]+\.gif)"')


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE
    # The dev outbox: each reader's copy stored as they would receive it (pytest-django uses locmem).
    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
    # These readers click the moment their copy is stored; delivery.machine would call a click that
    # soon a link scanner's (its timing rule is tested in test_machine_opens.py).
    settings.MACHINE_OPEN_SECONDS = 0


def sent(readers: int = 2, *, opens: bool = False, capture: Any) -> Send:
    """A tracked send of the reference issue, sent through the dev outbox."""
    daily = MailingListFactory.create(name="Daily")
    for _ in range(readers):
        SubscriberFactory.create(lists=[daily])
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(
        issue=issue,
        lists=[daily],
        segment=None,
        at=None,
        acting_user=make_editor(),
        track_clicks=True,
        track_opens=opens,
    )
    with capture(execute=True):
        pipeline.sends_start_due()
    send.refresh_from_db()
    return send


def copy_of(delivery: Delivery) -> OutboxMessage:
    return OutboxMessage.objects.get(to=delivery.email)


def visit(path: str, *, agent: str = BROWSER, method: str = "get") -> Any:
    return getattr(Client(), method)(path.removeprefix(SITE), headers={"user-agent": agent})


def test_each_readers_links_are_signed_redirects_to_the_issue_links(
    celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send = sent(capture=django_capture_on_commit_callbacks)
    first, second = Delivery.objects.filter(send=send).order_by("pk")
    html_a, html_b = copy_of(first).html_body, copy_of(second).html_body
    tokens_a = [m[1] for m in CLICK.finditer(html_a)]
    tokens_b = [m[1] for m in CLICK.finditer(html_b)]
    links = dict(TrackedLink.objects.filter(send=send).values_list("url", "index"))
    assert "https://example.com/story-1" in links
    # Every link of the issue, each reader's tokens their own; no original URL left in an href.
    assert len(tokens_a) == len(tokens_b) >= len(links)
    assert not set(tokens_a) & set(tokens_b)
    assert 'href="https://example.com/story-1"' not in html_a
    # The plain text keeps the real addresses, and the reader's own links stay theirs.
    assert "https://example.com/story-1" in copy_of(first).text_body
    assert "/unsubscribe/" in html_a


def test_a_click_redirects_and_shows_in_the_sends_analytics(
    celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send = sent(capture=django_capture_on_commit_callbacks)
    reader = Delivery.objects.filter(send=send).order_by("pk").first()
    assert reader is not None
    story = TrackedLink.objects.get(send=send, url="https://example.com/story-1").index
    url = next(m[1] for m in CLICK.finditer(copy_of(reader).html_body) if m[2].split(".")[0].endswith(f"-{story}"))

    response = visit(url)

    assert response.status_code == 302
    assert response["Location"] == "https://example.com/story-1"
    assert "no-cache" in response["Cache-Control"]
    reader.refresh_from_db()
    assert reader.clicked_at is not None and reader.opened_at is not None
    event = Event.objects.get(delivery=reader)
    assert (event.esp_name, event.event_type, event.url, event.uncounted) == (
        "newsroom",
        "clicked",
        "https://example.com/story-1",
        "",
    )
    figures = {f.key: f.count for f in analytics.send_figures(sends=Send.objects.filter(pk=send.pk))}
    assert figures["clicked"] == 1
    assert analytics.top_links(sends=Send.objects.filter(pk=send.pk))[0]["url"] == "https://example.com/story-1"
    # A second click is another click, the same unique reader.
    visit(url)
    assert Event.objects.filter(delivery=reader, event_type="clicked").count() == 2


@pytest.mark.parametrize("change", ["signature", "index", "reader", "garbage"])
def test_a_tampered_token_is_404_and_stores_nothing(
    change: str, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send = sent(capture=django_capture_on_commit_callbacks)
    reader = Delivery.objects.filter(send=send).order_by("pk").first()
    assert reader is not None
    token = CLICK.search(copy_of(reader).html_body)[2]  # type: ignore[index]
    value, signature = token.rsplit(".", 1)
    s, d, i = value.split("-")
    signer = firstparty.TrackingSigner(salt=firstparty.CLICK_SALT)
    forged = {
        "signature": f"{value}.{'A' * len(signature)}",
        # Correctly signed, but naming a link the issue does not have, or a delivery of no send.
        "index": signer.sign(f"{s}-{d}-{firstparty._b62(999)}"),
        "reader": signer.sign(f"{s}-{firstparty._b62(10**9)}-{i}"),
        "garbage": "not-a-token",
    }[change]

    assert visit(f"/t/c/{forged}/").status_code == 404
    assert not Event.objects.exists()


def test_head_requests_and_scanners_are_stored_apart(
    celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send = sent(capture=django_capture_on_commit_callbacks)
    reader = Delivery.objects.filter(send=send).order_by("pk").first()
    assert reader is not None
    url = CLICK.search(copy_of(reader).html_body)[1]  # type: ignore[index]

    assert visit(url, method="head").status_code == 302
    assert visit(url, agent="Mozilla/5.0 (compatible; Barracuda Sentinel)").status_code == 302

    reader.refresh_from_db()
    assert reader.clicked_at is None
    assert list(Event.objects.values_list("uncounted", flat=True)) == [Uncounted.SCANNER] * 2
    figures = {f.key: f.count for f in analytics.send_figures(sends=Send.objects.filter(pk=send.pk))}
    assert figures["clicked"] == 0
    assert analytics.top_links(sends=Send.objects.filter(pk=send.pk)) == []


def test_the_open_pixel_counts_once_and_a_replayed_or_forged_one_is_404(
    celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send = sent(opens=True, capture=django_capture_on_commit_callbacks)
    reader = Delivery.objects.filter(send=send).order_by("pk").first()
    assert reader is not None
    pixel = PIXEL.search(copy_of(reader).html_body)[1]  # type: ignore[index]

    first, replay = visit(pixel), visit(pixel)

    assert (first.status_code, replay.status_code) == (200, 404)
    assert first["Content-Type"] == "image/gif" and first.content == firstparty.PIXEL_GIF
    assert Event.objects.filter(event_type="opened").count() == 1
    reader.refresh_from_db()
    assert reader.opened_at is not None
    assert visit(pixel.replace(".gif", "x.gif")).status_code == 404
    assert Event.objects.count() == 1


def test_no_pixel_unless_the_send_asks_for_one(celery_eager: None, django_capture_on_commit_callbacks: Any) -> None:
    send = sent(capture=django_capture_on_commit_callbacks)
    assert not PIXEL.search(copy_of(Delivery.objects.filter(send=send).first()).html_body)  # type: ignore[arg-type]


def provider_event(delivery: Delivery, kind: str) -> AnymailTrackingEvent:
    return AnymailTrackingEvent(
        event_type=kind,
        timestamp=datetime.datetime.now(datetime.UTC),
        event_id=f"{kind}-{delivery.pk}",
        recipient=delivery.email,
        click_url="https://example.com/story-1",
        metadata={"delivery_id": str(delivery.pk)},
        esp_event={},
    )


def test_each_kind_is_counted_from_one_source_per_send(
    celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    send = sent(capture=django_capture_on_commit_callbacks)  # first-party clicks, provider opens
    reader = Delivery.objects.filter(send=send).order_by("pk").first()
    assert reader is not None

    event_record(event=provider_event(reader, EventType.CLICKED), esp_name="Mailgun")
    reader.refresh_from_db()
    assert reader.clicked_at is None  # the provider's click is kept, not counted
    assert Event.objects.get(event_type="clicked").uncounted == Uncounted.OTHER_SOURCE

    event_record(event=provider_event(reader, EventType.OPENED), esp_name="Mailgun")
    reader.refresh_from_db()
    assert reader.opened_at is not None  # no pixel on this send: the provider's opens count
    assert Event.objects.get(event_type="opened").uncounted == ""


def test_an_untracked_send_keeps_the_issue_links(celery_eager: None, django_capture_on_commit_callbacks: Any) -> None:
    daily = MailingListFactory.create(name="Daily")
    SubscriberFactory.create(lists=[daily])
    issue = make_full_issue(status=IssueStatus.APPROVED)
    services.send_create(
        issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor(), track_clicks=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sends_start_due()
    html = OutboxMessage.objects.get().html_body
    assert 'href="https://example.com/story-1"' in html
    assert not CLICK.search(html) and not TrackedLink.objects.exists()
