"""Per-operation scope checks; the key itself was checked by api.middleware."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from api.keys import key_has_scope
from api.models import ApiKey


class ApiKeyBearer(HttpBearer):
    """``Authorization: Bearer <key>`` for a key that holds ``scope``; 403 naming the scope otherwise."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        api_key: ApiKey | None = getattr(request, "api_key", None)
        if api_key is None:
            return None
        if not key_has_scope(api_key, self.scope):
            raise AuthorizationError(403, f"This API key lacks the “{self.scope}” scope.")
        return api_key


def scoped(scope: str) -> ApiKeyBearer:
    return ApiKeyBearer(scope)


def actor(request: HttpRequest) -> Any:
    """The person a key acts as: its creator (their permissions are checked by every service)."""
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    return api_key.created_by


def via(request: HttpRequest) -> str:
    """How audit rows name an API change: the key's prefix and its creator."""
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    return f"api: key {api_key.prefix}… ({api_key.created_by.get_username()})"
