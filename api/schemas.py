"""The API's request and response bodies (pydantic, through django-ninja).

Every request body forbids fields it does not know, so a misspelt field is a
422 naming it instead of being dropped without a word."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from subscribers.models import ConsentBasis, SubscriberStatus


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class FieldError(Schema):
    field: str = Field(
        description="The field at fault: a body field (dotted for nested ones), a query parameter or a header."
    )
    message: str


class Error(Schema):
    detail: str
    errors: list[FieldError] = []


ERRORS: dict[int, Any] = dict.fromkeys((400, 401, 403, 404, 409, 422, 429, 503), Error)


def answers(code: int, schema: Any) -> dict[int, Any]:
    return {code: schema, **ERRORS}


# --- audience -----------------------------------------------------------------

#: A custom field's value: text and choices as strings, numbers as numbers, dates as "YYYY-MM-DD", yes/no as booleans.
AttributeValue = str | int | float | bool
# Checked by subscribers.fields.attributes_from_json against each field's kind, so its messages name the field.
_ATTRIBUTE_JSON: Any = {"type": ["string", "number", "boolean", "null"]}


def _typed_attributes(schema: dict[str, Any]) -> None:
    """Say in the schema which JSON types a value may take (the object itself, or its non-null branch)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "object":
            branch["additionalProperties"] = _ATTRIBUTE_JSON


_ATTRIBUTES_IN = (
    "Custom fields by key (GET /fields): a string for text and choice fields, a number, "
    '"YYYY-MM-DD" for a date, true/false for yes/no. An unknown key or a value of the wrong type is a 422 '
    "naming attributes.<key>, and nothing is stored."
)

ConsentChoice = Literal["confirm_by_email", "double_opt_in", "signup_form", "in_person", "none"]
assert set(ConsentChoice.__args__) == {"confirm_by_email", *ConsentBasis.values}  # type: ignore[attr-defined]
StatusChoice = Literal["pending", "active", "unsubscribed", "bounced", "complained", "inactive"]
assert set(StatusChoice.__args__) == set(SubscriberStatus.values)  # type: ignore[attr-defined]


class SubscriberOut(Schema):
    id: int
    email: str
    name: str
    status: StatusChoice
    source: str
    lists: list[int] = Field(description="Ids of the reader's lists (GET /lists).")
    tags: list[str]
    created_at: datetime.datetime
    confirmed_at: datetime.datetime | None
    unsubscribed_at: datetime.datetime | None
    paused_until: datetime.date | None
    last_engaged_at: datetime.datetime | None
    time_zone: str = Field("", description="IANA time zone, e.g. Europe/Berlin; empty when unknown.")
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict,
        description="The reader's custom fields (GET /fields) by key; a field without a value is left out.",
    )


class SubscriberPage(Schema):
    results: list[SubscriberOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


_ZONE_IN = (
    "The reader's IANA time zone (Europe/Berlin), for sends at a local time; blank: the publication's. "
    "An unknown name is a 422 on time_zone."
)


class SubscriberCreate(Input):
    email: str = Field(max_length=254)
    name: str = Field("", max_length=100)
    lists: list[int] = Field(default_factory=list, description="List ids.")
    tags: list[str] = Field(default_factory=list, description="Tag names; new ones are created.")
    consent: ConsentChoice = Field(
        "confirm_by_email",
        description="confirm_by_email: stored pending and sent the confirmation email (double opt-in). "
        "double_opt_in / signup_form / in_person: consent given elsewhere, active at once. "
        "none: stored pending, sent nothing.",
    )
    consent_text: str = Field("", max_length=2000, description="The words the reader agreed to, kept with the consent.")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description=_ATTRIBUTES_IN, json_schema_extra=_typed_attributes
    )
    time_zone: str = Field("", max_length=64, description=_ZONE_IN)


class SubscriberUpdate(Input):
    name: str | None = Field(None, max_length=100)
    lists: list[int] | None = Field(None, description="The reader's lists from now on (replaces them).")
    tags: list[str] | None = Field(None, description="The reader's tags from now on (replaces them).")
    attributes: dict[str, Any] | None = Field(
        None,
        description=_ATTRIBUTES_IN + " Only the keys sent change; null removes a value.",
        json_schema_extra=_typed_attributes,
    )
    time_zone: str | None = Field(None, max_length=64, description=_ZONE_IN + ' "" clears it.')


class ErasedOut(Schema):
    erased: bool
    email_hash: str = Field(description="SHA-256 of the address: all that is kept, so nothing reaches it again.")


class MailingListOut(Schema):
    id: int
    name: str
    slug: str
    description: str
    public: bool
    default: bool
    active_subscribers: int
    inactive_subscribers: int = Field(description="Readers the list's sunset policy moved to inactive.")
    sunset_enabled: bool = Field(description="Whether the list's sunset policy is on.")


class TagOut(Schema):
    id: int
    name: str
    subscribers: int


