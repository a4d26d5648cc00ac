"""Custom reader fields through the API: read, written on create and change by the same rules as
the admin and the import, filtered on, listed, and shown in segments; a wrong one stores nothing."""

from __future__ import annotations

import pytest

from subscribers.models import CustomField, FieldKind, FieldOperator, Segment, Subscriber, SubscriberStatus
from testing import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(db):
    return {
        "city": CustomField.objects.create(key="city", label="City"),
        "plan": CustomField.objects.create(key="plan", label="Plan", kind=FieldKind.CHOICE, choices=["Free", "Paid"]),
        "age": CustomField.objects.create(key="age", label="Age", kind=FieldKind.NUMBER, position=2),
        "since": CustomField.objects.create(key="since", label="Member since", kind=FieldKind.DATE, position=3),
        "events": CustomField.objects.create(key="events", label="Events", kind=FieldKind.BOOLEAN, position=4),
    }


def test_a_readers_values_come_back_as_stored(api, fields):
    reader = factories.make_confirmed_reader(email="ada@example.org")
    Subscriber.objects.filter(pk=reader.pk).update(
        attributes={"city": "London", "age": 36, "since": "2021-03-04", "events": True}
    )
    body = api.get(f"/subscribers/{reader.pk}").json()
    assert body["attributes"] == {"city": "London", "age": 36, "since": "2021-03-04", "events": True}
    listed = api.get("/subscribers").json()["results"]
    assert listed[0]["attributes"]["city"] == "London"


def test_create_stores_each_kind_checked_and_normalised(api, fields):
    response = api.post(
        "/subscribers",
        {
            "email": "new@example.org",
            "consent": "in_person",
            "attributes": {"city": " Leeds ", "plan": "paid", "age": 41.0, "since": "2020-02-29", "events": False},
        },
    )
    assert response.status_code == 201, response.content
    expected = {"city": "Leeds", "plan": "Paid", "age": 41, "since": "2020-02-29", "events": False}
    assert response.json()["attributes"] == expected
    assert Subscriber.objects.get(email="new@example.org").attributes == expected


@pytest.mark.parametrize(
    ("attributes", "field", "words"),
    [
        ({"colour": "blue"}, "attributes.colour", "Unknown custom field"),
        ({"age": "forty"}, "attributes.age", "Age: a number field takes a JSON number"),
        ({"age": True}, "attributes.age", "a number field takes a JSON number"),
        ({"events": "yes"}, "attributes.events", "takes true or false"),
        ({"since": "31/03/2026"}, "attributes.since", "is not a date written YYYY-MM-DD"),
        ({"plan": "Gold"}, "attributes.plan", "is not one of Free, Paid"),
        ({"city": ["London"]}, "attributes.city", "a text field takes a string"),
        ({"city": "x" * 501}, "attributes.city", "at most 500 characters"),
    ],
)
def test_a_wrong_value_on_create_names_the_field_and_stores_no_reader(api, fields, attributes, field, words):
    response = api.post("/subscribers", {"email": "x@example.org", "consent": "in_person", "attributes": attributes})
    assert response.status_code == 422, response.content
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert words in errors[field]
    assert not Subscriber.objects.exists()


def test_change_merges_the_keys_sent_and_null_removes_one(api, fields):
    reader = factories.make_confirmed_reader()
    Subscriber.objects.filter(pk=reader.pk).update(attributes={"city": "London", "age": 36})
    response = api.patch(f"/subscribers/{reader.pk}", {"attributes": {"age": None, "plan": "Free"}})
    assert response.status_code == 200, response.content
    assert response.json()["attributes"] == {"city": "London", "plan": "Free"}
    reader.refresh_from_db()
    assert reader.attributes == {"city": "London", "plan": "Free"}


def test_a_wrong_value_on_change_changes_nothing_else_in_the_request(api, fields, daily):
    reader = factories.make_confirmed_reader(name="Before")
    Subscriber.objects.filter(pk=reader.pk).update(attributes={"city": "London"})
    response = api.patch(
        f"/subscribers/{reader.pk}",
        {"name": "After", "lists": [daily.pk], "attributes": {"city": "Paris", "age": "old"}},
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["attributes.age"]
    reader.refresh_from_db()
    assert (reader.name, reader.attributes, list(reader.lists.all())) == ("Before", {"city": "London"}, [])


def test_the_list_filters_on_a_custom_field(api, fields):
    london, paid, _none = _readers_with([{"city": "London"}, {"city": "Leeds", "plan": "Paid"}, {}])
    assert _emails(api, {"field": "city"}) == {london, paid}
    assert _emails(api, {"field": "city", "field_value": "London"}) == {london}
    assert _emails(api, {"field": "plan", "field_value": "paid"}) == {paid}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"field": "colour"}, "field"),
        ({"field": "age", "field_value": "old"}, "field_value"),
        ({"field_value": "London"}, "field_value"),
    ],
)
def test_a_bad_field_filter_is_a_422_naming_it(api, fields, params, field):
    response = api.get("/subscribers", params)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


def test_the_fields_are_listed_with_their_kinds(api, fields):
    listed = api.get("/fields").json()
    assert [f["key"] for f in listed] == ["city", "plan", "age", "since", "events"]
    assert listed[1] == {"key": "plan", "label": "Plan", "kind": "choice", "choices": ["Free", "Paid"], "help_text": ""}


def test_a_segment_shows_its_custom_field_condition(api, fields):
    _readers_with([{"plan": "Paid"}, {"plan": "Free"}])
    segment = Segment.objects.create(
        name="Paying", field=fields["plan"], field_operator=FieldOperator.EQUALS, field_value="paid"
    )
    body = api.get(f"/segments/{segment.pk}").json()
    assert (body["field_key"], body["field_operator"], body["field_value"]) == ("plan", "equals", "Paid")
    assert body["matching"] == 1


def test_a_key_without_the_scope_cannot_list_the_fields(make_api, fields):
    response = make_api(scopes=["issues:read"]).get("/fields")
    assert response.status_code == 403


def _readers_with(values: list[dict]) -> list[str]:
    emails = []
    for n, attributes in enumerate(values):
        email = f"f{n}@example.org"
        Subscriber.objects.create(email=email, status=SubscriberStatus.ACTIVE, attributes=attributes)
        emails.append(email)
    return emails


def _emails(api, params: dict) -> set[str]:
    response = api.get("/subscribers", params)
    assert response.status_code == 200, response.content
    return {r["email"] for r in response.json()["results"]}


def test_a_readers_personal_data_carries_their_custom_fields_under_their_labels(api, fields):
    reader = factories.make_confirmed_reader()
    Subscriber.objects.filter(pk=reader.pk).update(attributes={"city": "Leeds", "events": True, "gone": "kept"})
    data = api.get(f"/subscribers/{reader.pk}/export").json()
    assert data["custom_fields"] == {"City": "Leeds", "Events": True, "gone": "kept"}
