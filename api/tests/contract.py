"""Every API response of the test run checked against the generated OpenAPI schema.

``ContractClient`` is Django's test client with a check after each request to
/api/v1/: the status must be one the operation declares, the content type one
it declares for that status, and a JSON body must validate (jsonschema,
draft 2020-12, which OpenAPI 3.1 uses) against the declared schema with its
$refs resolved in the same document.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from django.test import Client
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:newsroom:openapi"


class ContractViolation(AssertionError):
    pass


@functools.cache
def _document() -> dict[str, Any]:
    from api.api import api

    return json.loads(json.dumps(api.get_openapi_schema()))


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in _document()["paths"]:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        routes.append((re.compile(f"^{pattern}$"), template))
    # Literal paths before templated ones (/subscribers/export before /subscribers/{id}).
    return sorted(routes, key=lambda r: r[1].count("{"))


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(DOC_URI, Resource.from_contents(_document(), default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]]:
    for pattern, template in _routes():
        if pattern.match(path):
            operation = _document()["paths"][template].get(method.lower())
            if operation is None:
                raise ContractViolation(f"{method} {template} is not in the OpenAPI schema.")
            return template, operation
    raise ContractViolation(f"{path} matches no path of the OpenAPI schema.")


def check_response(method: str, path: str, response: Any) -> None:
    if path.rstrip("/").endswith(("/openapi.json", "/docs")):
        return
    template, operation = operation_for(method, path)
    status = str(response.status_code)
    declared = operation.get("responses", {})
    if status not in declared:
        raise ContractViolation(
            f"{method} {template} answered {status}, which it does not declare ({sorted(declared)})."
        )
    content = declared[status].get("content", {})
    media = response.get("Content-Type", "").split(";")[0].strip()
    if content and media not in content:
        raise ContractViolation(
            f"{method} {template} {status}: content type {media!r} is not one of {sorted(content)}."
        )
    if media != "application/json":
        return
    reference = (
        DOC_URI + "#/" + _pointer("paths", template, method.lower(), "responses", status, "content", media, "schema")
    )
    validator = Draft202012Validator({"$ref": reference}, registry=_registry())
    errors = sorted(validator.iter_errors(json.loads(response.content)), key=lambda e: list(e.path))
    if errors:
        raise ContractViolation(
            f"{method} {template} {status} does not match its schema: "
            + "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])
        )


class ContractClient(Client):
    """A test client that checks every /api/v1/ answer against the schema (ContractViolation if it does not fit)."""

    checked: list[tuple[str, str, int]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked = []

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        path, method = request["PATH_INFO"], request["REQUEST_METHOD"]
        if path.startswith("/api/v1/"):
            check_response(method, path, response)
            self.checked.append((method, path, response.status_code))
        return response
