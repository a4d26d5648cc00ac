from __future__ import annotations

import datetime
import json
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from delivery.models import Delivery
from subscribers.links import links_for
from subscribers.models import Consent, ImportJob, Subscriber, SubscriberStatus, Suppression, email_hash
from subscribers.selectors import is_suppressed
from testing.factories import MailingListFactory, SendFactory, make_confirmed_reader

pytestmark = pytest.mark.django_db


def prefs(reader: Subscriber) -> str:
    return urlsplit(links_for(subscriber_id=reader.pk, email=reader.email)["preferences_url"]).path


def test_a_reader_changes_name_lists_and_pause(client: Client) -> None:
    daily, weekly = MailingListFactory(name="Daily"), MailingListFactory(name="Weekly")
    reader = make_confirmed_reader(lists=[daily])
    page = client.get(prefs(reader))
    assert page.status_code == 200 and reader.email in page.content.decode()
    until = timezone.localdate() + datetime.timedelta(days=14)
    response = client.post(
        prefs(reader), {"action": "save", "name": "New Name", "lists": [weekly.pk], "paused_until": until.isoformat()}
    )
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.name == "New Name" and list(reader.lists.all()) == [weekly] and reader.paused_until == until
    assert reader.consents.filter(action=Consent.Action.UPDATE).exists()
    assert "Your preferences are saved." in client.get(prefs(reader)).content.decode()


def test_a_pause_in_the_past_and_a_name_with_line_breaks_are_refused(client: Client) -> None:
    reader = make_confirmed_reader(name="Kept")
    response = client.post(prefs(reader), {"action": "save", "name": "A\nB", "paused_until": "2000-01-01"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Choose a date in the future." in text and "cannot contain line breaks" in text
    reader.refresh_from_db()
    assert reader.name == "Kept"


def test_unsubscribe_from_the_preferences_page(client: Client) -> None:
    reader = make_confirmed_reader()
    client.post(prefs(reader), {"action": "unsubscribe"})
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED


def test_download_my_data_holds_the_reader_lists_consents_and_deliveries(client: Client) -> None:
    daily = MailingListFactory(name="Daily")
    reader = make_confirmed_reader(email="me@example.org", lists=[daily])
    Consent.objects.create(subscriber=reader, action=Consent.Action.SUBSCRIBE, ip="192.0.2.1", text="words")
    Delivery.objects.create(send=SendFactory.create(), subscriber=reader, email=reader.email)
    response = client.get(prefs(reader) + "data.json")
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["subscriber"]["email"] == "me@example.org"
    assert data["lists"] == ["Daily"]
    assert data["consents"][0]["ip"] == "192.0.2.1"
    assert len(data["deliveries"]) == 1


def test_erase_asks_first_then_keeps_only_the_hash(client: Client) -> None:
    reader = make_confirmed_reader(email="forget@example.org")
    delivery = Delivery.objects.create(send=SendFactory.create(), subscriber=reader, email=reader.email)
    job = ImportJob.objects.create(
        filename="old.csv",
        report=[{"line": 2, "email": "FORGET@example.org", "outcome": "rejected", "reason": "Duplicate"}],
    )
    url = prefs(reader) + "erase/"
    assert "Erase everything" in client.get(url).content.decode()
    assert Subscriber.objects.filter(pk=reader.pk).exists()
    response = client.post(url, {"confirm": "erase"})
    assert "Your data is erased" in response.content.decode()
    assert not Subscriber.objects.filter(pk=reader.pk).exists()
    assert not Consent.objects.exists()
    suppression = Suppression.objects.get()
    assert suppression.email == "" and suppression.email_hash == email_hash("forget@example.org")
    assert suppression.reason == Suppression.Reason.ERASED
    delivery.refresh_from_db()
    assert delivery.email == "" and delivery.subscriber_id is None
    assert is_suppressed("Forget@Example.org")
    job.refresh_from_db()
    assert job.report[0]["email"] == "(erased)"
    assert client.get(prefs(reader)).status_code == 400


def test_a_bounced_reader_cannot_resubscribe_from_the_page(client: Client) -> None:
    reader = make_confirmed_reader()
    Subscriber.objects.filter(pk=reader.pk).update(status=SubscriberStatus.BOUNCED)
    page = client.get(prefs(reader)).content.decode()
    assert "cannot reach this address" in page and 'value="resubscribe"' not in page
    client.post(prefs(reader), {"action": "resubscribe"})
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.BOUNCED


def test_erasure_also_removes_the_address_from_the_admin_history(client: Client, editor: object) -> None:
    reader = make_confirmed_reader(email="history@example.org")
    kind = ContentType.objects.get_for_model(Subscriber)
    LogEntry.objects.create(
        user=editor,  # type: ignore[misc]
        content_type=kind,
        object_id=str(reader.pk),
        object_repr="history@example.org",
        action_flag=CHANGE,
        change_message="Changed name for history@example.org",
    )
    client.post(prefs(reader) + "erase/", {"confirm": "erase"})
    entry = LogEntry.objects.get()
    assert entry.object_repr == "(erased reader)" and "history@example.org" not in entry.change_message


def test_the_reader_sees_their_idn_address_in_unicode(client: Client) -> None:
    reader = make_confirmed_reader(email="leser@xn--bcher-kva.example")
    page = client.get(prefs(reader)).content.decode()
    assert "leser@bücher.example" in page and "xn--" not in page


def test_a_crafted_post_cannot_join_a_private_list_and_is_told(client: Client) -> None:
    staff = MailingListFactory(name="Staff only", public=False)
    reader = make_confirmed_reader()
    response = client.post(prefs(reader), {"action": "save", "name": "", "lists": [staff.pk]})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not reader.lists.exists()


def test_every_aria_describedby_on_the_preferences_page_names_an_element_on_it(client: Client) -> None:
    html = client.get(prefs(make_confirmed_reader())).content.decode()
    described = re.findall(r'aria-describedby="([^"]+)"', html)
    assert described, "the pause field should point at its help text"
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    for reference in " ".join(described).split():
        assert reference in ids, f"aria-describedby names {reference!r}, which no element has as its id"
    assert re.search(r'<[^>]+id="id_paused_until_helptext"[^>]*>Leave empty to keep receiving issues\.<', html)
