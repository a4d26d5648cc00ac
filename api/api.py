"""The versioned JSON API (django-ninja): the routers, and one JSON shape for every refusal."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.errors import ValidationError as SchemaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from api.auth import ApiKeyBearer
from api.cursors import BadCursor
from api.errors import error_response, field_errors
from api.routers import issues, sends, subscribers
from core.queue import TaskQueueUnavailable
from issues.composer import EditConflict

DESCRIPTION = """Newsroom's API. Authenticate with `Authorization: Bearer <key>`; keys are made in the
admin (API keys), each with scopes, and act as the person who made them. Every refusal is
`{"detail": "...", "errors": [{"field": "...", "message": "..."}]}`."""


class _Schema(OpenAPISchema):
    """The generated schema, with each operation's scope as ``x-scope`` and at the head of its description."""

    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details = super().operation_details(operation)
        scopes = [cb.scope for cb in operation.auth_callbacks if isinstance(cb, ApiKeyBearer)]
        if scopes:
            details["x-scope"] = scopes[0]
            needs = f"Needs a key with the `{scopes[0]}` scope."
            details["description"] = f"{needs}\n\n{details['description']}" if details.get("description") else needs
        return details


class _Api(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return _Schema(self, path_prefix)


api = _Api(
    title="Newsroom API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("", subscribers.router)
api.add_router("", issues.router)
api.add_router("", sends.router)


def _location(loc: list[Any]) -> str:
    # ninja's loc is ("body", "payload", "email", ...) or ("query", "limit"): name the field itself.
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else parts[1:]
    elif parts and parts[0] in ("query", "path", "header"):
        parts = parts[1:]
        if len(parts) > 1 and parts[0] == "filters":
            parts = parts[1:]
    return ".".join(parts)


@api.exception_handler(SchemaValidationError)
def _schema_invalid(request: HttpRequest, exc: SchemaValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        message = error.get("msg", "Invalid value.")
        if error.get("type") == "extra_forbidden":
            message = "Unknown field: this operation does not take it."
        errors.append({"field": _location(error.get("loc", [])), "message": message})
    names = ", ".join(dict.fromkeys(e["field"] for e in errors if e["field"]))
    return error_response(422, f"The request is not valid: {names or 'see errors'}.", errors=errors)


@api.exception_handler(DjangoValidationError)
def _refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    status = 409 if isinstance(exc, EditConflict) else 422
    errors = (
        field_errors(exc.message_dict)
        if hasattr(exc, "error_dict")
        else [{"field": "", "message": m} for m in exc.messages]
    )
    return error_response(status, " ".join(e["message"] for e in errors) or "The request was refused.", errors=errors)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(403, str(exc) or "The account this key acts as may not do this.")


@api.exception_handler(Http404)
def _missing(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(404, "Not found.")


@api.exception_handler(ObjectDoesNotExist)
def _gone(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(404, "Not found.")


@api.exception_handler(BadCursor)
def _bad_cursor(request: HttpRequest, exc: BadCursor) -> HttpResponse:
    return error_response(400, str(exc), errors=[{"field": "cursor", "message": str(exc)}])


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    errors = [{"field": "Authorization", "message": str(exc)}] if exc.status_code in (401, 403) else []
    detail = str(exc) if exc.status_code != 401 else "Send an API key as “Authorization: Bearer <key>”."
    return error_response(exc.status_code, detail, errors=errors)


@api.exception_handler(TaskQueueUnavailable)
def _queue_down(request: HttpRequest, exc: TaskQueueUnavailable) -> HttpResponse:
    return error_response(
        503, f"{exc} The change itself was saved; the email it needs was not queued.", headers={"Retry-After": "30"}
    )
