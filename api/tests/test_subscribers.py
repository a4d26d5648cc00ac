"""Readers through the API: list with filters and signed cursors, get, create, change, unsubscribe, erase, export."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from core.events import listen, unlisten
from subscribers.models import Consent, Subscriber, SubscriberStatus, SubscriberTag, Suppression, email_hash
from testing import factories

pytestmark = pytest.mark.django_db


def _readers(count, **kwargs):
    start = timezone.now() - datetime.timedelta(days=count)
    rows = Subscriber.objects.bulk_create(
        [
            Subscriber(email=f"r{n}@example.org", name=f"R {n}", status=SubscriberStatus.ACTIVE, **kwargs)
            for n in range(count)
        ]
    )
    # created_at is auto_now_add: spread them out so the order is known (r0 oldest).
    for n, reader in enumerate(rows):
        Subscriber.objects.filter(pk=reader.pk).update(created_at=start + datetime.timedelta(hours=n))
    return rows


def test_it_pages_through_every_reader_once_newest_first(api):
    _readers(7)
    seen, cursor = [], None
    while True:
        page = api.get("/subscribers", {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [r["email"] for r in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"r{n}@example.org" for n in reversed(range(7))]


def test_filters_narrow_the_list(api, daily):
    readers = _readers(4)
    readers[0].lists.add(daily)
    vip = SubscriberTag.objects.create(name="VIP")
    readers[1].tags.add(vip)
    Subscriber.objects.filter(pk=readers[2].pk).update(status=SubscriberStatus.UNSUBSCRIBED)

    def emails(**params):
        return [r["email"] for r in api.get("/subscribers", params).json()["results"]]

    assert emails(list=daily.pk) == ["r0@example.org"]
    assert emails(tag="vip") == ["r1@example.org"]
    assert emails(status="unsubscribed") == ["r2@example.org"]
    assert emails(email_contains="R3@") == ["r3@example.org"]
    cutoff = Subscriber.objects.get(email="r1@example.org").created_at
    assert emails(created_after=cutoff.isoformat()) == ["r3@example.org", "r2@example.org"]
    assert emails(created_before=cutoff.isoformat()) == ["r0@example.org"]


def test_a_tampered_cursor_is_refused_with_400(api):
    _readers(3)
    cursor = api.get("/subscribers", {"limit": 1}).json()["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    response = api.get("/subscribers", {"limit": 1, "cursor": tampered})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "cursor", "message": response.json()["detail"]}]


def test_a_cursor_made_for_other_filters_is_refused(api):
    _readers(3)
    cursor = api.get("/subscribers", {"limit": 1}).json()["next_cursor"]
    response = api.get("/subscribers", {"limit": 1, "status": "active", "cursor": cursor})
    assert response.status_code == 400
    assert "other filters" in response.json()["detail"]


def test_a_wrong_type_in_a_filter_names_the_parameter(api):
    response = api.get("/subscribers", {"list": "daily", "limit": 500})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"list", "limit"}


def test_it_gets_one_reader_with_lists_tags_and_an_attributes_object(api, daily):
    reader = factories.make_confirmed_reader(email="ada@example.org", lists=[daily])
    reader.tags.add(SubscriberTag.objects.create(name="founder"))
    body = api.get(f"/subscribers/{reader.pk}").json()
    assert body["email"] == "ada@example.org"
    assert body["lists"] == [daily.pk]
    assert body["tags"] == ["founder"]
    assert body["attributes"] == {}
    assert api.get("/subscribers/999999").status_code == 404


def test_create_with_double_opt_in_stores_pending_and_sends_the_confirmation(
    api, daily, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/subscribers", {"email": "New@Example.org", "name": "Nia", "lists": [daily.pk], "tags": ["from-app"]}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["email"], body["status"], body["source"], body["tags"]) == (
        "New@example.org",
        "pending",
        "api",
        ["from-app"],
    )
    consent = Consent.objects.get(subscriber_id=body["id"])
    assert consent.action == Consent.Action.SUBSCRIBE
    assert consent.form.startswith(f"api: key {api.key.prefix}")
    assert [m.to for m in mail.outbox] == [["New@example.org"]]
    assert "confirm" in mail.outbox[0].subject.lower()


def test_create_with_an_imported_consent_basis_is_active_and_sends_nothing(
    api, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/subscribers", {"email": "paper@example.org", "consent": "in_person", "consent_text": "Signed at the fair"}
        )
    assert response.status_code == 201
    assert response.json()["status"] == "active"
    consent = Consent.objects.get(subscriber__email="paper@example.org")
    assert consent.action == Consent.Action.IMPORT
    assert "Signed at the fair" in consent.text and "in person" in consent.text
    assert mail.outbox == []


def test_create_emits_subscriber_created(api):
    heard: list[tuple[str, int]] = []

    def listener(name, payloads):
        heard.extend((name, p["subscriber_id"]) for p in payloads)

    listen(listener, names=["subscriber.created"])
    try:
        response = api.post("/subscribers", {"email": "ev@example.org", "consent": "none"})
    finally:
        unlisten(listener)
    assert heard == [("subscriber.created", response.json()["id"])]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.org", "colour": "blue"}, "colour"),
        ({"email": "x@example.org", "lists": "daily"}, "lists"),
        ({"email": "x@example.org", "consent": "maybe"}, "consent"),
        ({"email": "not an address"}, "email"),
        ({"email": "x@example.org", "lists": [424242]}, "lists"),
        ({"name": "No address"}, "email"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(api, body, field):
    response = api.post("/subscribers", body)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Subscriber.objects.exists()
    assert not SubscriberTag.objects.exists()


def test_a_known_or_suppressed_address_is_refused(api):
    factories.make_confirmed_reader(email="known@example.org")
    Suppression.objects.create(email_hash=email_hash("gone@example.org"), reason=Suppression.Reason.MANUAL)
    for address in ("KNOWN@example.org", "gone@example.org"):
        response = api.post("/subscribers", {"email": address, "tags": ["t"]})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "email"
    assert Subscriber.objects.count() == 1
    assert not SubscriberTag.objects.exists()


def test_a_contributor_key_cannot_add_readers(make_api, contributor):
    # Scopes open the door; the maker's permissions decide what is inside.
    contributor.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    api = make_api(user=contributor)
    response = api.post("/subscribers", {"email": "c@example.org"})
    assert response.status_code == 403
    assert not Subscriber.objects.exists()


def test_update_changes_only_what_is_sent_and_records_the_lists(api, daily):
    weekly = factories.MailingListFactory(name="Weekly", slug="weekly")
    reader = factories.make_confirmed_reader(name="Old", lists=[daily])
    response = api.patch(f"/subscribers/{reader.pk}", {"lists": [weekly.pk], "tags": ["a", "b"]})
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["lists"], sorted(body["tags"])) == ("Old", [weekly.pk], ["a", "b"])
    assert Consent.objects.get(subscriber=reader, action=Consent.Action.UPDATE).text == "Lists: Weekly"
    assert api.patch(f"/subscribers/{reader.pk}", {"name": "New"}).json()["name"] == "New"


def test_update_with_an_unknown_list_changes_nothing(api, daily):
    reader = factories.make_confirmed_reader(name="Kept", lists=[daily])
    response = api.patch(f"/subscribers/{reader.pk}", {"name": "Changed", "lists": [daily.pk, 98765]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lists"
    reader.refresh_from_db()
    assert reader.name == "Kept"


def test_unsubscribe_and_erase(api):
    reader = factories.make_confirmed_reader(email="leaving@example.org")
    response = api.post(f"/subscribers/{reader.pk}/unsubscribe")
    assert response.json()["status"] == "unsubscribed"
    assert Consent.objects.filter(subscriber=reader, action=Consent.Action.UNSUBSCRIBE).count() == 1
    assert api.post(f"/subscribers/{reader.pk}/unsubscribe").status_code == 200  # twice is harmless
    assert Consent.objects.filter(subscriber=reader, action=Consent.Action.UNSUBSCRIBE).count() == 1
    erased = api.post(f"/subscribers/{reader.pk}/erase")
    assert erased.status_code == 200
    assert not Subscriber.objects.filter(pk=reader.pk).exists()
    assert Suppression.objects.get(email_hash=erased.json()["email_hash"]).email == ""
    assert api.post(f"/subscribers/{reader.pk}/erase").status_code == 404


def test_export_of_one_reader_and_csv_of_many(api, daily):
    reader = factories.make_confirmed_reader(email="mine@example.org", lists=[daily])
    data = api.get(f"/subscribers/{reader.pk}/export").json()
    assert data["subscriber"]["email"] == "mine@example.org"
    assert data["lists"] == ["Daily digest"]
    factories.make_pending_reader(email="other@example.org")
    response = api.get("/subscribers/export", {"status": "active"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert "mine@example.org" in text and "other@example.org" not in text


def test_lists_tags_and_segments_with_live_counts(api, daily):
    from subscribers.models import Segment

    factories.make_confirmed_reader(lists=[daily])
    factories.make_pending_reader(lists=[daily])
    segment = Segment.objects.create(name="Daily readers")
    segment.lists.add(daily)
    lists = api.get("/lists").json()
    assert [(m["slug"], m["active_subscribers"]) for m in lists] == [("daily", 1)]
    assert (lists[0]["inactive_subscribers"], lists[0]["sunset_enabled"]) == (0, False)
    assert api.get("/tags").json() == []
    counted = api.get(f"/segments/{segment.pk}").json()
    assert (counted["matching"], counted["sendable"]) == (2, 1)
    factories.make_confirmed_reader(lists=[daily])
    assert api.get("/segments").json()[0]["sendable"] == 2


def test_a_contributor_key_cannot_read_the_audience(make_api, contributor):
    contributor.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    api = make_api(scopes=["subscribers:read"], user=contributor)
    for path in ("/subscribers", "/lists", "/tags", "/segments"):
        response = api.get(path)
        assert response.status_code == 403, path
        assert "may not view" in response.json()["detail"]


def test_a_reader_carries_their_time_zone(api, daily):
    reader = factories.make_confirmed_reader(email="tz@example.org", lists=[daily], time_zone="Asia/Tokyo")
    assert api.get(f"/subscribers/{reader.pk}").json()["time_zone"] == "Asia/Tokyo"


def test_a_readers_time_zone_is_set_on_create_changed_cleared_and_an_unknown_one_stores_nothing(api):
    created = api.post("/subscribers", {"email": "tz@example.org", "consent": "in_person", "time_zone": "Asia/Tokyo"})
    assert created.status_code == 201, created.content
    assert created.json()["time_zone"] == "Asia/Tokyo"
    reader = Subscriber.objects.get(email="tz@example.org")
    changed = api.patch(f"/subscribers/{reader.pk}", {"time_zone": "America/New_York", "name": "Tomo"})
    assert changed.json()["time_zone"] == "America/New_York" and changed.json()["name"] == "Tomo"
    # Not sent: unchanged. Blank: the publication's zone.
    assert api.patch(f"/subscribers/{reader.pk}", {"name": "T"}).json()["time_zone"] == "America/New_York"
    assert api.patch(f"/subscribers/{reader.pk}", {"time_zone": ""}).json()["time_zone"] == ""
    # Unknown: a 422 on time_zone, and nothing of the request is stored.
    wrong = api.patch(f"/subscribers/{reader.pk}", {"time_zone": "Mars/Olympus", "name": "Changed"})
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["time_zone"]
    assert "not a known time zone" in wrong.json()["errors"][0]["message"]
    reader.refresh_from_db()
    assert (reader.name, reader.time_zone) == ("T", "")
    refused = api.post("/subscribers", {"email": "mars@example.org", "consent": "in_person", "time_zone": "Mars/X"})
    assert refused.status_code == 422 and not Subscriber.objects.filter(email="mars@example.org").exists()
