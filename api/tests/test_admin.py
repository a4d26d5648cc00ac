"""API keys in the admin: made with scopes, shown once, stored hashed, revoked from the key's page."""

from __future__ import annotations

import pytest
from django.test import Client

from api.keys import api_key_create, key_hash
from api.models import ApiKey
from testing import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_client(editor):
    client = Client()
    client.force_login(editor)
    return client


def test_an_editor_makes_a_key_and_sees_it_once(editor_client, editor):
    response = editor_client.post(
        "/admin/api/apikey/add/",
        {
            "name": "CRM sync",
            "scopes": ["subscribers:read", "subscribers:write"],
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 200, response.content
    key = ApiKey.objects.get()
    secret = response.context["secret"]
    assert secret.startswith(key.prefix) and key.key_hash == key_hash(secret)
    assert (key.created_by, key.scopes) == (editor, ["subscribers:read", "subscribers:write"])
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    page = editor_client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert secret not in page and key.prefix in page


def test_a_key_without_scopes_or_with_a_past_expiry_is_refused(editor_client):
    response = editor_client.post(
        "/admin/api/apikey/add/", {"name": "x", "expires_at_0": "2001-01-01", "expires_at_1": "10:00"}
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"scopes", "expires_at"}
    assert not ApiKey.objects.exists()


def test_revoking_from_the_page_stops_the_key(editor_client, editor, contract_client):
    made = api_key_create(name="Zap", scopes=["subscribers:read"], expires_at=None, acting_user=editor)
    page = editor_client.get(f"/admin/api/apikey/{made.api_key.pk}/change/").content.decode()
    assert "Revoke this key" in page
    editor_client.post(f"/admin/api/apikey/{made.api_key.pk}/revoke/")
    made.api_key.refresh_from_db()
    assert made.api_key.revoked_by == editor and made.api_key.state == "revoked"
    refused = contract_client.get("/api/v1/lists", headers={"Authorization": f"Bearer {made.secret}"})
    assert refused.status_code == 401


def test_an_editor_sees_only_their_own_keys(editor_client, editor):
    other = factories.make_editor("otto")
    api_key_create(name="Mine", scopes=["issues:read"], expires_at=None, acting_user=editor)
    api_key_create(name="Theirs", scopes=["issues:read"], expires_at=None, acting_user=other)
    listing = editor_client.get("/admin/api/apikey/").content.decode()
    assert "Mine" in listing and "Theirs" not in listing


def test_the_request_log_of_a_key_is_one_click_from_its_page(editor_client, editor, contract_client):
    made = api_key_create(name="Logged", scopes=["subscribers:read"], expires_at=None, acting_user=editor)
    contract_client.get("/api/v1/lists", headers={"Authorization": f"Bearer {made.secret}"})
    other = api_key_create(
        name="Other", scopes=["subscribers:read"], expires_at=None, acting_user=factories.make_editor("ola")
    )
    contract_client.get("/api/v1/tags", headers={"Authorization": f"Bearer {other.secret}"})
    log = editor_client.get(f"/admin/api/apirequest/?api_key__id__exact={made.api_key.pk}")
    assert log.status_code == 200
    text = log.content.decode()
    assert "/api/v1/lists" in text and "/api/v1/tags" not in text
