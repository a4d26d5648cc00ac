"""The contract check itself: it fails on answers the schema does not describe (so its passes mean something)."""

from __future__ import annotations

import pytest
from django.http import HttpResponse, JsonResponse
from jsonschema import Draft202012Validator

from api.tests.contract import ContractViolation, _document, check_response


def test_it_refuses_a_body_that_does_not_match():
    wrong = JsonResponse({"results": [{"id": "seven"}], "next_cursor": None})
    with pytest.raises(ContractViolation, match="does not match its schema"):
        check_response("GET", "/api/v1/subscribers", wrong)


def test_it_refuses_an_undeclared_status_and_content_type():
    with pytest.raises(ContractViolation, match="does not declare"):
        check_response("GET", "/api/v1/lists", JsonResponse({}, status=418))
    with pytest.raises(ContractViolation, match="content type"):
        check_response("GET", "/api/v1/lists", HttpResponse("<p>hi</p>", content_type="text/html"))


def test_it_refuses_a_path_or_method_the_schema_lacks():
    with pytest.raises(ContractViolation):
        check_response("DELETE", "/api/v1/lists", JsonResponse({}))
    with pytest.raises(ContractViolation):
        check_response("GET", "/api/v1/nowhere", JsonResponse({}))


def test_every_schema_in_the_document_is_valid_json_schema():
    document = _document()
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert all(op.get("security") for op in operations), "every operation needs a key"
    assert all("422" in op["responses"] and "401" in op["responses"] for op in operations)


def test_each_operation_names_its_scope_in_the_schema():
    operations = {(method, path): op for path, item in _document()["paths"].items() for method, op in item.items()}
    assert operations[("get", "/api/v1/subscribers")]["x-scope"] == "subscribers:read"
    assert operations[("post", "/api/v1/sends")]["x-scope"] == "sends:write"
    assert operations[("get", "/api/v1/events")]["description"].startswith(
        "Needs a key with the `analytics:read` scope."
    )
    assert all(op.get("x-scope") for op in operations.values())
