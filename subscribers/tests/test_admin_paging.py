"""The readers' list says when its count is capped and counts exactly below the cap (core/paging.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.paging import LargeTablePaginator
from subscribers.models import Subscriber, SubscriberStatus
from testing import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_and_readers() -> Client:
    Subscriber.objects.bulk_create(
        Subscriber(email=f"r{n}@example.org", status=SubscriberStatus.ACTIVE if n < 8 else SubscriberStatus.PENDING)
        for n in range(10)
    )
    client = Client()
    client.force_login(factories.make_editor())
    return client


def _count_text(html: str) -> str:
    start = html.index('class="result-count"')
    return " ".join(html[start : html.index("</span>", start)].split(">", 1)[1].split())


def test_a_filter_matching_more_than_the_cap_says_more_than(client_and_readers: Client, monkeypatch: Any) -> None:
    monkeypatch.setattr(LargeTablePaginator, "cap", 5)
    html = client_and_readers.get("/admin/subscribers/subscriber/?status__exact=active").content.decode()
    assert _count_text(html) == "More than 5 subscribers"
    assert "Select all matching readers (more than 5)" in html


def test_below_the_cap_and_the_estimate_the_count_is_exact(client_and_readers: Client) -> None:
    html = client_and_readers.get("/admin/subscribers/subscriber/?status__exact=active").content.decode()
    assert _count_text(html) == "8 subscribers"
    assert _count_text(client_and_readers.get("/admin/subscribers/subscriber/").content.decode()) == "10 subscribers"


def test_select_all_of_a_capped_list_acts_on_every_match(client_and_readers: Client, monkeypatch: Any) -> None:
    monkeypatch.setattr(LargeTablePaginator, "cap", 5)
    url = "/admin/subscribers/subscriber/?status__exact=active"
    response = client_and_readers.post(
        url,
        {"action": "export_csv", "select_across": "1", "index": "0", "_selected_action": ["1"]},
    )
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert len(body.strip().splitlines()) == 1 + 8
