"""Sends through the API (schedule, pause, resume, cancel, progress) and the analytics reads."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from delivery.models import Delivery, DeliveryStatus, Event, Send, SendStatus
from issues.models import IssueStatus
from testing import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(daily):
    factories.make_confirmed_reader(lists=[daily])
    return factories.make_full_issue(status=IssueStatus.APPROVED)


def test_schedule_then_cancel(api, approved, daily):
    at = (timezone.now() + datetime.timedelta(hours=2)).replace(microsecond=0)
    response = api.post("/sends", {"issue": approved.pk, "lists": [daily.pk], "scheduled_at": at.isoformat()})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["lists"], body["issue"]) == ("scheduled", [daily.pk], approved.pk)
    assert datetime.datetime.fromisoformat(body["scheduled_at"]) == at
    approved.refresh_from_db()
    assert approved.status == IssueStatus.SCHEDULED
    assert api.get(f"/sends/{body['id']}").json()["status"] == "scheduled"
    assert api.get("/sends", {"issue": approved.pk}).json()["results"][0]["id"] == body["id"]
    cancelled = api.post(f"/sends/{body['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    approved.refresh_from_db()
    assert approved.status == IssueStatus.APPROVED


def test_the_same_refusals_as_the_admin(api, approved, daily):
    draft = factories.make_full_issue()
    refused = api.post("/sends", {"issue": draft.pk, "lists": [daily.pk]})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "Only an approved issue can be sent."
    assert api.post("/sends", {"issue": approved.pk, "lists": []}).json()["detail"] == (
        "Choose at least one list or a segment."
    )
    naive = api.post("/sends", {"issue": approved.pk, "lists": [daily.pk], "scheduled_at": "2030-01-01T08:00:00"})
    assert naive.json()["errors"][0]["field"] == "scheduled_at"
    assert api.post("/sends", {"issue": 424242, "lists": [daily.pk]}).json()["errors"][0]["field"] == "issue"
    assert not Send.objects.exists()


def test_pause_and_resume_follow_the_send_state(api, approved, daily):
    send = factories.SendFactory.create(issue=approved, status=SendStatus.SENDING)
    send.lists.add(daily)
    paused = api.post(f"/sends/{send.pk}/pause")
    assert paused.json()["status"] == "paused"
    assert api.post(f"/sends/{send.pk}/pause").status_code == 422
    resumed = api.post(f"/sends/{send.pk}/resume")
    assert resumed.status_code == 200, resumed.content
    assert resumed.json()["status"] == "sending"


def test_a_contributor_key_cannot_schedule(make_api, contributor, approved, daily):
    from django.contrib.auth.models import Permission

    contributor.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    response = make_api(user=contributor).post("/sends", {"issue": approved.pk, "lists": [daily.pk]})
    assert response.status_code == 403
    assert not Send.objects.exists()


def _sent(send, readers):
    now = timezone.now()
    rows = Delivery.objects.bulk_create(
        [
            Delivery(send=send, subscriber=r, email=r.email, status=DeliveryStatus.SENT, sent_at=now, delivered_at=now)
            for r in readers
        ]
    )
    return rows


def test_progress_figures_and_events(api, approved, daily):
    readers = [factories.make_confirmed_reader(lists=[daily]) for _ in range(3)]
    send = factories.SendFactory.create(issue=approved, status=SendStatus.DONE, started_at=timezone.now())
    rows = _sent(send, readers)
    Delivery.objects.filter(pk=rows[0].pk).update(opened_at=timezone.now(), clicked_at=timezone.now())
    base = timezone.now() - datetime.timedelta(minutes=10)
    Event.objects.bulk_create(
        [
            Event(
                dedupe_key=f"e{n}",
                delivery=rows[0],
                send=send,
                event_type=kind,
                at=base + datetime.timedelta(minutes=n),
                recipient=rows[0].email,
                url="https://example.com/story-1" if kind == "clicked" else "",
            )
            for n, kind in enumerate(["delivered", "opened", "clicked"])
        ]
    )
    progress = api.get(f"/sends/{send.pk}/progress").json()
    assert (progress["sent"], progress["percent"], progress["ended"]) == (3, 100.0, True)
    figures = {f["key"]: f for f in api.get(f"/sends/{send.pk}/analytics").json()["figures"]}
    assert (figures["sent"]["count"], figures["opened"]["count"], figures["clicked"]["rate"]) == (
        3,
        1,
        pytest.approx(1 / 3),
    )
    links = api.get(f"/sends/{send.pk}/analytics").json()["top_links"]
    assert links == [{"url": "https://example.com/story-1", "clicks": 1, "readers": 1}]
    page = api.get("/events", {"send": send.pk, "limit": 2}).json()
    assert [e["type"] for e in page["results"]] == ["clicked", "opened"]
    assert page["results"][0]["subscriber"] == readers[0].pk
    rest = api.get("/events", {"send": send.pk, "limit": 2, "cursor": page["next_cursor"]}).json()
    assert [e["type"] for e in rest["results"]] == ["delivered"] and rest["next_cursor"] is None
    assert [e["type"] for e in api.get("/events", {"type": "opened"}).json()["results"]] == ["opened"]
    assert api.get("/events", {"type": "teleported"}).status_code == 422


def test_a_scheduled_send_is_moved_to_a_new_time(api, approved, daily):
    at = (timezone.now() + datetime.timedelta(hours=2)).replace(microsecond=0)
    created = api.post("/sends", {"issue": approved.pk, "lists": [daily.pk], "scheduled_at": at.isoformat()}).json()
    later = at + datetime.timedelta(days=1)
    moved = api.post(f"/sends/{created['id']}/reschedule", {"scheduled_at": later.isoformat()})
    assert moved.status_code == 200, moved.content
    assert datetime.datetime.fromisoformat(moved.json()["scheduled_at"]) == later
    assert Send.objects.get(pk=created["id"]).scheduled_at == later


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"scheduled_at": "2020-01-01T07:00:00+00:00"}, "in the past"),
        ({"scheduled_at": "2030-01-01T07:00:00"}, "time zone"),
        ({"scheduled_at": "soon"}, "datetime"),
        ({"scheduled_at": "2030-01-01T07:00:00+00:00", "when": "later"}, "Unknown field"),
    ],
)
def test_a_bad_new_time_is_refused_naming_it_and_moves_nothing(api, approved, daily, body, words):
    at = (timezone.now() + datetime.timedelta(hours=2)).replace(microsecond=0)
    created = api.post("/sends", {"issue": approved.pk, "lists": [daily.pk], "scheduled_at": at.isoformat()}).json()
    response = api.post(f"/sends/{created['id']}/reschedule", body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(words in e["message"] for e in errors), errors
    assert {e["field"] for e in errors} <= {"scheduled_at", "when"}
    assert Send.objects.get(pk=created["id"]).scheduled_at == at


def test_a_send_that_started_cannot_be_moved(api, approved, daily):
    created = api.post("/sends", {"issue": approved.pk, "lists": [daily.pk]}).json()
    Send.objects.filter(pk=created["id"]).update(status=SendStatus.SENDING)
    later = timezone.now() + datetime.timedelta(days=1)
    response = api.post(f"/sends/{created['id']}/reschedule", {"scheduled_at": later.isoformat()})
    assert response.status_code == 422
    assert "has not started" in response.json()["errors"][0]["message"]


def test_a_contributor_key_cannot_move_a_send(make_api, api, contributor, approved, daily):
    from django.contrib.auth.models import Permission

    contributor.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    at = timezone.now() + datetime.timedelta(hours=2)
    created = api.post("/sends", {"issue": approved.pk, "lists": [daily.pk], "scheduled_at": at.isoformat()}).json()
    response = make_api(user=contributor).post(
        f"/sends/{created['id']}/reschedule", {"scheduled_at": (at + datetime.timedelta(hours=1)).isoformat()}
    )
    assert response.status_code == 403
    assert Send.objects.get(pk=created["id"]).scheduled_at == at
