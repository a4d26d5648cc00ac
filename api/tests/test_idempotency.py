"""Idempotency-Key on POST: a retry returns the first answer; another body with the same key is refused."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.utils import timezone

from api.idempotency import fingerprint
from api.models import IdempotentRequest
from api.services import api_logs_prune
from subscribers.models import Subscriber

pytestmark = pytest.mark.django_db
BODY = {"email": "once@example.org", "consent": "none"}


def test_a_retry_with_the_same_key_and_body_creates_once(api):
    first = api.post("/subscribers", BODY, headers={"Idempotency-Key": "abc-1"})
    again = api.post("/subscribers", BODY, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Subscriber.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(api):
    api.post("/subscribers", BODY, headers={"Idempotency-Key": "abc-2"})
    other = api.post("/subscribers", {**BODY, "email": "twice@example.org"}, headers={"Idempotency-Key": "abc-2"})
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["once@example.org"]


def test_a_failed_request_is_not_stored_so_a_fixed_retry_runs(api):
    bad = api.post("/subscribers", {"email": "nope"}, headers={"Idempotency-Key": "abc-3"})
    assert bad.status_code == 422
    assert not IdempotentRequest.objects.exists()
    good = api.post("/subscribers", {"email": "fixed@example.org"}, headers={"Idempotency-Key": "abc-3"})
    assert good.status_code == 201


def test_keys_belong_to_one_api_key(api, make_api):
    other = make_api()
    api.post("/subscribers", BODY, headers={"Idempotency-Key": "shared"})
    response = other.post("/subscribers", BODY, headers={"Idempotency-Key": "shared"})
    assert response.status_code == 422  # a new request for this key: the address now exists
    assert "Idempotent-Replayed" not in response


def test_an_answer_is_kept_for_24_hours_then_forgotten(api):
    first = api.post("/subscribers", BODY, headers={"Idempotency-Key": "day"})
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=23)):
        assert api.post("/subscribers", BODY, headers={"Idempotency-Key": "day"})["Idempotent-Replayed"] == "true"
    later = timezone.now() + datetime.timedelta(hours=25)
    assert api_logs_prune(now=later)["idempotent_answers"] == 1
    assert first.status_code == 201


def test_a_request_still_running_makes_the_retry_wait(api, rf):
    same = rf.post("/api/v1/subscribers", json.dumps(BODY), content_type="application/json")
    IdempotentRequest.objects.create(api_key=api.key, key="busy", fingerprint=fingerprint(same))
    response = api.post("/subscribers", BODY, headers={"Idempotency-Key": "busy"})
    assert response.status_code == 409
    assert not Subscriber.objects.exists()


def test_an_unprintable_key_is_a_400(api):
    response = api.post("/subscribers", BODY, headers={"Idempotency-Key": "x" * 300})
    assert response.status_code == 400
    assert not Subscriber.objects.exists()
