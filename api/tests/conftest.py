"""Fixtures of the API tests: keys with chosen scopes, and a client that checks every answer against the schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from api.keys import api_key_create
from api.scopes import Scope
from api.tests.contract import ContractClient
from testing import factories

ALL_SCOPES = list(Scope.values)


class Api:
    """Calls to /api/v1/ with one key; bodies are JSON."""

    def __init__(self, client: ContractClient, secret: str) -> None:
        self.client = client
        self.secret = secret

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", **(extra or {})}

    def get(self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers(headers))

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: str | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(f"/api/v1{path}", data, content_type="application/json", headers=self._headers(headers))

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.patch(
            f"/api/v1{path}", json.dumps(body), content_type="application/json", headers=self._headers(headers)
        )


@pytest.fixture
def contract_client() -> ContractClient:
    return ContractClient()


@pytest.fixture
def make_api(contract_client: ContractClient, editor: Any) -> Callable[..., Api]:
    def make(scopes: list[str] | None = None, user: Any = None, **kwargs: Any) -> Api:
        made = api_key_create(
            name="test key",
            scopes=scopes or ALL_SCOPES,
            expires_at=kwargs.get("expires_at"),
            acting_user=user or editor,
        )
        api = Api(contract_client, made.secret)
        api.key = made.api_key  # type: ignore[attr-defined]
        return api

    return make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A key with every scope, acting as an editor."""
    return make_api()


@pytest.fixture
def daily(db: None) -> Any:
    return factories.MailingListFactory(name="Daily digest", slug="daily")