class CustomFieldOut(Schema):
    key: str = Field(
        description="The key in a reader's attributes, the CSV column and the merge tag {{ key|fallback }}."
    )
    label: str
    kind: Literal["text", "number", "date", "choice", "boolean"]
    choices: list[str] = Field(description="The values a choice field allows (empty for other kinds).")
    help_text: str


class SegmentOut(Schema):
    id: int
    name: str
    lists: list[int]
    tags: list[int]
    status: str
    signed_up_after: datetime.date | None
    signed_up_before: datetime.date | None
    engaged_within_days: int | None
    inactive_for_days: int | None
    field_key: str = Field(description="A custom-field condition's field (empty when the segment has none).")
    field_operator: str = Field(description="equals, not_equals, greater, less, set or empty.")
    field_value: AttributeValue | None = Field(description="The value the condition compares with, as stored.")
    matching: int = Field(description="Readers matching the rules now, in any status.")
    sendable: int = Field(description="Readers a send to this segment would reach now.")


# --- issues -------------------------------------------------------------------

SectionKindChoice = Literal["lead", "highlight", "tool", "quick_links"]


class ItemIn(Input):
    label: str = ""
    text: str = ""
    url: str = ""


class SectionIn(Input):
    id: int | None = Field(None, description="An existing section of this issue to change; omit for a new one.")
    kind: SectionKindChoice
    heading: str = ""
    body: str = Field("", description="Rich text (HTML), sanitised as in the admin.")
    analysis: str = Field("", description="Rich text (HTML), sanitised as in the admin.")
    sponsor_label: str = ""
    partner_name: str = ""
    link_url: str = ""
    link_label: str = ""
    items: list[ItemIn] = []


class IssueCreate(Input):
    title: str = Field(max_length=200)
    slug: str = Field("", max_length=120, description="Follows the title when empty.")
    subject: str = Field("", max_length=200)
    preheader: str = Field("", max_length=200)
    summary: str = ""
    canonical_url: str = ""
    sections: list[SectionIn] = []


class IssueUpdate(Input):
    version: int = Field(description="The version the change is based on; 409 if someone saved since.")
    title: str | None = Field(None, max_length=200)
    slug: str | None = Field(None, max_length=120)
    subject: str | None = Field(None, max_length=200)
    preheader: str | None = Field(None, max_length=200)
    summary: str | None = None
    canonical_url: str | None = None
    sections: list[SectionIn] | None = Field(
        None, description="Every section in order (replaces them: a section left out is deleted); omit to keep them."
    )


class ItemOut(Schema):
    label: str
    text: str
    url: str


class SectionOut(Schema):
    id: int
    kind: SectionKindChoice
    heading: str
    body: str
    analysis: str
    sponsor_label: str
    partner_name: str
    link_url: str
    link_label: str
    items: list[ItemOut]


class IssueSummary(Schema):
    id: int
    title: str
    slug: str
    status: str
    subject: str
    publish_date: datetime.datetime | None
    version: int
    updated_at: datetime.datetime
    url: str = Field(description="The issue's page on the web archive (public once sent).")


class IssueOut(IssueSummary):
    preheader: str
    summary: str
    canonical_url: str
    word_count: int
    reading_minutes: int
    sections: list[SectionOut]


class IssuePage(Schema):
    results: list[IssueSummary]
    next_cursor: str | None


class RenderedOut(Schema):
    subject: str
    preheader: str
    html: str = Field(description="The email's HTML; per-reader values are the provider's merge tags.")
    text: str = Field(description="The plain-text part.")
    web_html: str = Field(description="The sections as the web page shows them.")


# --- sends and analytics ---------------------------------------------------------


class SendCreate(Input):
    issue: int = Field(description="An approved issue's id.")
    lists: list[int] = []
    segment: int | None = None
    scheduled_at: datetime.datetime | None = Field(None, description="When to send (with a time zone); now when null.")


class SendReschedule(Input):
    scheduled_at: datetime.datetime = Field(
        description="The new sending time, with its time zone (for example 2026-05-01T07:00:00+01:00)."
    )


class SendOut(Schema):
    id: int
    issue: int
    lists: list[int]
    segment: int | None
    status: str
    scheduled_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    total: int
    error: str


class SendPage(Schema):
    results: list[SendOut]
    next_cursor: str | None


class ProgressOut(Schema):
    id: int
    status: str
    status_label: str
    ended: bool
    total: int
    sent: int
    failed: int
    uncertain: int
    skipped: int
    remaining: int
    percent: float
    rate: float = Field(description="Readers sent per second.")
    eta_seconds: int | None
    error: str


class FigureOut(Schema):
    key: str
    label: str
    count: int
    base: str
    rate: float | None = Field(description="A share of the base (0..1); null when the base is zero.")


class LinkOut(Schema):
    url: str
    clicks: int
    readers: int


class AnalyticsOut(Schema):
    send: int
    figures: list[FigureOut]
    top_links: list[LinkOut]


class EventOut(Schema):
    id: int
    type: str
    at: datetime.datetime
    send: int | None
    subscriber: int | None
    recipient: str
    url: str
    description: str


class EventPage(Schema):
    results: list[EventOut]
    next_cursor: str | None
