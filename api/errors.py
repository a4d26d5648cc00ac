"""One shape for every refusal the API gives: ``{"detail": ..., "errors": [{"field", "message"}]}``."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


def error_response(
    status: int, detail: str, *, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JsonResponse:
    response = JsonResponse({"detail": detail, "errors": errors or []}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_errors(message_dict: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Django's ValidationError.message_dict as the API's list of field errors."""
    return [
        {"field": "" if field == "__all__" else field, "message": message}
        for field, messages in message_dict.items()
        for message in messages
    ]
