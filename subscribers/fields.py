"""Custom reader fields: what a value of each kind may be, read from text (a CSV cell, a form).

Values are stored as JSON in Subscriber.attributes: text and choices as
strings, numbers as numbers, dates as ISO strings (YYYY-MM-DD, so that they
sort and compare as dates), yes/no as booleans. An empty cell is no value.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from subscribers.models import CustomField, FieldKind

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: Column names and merge keys the system uses itself; a custom field may not take them.
RESERVED_KEYS = frozenset(
    {"email", "name", "status", "source", "lists", "tags", "created_at", "confirmed_at", "unsubscribed_at"}
    | {"unsubscribe_url", "preferences_url", "web_url", "one_click_url"}
)
_TRUE = {"yes", "y", "true", "1", "on", "x"}
_FALSE = {"no", "n", "false", "0", "off"}
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y/%m/%d", "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S")
MAX_TEXT = 500


def field_check_definition(*, key: str, kind: str, choices: list[Any]) -> None:
    """Raise ValidationError (naming the field) if a definition cannot work."""
    if not KEY_PATTERN.fullmatch(key):
        raise ValidationError({"key": "Start with a letter; use lower-case letters, digits and _ (at most 40)."})
    if key in RESERVED_KEYS:
        raise ValidationError({"key": f"“{key}” is a built-in column; choose another key."})
    if kind == FieldKind.CHOICE:
        if not choices or not all(isinstance(c, str) and c.strip() for c in choices):
            raise ValidationError({"choices": 'A choice field needs a list of values, e.g. ["Free", "Paid"].'})
        if len({c.strip().lower() for c in choices}) != len(choices):
            raise ValidationError({"choices": "Each value may appear once."})
    elif choices:
        raise ValidationError({"choices": "Only a choice field has a list of values."})


def field_parse(field: CustomField, raw: Any) -> Any:
    """The stored value of ``raw`` for ``field`` (None when empty); ValidationError names the field."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    try:
        return _PARSERS[field.kind](field, text)
    except ValidationError as error:
        raise ValidationError(f"{field.label}: {error.messages[0]}") from None


def _text(field: CustomField, text: str) -> str:
    if len(text) > MAX_TEXT:
        raise ValidationError(f"at most {MAX_TEXT} characters.")
    return text


def _number(field: CustomField, text: str) -> int | float:
    try:
        value = Decimal(text.replace(",", "") if text.count(",") and "." in text else text.replace(",", "."))
    except InvalidOperation:
        raise ValidationError(f"“{text[:40]}” is not a number.") from None
    if not value.is_finite():
        raise ValidationError(f"“{text[:40]}” is not a number.")
    return int(value) if value == value.to_integral_value() else float(value)


def _date(field: CustomField, text: str) -> str:
    candidate = text[:19].replace("T", " ")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(candidate if " " in fmt else candidate[:10], fmt).date().isoformat()
        except ValueError:
            continue
    raise ValidationError(f"“{text[:40]}” is not a date (write it as 2026-03-31).")


def _choice(field: CustomField, text: str) -> str:
    for choice in field.choices:
        if choice.lower() == text.lower():
            return str(choice)
    raise ValidationError(f"“{text[:40]}” is not one of {', '.join(field.choices)}.")


def _boolean(field: CustomField, text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValidationError(f"“{text[:40]}” is not yes or no.")


_PARSERS: dict[str, Callable[[CustomField, str], Any]] = {
    FieldKind.TEXT: _text,
    FieldKind.NUMBER: _number,
    FieldKind.DATE: _date,
    FieldKind.CHOICE: _choice,
    FieldKind.BOOLEAN: _boolean,
}


def form_field(field: CustomField) -> forms.Field:
    """The admin form's field for ``field``; its cleaned value goes through field_parse."""
    common: dict[str, Any] = {"label": field.label, "required": False, "help_text": field.help_text}
    if field.kind == FieldKind.NUMBER:
        return forms.DecimalField(**common)
    if field.kind == FieldKind.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if field.kind == FieldKind.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *((c, c) for c in field.choices)], **common)
    if field.kind == FieldKind.BOOLEAN:
        return forms.NullBooleanField(**common)
    return forms.CharField(max_length=MAX_TEXT, **common)


def display(value: Any) -> str:
    """A stored value as text (CSV export, merge values)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def attributes_from_json(values: dict[str, Any], *, prefix: str = "attributes") -> dict[str, Any]:
    """The stored values of a JSON object of custom fields (the API's ``attributes``), checked by kind.

    JSON has types, so they are held to: a number field takes a JSON number, a
    yes/no field true or false, a date field "YYYY-MM-DD", text and choice
    fields strings (a choice matched without regard to case). ``null`` or an
    empty string means "no value" and comes back as None, so the caller can
    remove the key. Every problem is collected first; one ValidationError names
    each field at fault as ``attributes.<key>``, so nothing is stored half.
    """
    fields = {f.key: f for f in CustomField.objects.filter(key__in=list(values))}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        name = f"{prefix}.{key}"
        field = fields.get(key)
        if field is None:
            errors[name] = "Unknown custom field: define it in the admin (Custom fields) first."
            continue
        if raw is None or raw == "":
            cleaned[key] = None
            continue
        try:
            cleaned[key] = _JSON_CHECKS[field.kind](field, raw)
        except ValidationError as error:
            errors[name] = f"{field.label}: {error.messages[0]}"
    if errors:
        raise ValidationError(errors)
    return cleaned


def _json_text(field: CustomField, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationError("a text field takes a string.")
    return _text(field, raw.strip())


def _json_number(field: CustomField, raw: Any) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValidationError("a number field takes a JSON number, e.g. 42 or 3.5.")
    return _number(field, repr(raw))


def _json_date(field: CustomField, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationError('a date field takes a string "YYYY-MM-DD".')
    try:
        return datetime.date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        raise ValidationError(f"“{raw[:40]}” is not a date written YYYY-MM-DD.") from None


def _json_choice(field: CustomField, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationError(f"a choice field takes one of the strings {', '.join(field.choices)}.")
    return _choice(field, raw.strip())


def _json_boolean(field: CustomField, raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ValidationError("a yes/no field takes true or false.")
    return raw


_JSON_CHECKS: dict[str, Callable[[CustomField, Any], Any]] = {
    FieldKind.TEXT: _json_text,
    FieldKind.NUMBER: _json_number,
    FieldKind.DATE: _json_date,
    FieldKind.CHOICE: _json_choice,
    FieldKind.BOOLEAN: _json_boolean,
}


def attributes_merge(stored: dict[str, Any] | None, cleaned: dict[str, Any]) -> dict[str, Any]:
    """``stored`` with ``cleaned`` applied: a None removes the key."""
    merged = dict(stored or {})
    for key, value in cleaned.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
