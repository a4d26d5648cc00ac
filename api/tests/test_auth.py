"""Keys: Bearer only, scopes, expiry, revocation at once, the rate limit and the request log."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.utils import timezone

from api.keys import api_key_revoke, key_hash
from api.models import ApiKey, ApiRequest
from api.scopes import Scope
from api.services import api_logs_prune

pytestmark = pytest.mark.django_db


def test_it_stores_only_the_hash_of_a_key(api):
    stored = ApiKey.objects.get(pk=api.key.pk)
    assert stored.key_hash == key_hash(api.secret)
    assert api.secret not in {stored.prefix, stored.key_hash, stored.name}
    assert api.secret.startswith(stored.prefix)


def test_a_request_without_a_key_is_refused_with_401(contract_client):
    response = contract_client.get("/api/v1/subscribers")
    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "Authorization"


def test_an_unknown_key_is_refused_and_not_logged(contract_client, api):
    response = contract_client.get("/api/v1/lists", headers={"Authorization": "Bearer nr_not-a-key"})
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key is not valid."
    assert not ApiRequest.objects.exists()


def test_a_key_sent_another_way_than_bearer_is_refused(contract_client, api):
    response = contract_client.get("/api/v1/lists", headers={"Authorization": f"Token {api.secret}"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_a_revoked_key_stops_at_once(api, editor):
    assert api.get("/lists").status_code == 200
    api_key_revoke(api_key=api.key, acting_user=editor)
    response = api.get("/lists")
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has been revoked."
    assert list(ApiRequest.objects.order_by("at", "pk").values_list("status", flat=True)) == [200, 401]


def test_an_expired_key_is_refused(make_api):
    api = make_api(expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert api.get("/lists").status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        response = api.get("/lists")
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has expired."


def test_a_key_whose_maker_was_deactivated_is_refused(api, editor):
    editor.is_active = False
    editor.save(update_fields=["is_active"])
    assert api.get("/lists").status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "/subscribers", "subscribers:read"),
        ("get", "/lists", "subscribers:read"),
        ("get", "/tags", "subscribers:read"),
        ("get", "/segments", "subscribers:read"),
        ("post", "/subscribers", "subscribers:write"),
        ("post", "/subscribers/1/unsubscribe", "subscribers:write"),
        ("post", "/subscribers/1/erase", "subscribers:write"),
        ("get", "/issues", "issues:read"),
        ("get", "/issues/1/rendered", "issues:read"),
        ("post", "/issues", "issues:write"),
        ("get", "/sends", "sends:read"),
        ("get", "/sends/1/progress", "sends:read"),
        ("post", "/sends", "sends:write"),
        ("post", "/sends/1/pause", "sends:write"),
        ("get", "/events", "analytics:read"),
        ("get", "/sends/1/analytics", "analytics:read"),
    ],
)
def test_each_operation_needs_its_scope(make_api, method, path, scope):
    others = [
        s
        for s in [
            "subscribers:read",
            "subscribers:write",
            "issues:read",
            "issues:write",
            "sends:read",
            "sends:write",
            "analytics:read",
        ]
        if s != scope
    ]
    api = make_api(scopes=others)
    response = getattr(api, method)(path) if method == "get" else api.post(path, {})
    assert response.status_code == 403
    assert scope in response.json()["detail"]


def test_the_rate_limit_answers_429_with_retry_after(make_api, settings):
    settings.API_RATE_LIMIT = "3/m"
    api = make_api()
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, 10, tzinfo=datetime.UTC), tick=False):
        assert [api.get("/lists").status_code for _ in range(3)] == [200, 200, 200]
        refused = api.get("/lists")
        assert refused.status_code == 429
        assert 1 <= int(refused["Retry-After"]) <= 60
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 1, 30, tzinfo=datetime.UTC), tick=False):
        assert api.get("/lists").status_code == 200


def test_the_limit_is_per_key(make_api, settings):
    settings.API_RATE_LIMIT = "1/m"
    first, second = make_api(), make_api()
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, 10, tzinfo=datetime.UTC), tick=False):
        assert first.get("/lists").status_code == 200
        assert first.get("/lists").status_code == 429
        assert second.get("/lists").status_code == 200


def test_every_request_is_logged_with_its_key(api):
    api.get("/lists")
    api.get("/subscribers/999999")
    rows = list(ApiRequest.objects.order_by("at", "pk").values_list("api_key_id", "method", "path", "status"))
    assert rows == [(api.key.pk, "GET", "/api/v1/lists", 200), (api.key.pk, "GET", "/api/v1/subscribers/999999", 404)]
    api.key.refresh_from_db()
    assert api.key.last_used_at is not None


def test_the_prune_task_drops_old_log_rows_only(api, settings):
    settings.API_REQUEST_LOG_DAYS = 30
    now = timezone.now()
    ApiRequest.objects.bulk_create(
        [
            ApiRequest(api_key=api.key, method="GET", path="/old", status=200, at=now - datetime.timedelta(days=31)),
            ApiRequest(api_key=api.key, method="GET", path="/new", status=200, at=now - datetime.timedelta(days=29)),
        ]
    )
    assert api_logs_prune(now=now) == {"requests": 1, "idempotent_answers": 0}
    assert list(ApiRequest.objects.values_list("path", flat=True)) == ["/new"]


def test_the_schema_and_docs_need_no_key_and_use_only_our_static_files(contract_client):
    schema = contract_client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Newsroom API"
    docs = contract_client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html


def _operations() -> list[tuple[str, str, str]]:
    from api.tests.contract import _document

    found = []
    for path, item in _document()["paths"].items():
        for method, operation in item.items():
            if operation.get("x-scope"):
                found.append((method, re.sub(r"\{[^}]+\}", "1", path.removeprefix("/api/v1")), operation["x-scope"]))
    return sorted(found)


@pytest.mark.parametrize(("method", "path", "scope"), _operations())
def test_every_operation_in_the_schema_refuses_a_key_without_its_scope(make_api, method, path, scope):
    """Read from the OpenAPI document, so a new operation is covered the day it is added."""
    api = make_api(scopes=[s for s in Scope.values if s != scope])
    if method == "get":
        response = api.get(path)
    elif method == "patch":
        response = api.patch(path, {})
    else:
        response = getattr(api, method)(path, {})
    assert response.status_code == 403, (method, path, response.content)
    assert scope in response.json()["detail"]
