"""Custom reader fields: definitions, values on the reader's admin form, segment rules and exports."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from subscribers.export import export_rows
from subscribers.fields import field_check_definition, field_parse
from subscribers.models import CustomField, FieldKind, FieldOperator, Subscriber, SubscriberStatus
from subscribers.selectors import SegmentRules, rules_filter
from testing.factories import make_confirmed_reader

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields() -> dict[str, CustomField]:
    specs = [
        ("city", FieldKind.TEXT, []),
        ("age", FieldKind.NUMBER, []),
        ("renews_on", FieldKind.DATE, []),
        ("plan", FieldKind.CHOICE, ["Free", "Paid"]),
        ("member", FieldKind.BOOLEAN, []),
    ]
    return {
        key: CustomField.objects.create(key=key, label=key.replace("_", " ").title(), kind=kind, choices=choices)
        for key, kind, choices in specs
    }


@pytest.mark.parametrize(
    ("key", "raw", "stored"),
    [
        ("city", "  Leeds ", "Leeds"),
        ("age", "42", 42),
        ("age", "3,5", 3.5),
        ("renews_on", "2026-04-30", "2026-04-30"),
        ("renews_on", "30/04/2026", "2026-04-30"),
        ("plan", "paid", "Paid"),
        ("member", "Yes", True),
        ("member", "false", False),
        ("city", "", None),
    ],
)
def test_values_are_stored_by_kind(fields: dict[str, CustomField], key: str, raw: str, stored: Any) -> None:
    assert field_parse(fields[key], raw) == stored


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("age", "forty", "Age: “forty” is not a number."),
        ("renews_on", "soon", "Renews On: “soon” is not a date (write it as 2026-03-31)."),
        ("plan", "Gold", "Plan: “Gold” is not one of Free, Paid."),
        ("member", "maybe", "Member: “maybe” is not yes or no."),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(
    fields: dict[str, CustomField], key: str, raw: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        field_parse(fields[key], raw)
    assert caught.value.messages == [message]


def test_a_definition_with_a_reserved_key_or_no_choices_is_refused() -> None:
    with pytest.raises(ValidationError, match="built-in column"):
        field_check_definition(key="email", kind=FieldKind.TEXT, choices=[])
    with pytest.raises(ValidationError, match="needs a list of values"):
        field_check_definition(key="plan", kind=FieldKind.CHOICE, choices=[])
    with pytest.raises(ValidationError, match="Start with a letter"):
        field_check_definition(key="2fast", kind=FieldKind.TEXT, choices=[])


def test_the_admin_defines_a_field_and_an_editor_fills_it_on_the_reader_form(admin_client: Any) -> None:
    response = admin_client.post(
        "/admin/subscribers/customfield/add/",
        {"label": "Plan", "key": "plan", "kind": "choice", "choices": '["Free", "Paid"]', "position": "0"},
    )
    assert response.status_code == 302, response.content.decode()
    reader = make_confirmed_reader(email="ann@example.org")
    page = admin_client.get(f"/admin/subscribers/subscriber/{reader.pk}/change/").content.decode()
    assert "Custom fields" in page and 'name="attr_plan"' in page
    form = {
        "email": reader.email,
        "name": "Ann",
        "paused_until": "",
        "attr_plan": "Paid",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"/admin/subscribers/subscriber/{reader.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()
    reader.refresh_from_db()
    assert reader.attributes == {"plan": "Paid"}
    form["attr_plan"] = ""
    admin_client.post(f"/admin/subscribers/subscriber/{reader.pk}/change/", form)
    reader.refresh_from_db()
    assert reader.attributes == {}


def test_a_choice_field_without_values_is_refused_in_the_admin(admin_client: Any) -> None:
    response = admin_client.post(
        "/admin/subscribers/customfield/add/",
        {"label": "Plan", "key": "plan", "kind": "choice", "choices": "[]", "position": "0"},
    )
    assert response.status_code == 200 and "needs a list of values" in response.content.decode()
    assert not CustomField.objects.exists()


def _matching(fields: dict[str, CustomField], key: str, operator: str, raw: str = "") -> set[str]:
    value = field_parse(fields[key], raw) if raw else None
    rules = SegmentRules(field_key=key, field_operator=operator, field_value=value)
    return set(Subscriber.objects.filter(rules_filter(rules)).values_list("email", flat=True))


def test_segment_rules_compare_custom_field_values(fields: dict[str, CustomField]) -> None:
    Subscriber.objects.bulk_create(
        [
            Subscriber(email="a@example.org", status=SubscriberStatus.ACTIVE, attributes={"plan": "Paid", "age": 30}),
            Subscriber(email="b@example.org", status=SubscriberStatus.ACTIVE, attributes={"plan": "Free", "age": 55}),
            Subscriber(email="c@example.org", status=SubscriberStatus.ACTIVE, attributes={"renews_on": "2026-05-01"}),
        ]
    )
    assert _matching(fields, "plan", FieldOperator.EQUALS, "paid") == {"a@example.org"}
    assert _matching(fields, "plan", FieldOperator.NOT_EQUALS, "Paid") == {"b@example.org", "c@example.org"}
    assert _matching(fields, "age", FieldOperator.GREATER, "40") == {"b@example.org"}
    assert _matching(fields, "age", FieldOperator.LESS, "40") == {"a@example.org"}
    assert _matching(fields, "renews_on", FieldOperator.LESS, "2026-06-01") == {"c@example.org"}
    assert _matching(fields, "age", FieldOperator.EMPTY) == {"c@example.org"}
    assert _matching(fields, "age", FieldOperator.SET) == {"a@example.org", "b@example.org"}


def test_the_segment_live_count_takes_a_custom_field_condition(admin_client: Any, fields: dict[str, Any]) -> None:
    Subscriber.objects.create(email="a@example.org", status=SubscriberStatus.ACTIVE, attributes={"plan": "Paid"})
    Subscriber.objects.create(email="b@example.org", status=SubscriberStatus.ACTIVE, attributes={"plan": "Free"})
    plan = fields["plan"].pk
    ok = admin_client.get(
        "/admin/subscribers/segment/count/", {"field": plan, "field_operator": "equals", "field_value": "Paid"}
    )
    assert ok.status_code == 200 and 1 in ok.json().values()
    bad = admin_client.get(
        "/admin/subscribers/segment/count/", {"field": plan, "field_operator": "equals", "field_value": "Gold"}
    )
    assert bad.status_code == 400 and "field_value" in bad.json()["errors"]


def test_the_export_has_a_column_per_custom_field(fields: dict[str, CustomField]) -> None:
    Subscriber.objects.create(email="a@example.org", attributes={"plan": "Paid", "member": True, "age": 30})
    header, row = list(export_rows(Subscriber.objects.all()))
    # In the admin's order of the fields (position, then label).
    assert header[-5:] == ["age", "city", "member", "plan", "renews_on"]
    assert row[-5:] == ["30", "", "yes", "Paid", ""]
