"""The export formats of the platforms publishers leave, read into one shape.

Each platform's subscriber export names its columns its own way; a
``Layout`` is chosen from the header row and turns each record into a
``Record``: address, name, tags, lists, status, the date the reader
originally opted in and where they came from, and the raw values of columns
named like one of our custom fields. The columns and values below were
checked against what each platform writes (sources in docs/imports.md):

* Mailchimp (audience export, one file per status): "Email Address", "First Name",
  "Last Name", merge fields by name, EMAIL_TYPE, MEMBER_RATING, OPTIN_TIME, OPTIN_IP,
  CONFIRM_TIME, CONFIRM_IP, location columns, UNSUB_TIME and UNSUB_* (the unsubscribed
  file), CLEAN_TIME and CLEAN_* (the cleaned file: addresses that bounced), LEID, EUID,
  NOTES, TAGS as a list of quoted names.
* Substack: the sign-ups export (email, active_subscription, expiry, email_disabled,
  created_at) and the subscribers export (email, expiry, email_disabled,
  stripe_connected_customer_id, type: free, paid, comp or gift). Addresses at
  deletion-request.substack.com are readers who asked to be deleted: never imported.
* beehiiv (subscribers export): email, First Name, Last Name, status (active,
  inactive, pending), tier (free, premium), created_at ("2023-03-24 10:23:10 UTC"),
  stripe_customer_id, unsubscribed_at. The API's other states (validating, invalid,
  needs_attention) and its utm_source / referring_site are read when present.
* Ghost (members export): id, email, name, note, subscribed_to_emails,
  complimentary_plan, stripe_customer_id, created_at, deleted_at, labels (comma
  separated), tiers (products in older exports), gift_id.
* listmonk (subscribers export): uuid, email, name, attributes (JSON), status
  (enabled, disabled, blocklisted), created_at, updated_at; the times as Go prints
  them ("2023-10-10 09:10:10.123456 +0000 UTC").
* Kit, formerly ConvertKit: email_address, first_name, state (active, inactive =
  never confirmed, cancelled, bounced, complained), created_at, tags: the names Kit's
  API gives its subscriber fields; its CSV export's own header was not found written down.
* Newsroom's own export (email, name, status, lists, tags, confirmed_at, …), so
  that an export imports back as it was.

Statuses are ours: "" (no word: active with a stated basis, pending without),
"pending", "unsubscribed", "bounced", "complained". An address a platform calls
unsubscribed or cleaned is never imported as active.
"""

from __future__ import annotations

import csv
import datetime
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils import timezone

#: Header names of the address column, across the platforms.
EMAIL_COLUMNS = ("email", "email address", "email_address", "e-mail")
_CUSTOM_KEY = re.compile(r"[^a-z0-9]+")
PENDING, UNSUBSCRIBED, BOUNCED, COMPLAINED = "pending", "unsubscribed", "bounced", "complained"
#: Newsroom's own export: moved by a list's sunset policy (automations.sunset).
INACTIVE = "inactive"


@dataclass
class Record:
    email: str = ""
    name: str = ""
    lists: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    status: str = ""
    consented_at: datetime.datetime | None = None
    origin: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    #: Why the row must not be imported at all (the importer rejects it with this reason).
    refused: str = ""
    time_zone: str = ""


#: Header names of a reader's time zone, read from any platform's file (Mailchimp calls it TIMEZONE).
TIME_ZONE_COLUMNS = ("time_zone", "timezone")

Cell = Callable[[str], str]


def _split(value: str, separator: str = ";") -> list[str]:
    return [part.strip() for part in value.split(separator) if part.strip()]


# listmonk (Go) ends a time with its zone's name after the offset: "... +0100 CET"; beehiiv with " UTC".
_GO_ZONE_NAME = re.compile(r"\s+[A-Z]{2,5}$")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_when(value: str) -> datetime.datetime | None:
    """A platform's timestamp (ISO 8601 with or without zone, or Mailchimp's "2024-01-31 09:15:00", UTC)."""
    text = _GO_ZONE_NAME.sub("", value.strip())
    if not text:
        return None
    # Go writes nanoseconds; Python reads at most microseconds.
    text = _LONG_FRACTION.sub(r"\1", text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in ("%m/%d/%Y %H:%M", "%m/%d/%Y", "%d/%m/%Y"):
            try:
                moment = datetime.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            return None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "1", "t", "y")


# --- one reader per platform ----------------------------------------------------


def _mailchimp(cell: Cell) -> Record:
    status = ""
    if cell("clean_time"):
        status = BOUNCED
    elif cell("unsub_time"):
        status = UNSUBSCRIBED
    # TAGS: "\"Customers\",\"VIP\"" - a CSV row of its own.
    tags = [t.strip() for t in next(csv.reader([cell("tags")]), []) if t.strip()] if cell("tags") else []
    return Record(
        email=cell("email address"),
        name=" ".join(part for part in (cell("first name"), cell("last name")) if part),
        tags=tags,
        status=status,
        consented_at=parse_when(cell("confirm_time") or cell("optin_time")),
        origin="Mailchimp" + (f", opted in from {cell('optin_ip')}" if cell("optin_ip") else ""),
    )


_SUBSTACK_DELETED = "@deletion-request.substack.com"


def _substack(cell: Cell) -> Record:
    kind = cell("type").lower() or ("paid" if _true(cell("active_subscription")) else "")
    email = cell("email")
    return Record(
        email=email,
        tags=[f"Substack {kind}"] if kind else [],
        status=UNSUBSCRIBED if _true(cell("email_disabled")) else "",
        consented_at=parse_when(cell("created_at")),
        origin="Substack",
        refused="Substack lists this reader as asking to be deleted: not imported."
        if email.lower().endswith(_SUBSTACK_DELETED)
        else "",
    )


_BEEHIIV_STATUS = {"inactive": UNSUBSCRIBED, "unsubscribed": UNSUBSCRIBED, "validating": PENDING, "pending": PENDING}
_BEEHIIV_STATUS |= {"invalid": BOUNCED, "needs_attention": PENDING}


def _beehiiv(cell: Cell) -> Record:
    tier = cell("tier") or cell("subscription_tier")
    source = cell("utm_source") or cell("referring_site")
    first, last = cell("first name") or cell("first_name"), cell("last name") or cell("last_name")
    status = _BEEHIIV_STATUS.get(cell("status").lower(), "")
    return Record(
        email=cell("email"),
        name=" ".join(part for part in (first, last) if part),
        tags=[f"beehiiv {tier}"] if tier else [],
        status=UNSUBSCRIBED if cell("unsubscribed_at") and status in ("", PENDING) else status,
        consented_at=parse_when(cell("created_at")),
        origin="beehiiv" + (f" via {source}" if source else ""),
    )


def _ghost(cell: Cell) -> Record:
    tiers = _split(cell("tiers") or cell("products"), ",")
    tags = _split(cell("labels"), ",") + [f"Ghost {tier}" for tier in tiers]
    return Record(
        email=cell("email"),
        name=cell("name"),
        tags=tags,
        status="" if _true(cell("subscribed_to_emails")) else UNSUBSCRIBED,
        consented_at=parse_when(cell("created_at")),
        origin="Ghost",
    )


_LISTMONK_STATUS = {"blocklisted": UNSUBSCRIBED, "disabled": UNSUBSCRIBED}


def _listmonk(cell: Cell) -> Record:
    try:
        attributes = json.loads(cell("attributes") or cell("attribs") or "{}")
    except json.JSONDecodeError:
        attributes = {}
    flat = (
        {str(k): ("" if v is None else str(v)) for k, v in attributes.items()} if isinstance(attributes, dict) else {}
    )
    return Record(
        email=cell("email"),
        name=cell("name"),
        status=_LISTMONK_STATUS.get(cell("status").lower(), ""),
        consented_at=parse_when(cell("created_at")),
        origin="listmonk",
        attributes={_CUSTOM_KEY.sub("_", k.lower()).strip("_"): v for k, v in flat.items()},
    )


# Kit's "inactive" is a reader who never confirmed: pending here, never active.
_KIT_STATUS = {"inactive": PENDING, "cancelled": UNSUBSCRIBED, "unsubscribed": UNSUBSCRIBED}
_KIT_STATUS |= {"bounced": BOUNCED, "complained": COMPLAINED, "unconfirmed": PENDING}


def _kit(cell: Cell) -> Record:
    return Record(
        email=cell("email_address"),
        name=" ".join(part for part in (cell("first_name"), cell("last_name")) if part),
        tags=_split(cell("tags"), ","),
        status=_KIT_STATUS.get(cell("state").lower() or cell("status").lower(), ""),
        consented_at=parse_when(cell("created_at")),
        origin="Kit" + (f" via {cell('referrer')}" if cell("referrer") else ""),
    )


_OWN_STATUS = {"pending": PENDING, "unsubscribed": UNSUBSCRIBED, "bounced": BOUNCED, "complained": COMPLAINED}
_OWN_STATUS |= {"inactive": INACTIVE}


def _newsroom(cell: Cell) -> Record:
    return Record(
        email=cell("email"),
        name=cell("name"),
        lists=_split(cell("lists")),
        tags=_split(cell("tags")),
        status=_OWN_STATUS.get(cell("status").lower(), ""),
        consented_at=parse_when(cell("confirmed_at")),
        origin="",
    )


@dataclass(frozen=True)
class Platform:
    key: str
    label: str
    detect: Callable[[set[str]], bool]
    read: Callable[[Cell], Record]
    #: Columns this reader uses itself (the rest may be custom fields).
    columns: frozenset[str]


def _has_any(columns: set[str], names: Iterable[str]) -> bool:
    return any(name in columns for name in names)


PLATFORMS = [
    Platform(
        "mailchimp",
        "Mailchimp audience export",
        lambda c: "email address" in c and _has_any(c, ("member_rating", "optin_time", "leid", "euid", "confirm_time")),
        _mailchimp,
        frozenset({"email address", "first name", "last name", "tags", "optin_time", "optin_ip", "confirm_time"})
        | frozenset({"confirm_ip", "unsub_time", "clean_time", "member_rating", "leid", "euid", "last_changed"})
        | frozenset({"email_type", "latitude", "longitude", "gmtoff", "dstoff", "timezone", "cc", "region", "notes"})
        | frozenset({"unsub_campaign_title", "unsub_campaign_id", "unsub_reason", "unsub_reason_other"})
        | frozenset({"clean_campaign_title", "clean_campaign_id"}),
    ),
    Platform(
        "kit",
        "Kit (ConvertKit) subscribers export",
        lambda c: "email_address" in c,
        _kit,
        frozenset({"email_address", "first_name", "last_name", "state", "status", "created_at", "tags", "referrer"}),
    ),
    Platform(
        "ghost",
        "Ghost members export",
        lambda c: "subscribed_to_emails" in c,
        _ghost,
        frozenset({"id", "email", "name", "note", "subscribed_to_emails", "labels", "tiers", "created_at"})
        | frozenset({"complimentary_plan", "stripe_customer_id", "deleted_at", "products", "gift_id"}),
    ),
    Platform(
        "listmonk",
        "listmonk subscribers export",
        lambda c: "uuid" in c and "status" in c and _has_any(c, ("attributes", "attribs")),
        _listmonk,
        frozenset({"uuid", "email", "name", "attributes", "attribs", "status", "created_at", "updated_at"}),
    ),
    Platform(
        "substack",
        "Substack subscribers export",
        lambda c: _has_any(c, ("email_disabled", "active_subscription")),
        _substack,
        frozenset({"email", "active_subscription", "expiry", "email_disabled", "created_at", "type"})
        | frozenset({"stripe_connected_customer_id"}),
    ),
    Platform(
        "beehiiv",
        "beehiiv subscribers export",
        lambda c: (
            "email" in c
            and "status" in c
            and _has_any(c, ("tier", "subscription_tier", "utm_source", "referring_site"))
        ),
        _beehiiv,
        frozenset({"email", "status", "created_at", "subscription_tier", "tier", "utm_source", "utm_medium"})
        | frozenset({"utm_channel", "utm_campaign", "referring_site", "referral_code", "first_name", "last_name"})
        | frozenset({"first name", "last name", "stripe_customer_id", "unsubscribed_at"}),
    ),
]
NEWSROOM = Platform(
    "newsroom",
    "Newsroom CSV",
    lambda c: True,
    _newsroom,
    frozenset({"email", "name", "status", "source", "lists", "tags", "created_at", "confirmed_at"})
    | frozenset({"unsubscribed_at"}),
)


def custom_key(column: str) -> str:
    """The custom-field key a column header stands for ("Favourite Team" → favourite_team)."""
    return _CUSTOM_KEY.sub("_", column.lower()).strip("_")


@dataclass(frozen=True)
class Layout:
    platform: Platform
    index: dict[str, int]
    #: Custom-field key → column position.
    custom: dict[str, int]

    def record(self, raw: list[str], clean: Callable[[str], str]) -> Record:
        def cell(name: str) -> str:
            position = self.index.get(name)
            return clean(raw[position]) if position is not None else ""

        record = self.platform.read(cell)
        for key, position in self.custom.items():
            record.attributes.setdefault(key, clean(raw[position]))
        record.time_zone = next((cell(name) for name in TIME_ZONE_COLUMNS if cell(name)), "")
        return record

    @property
    def used_columns(self) -> set[str]:
        custom = {column for column, position in self.index.items() if position in self.custom.values()}
        return (set(self.index) & (set(self.platform.columns) | set(TIME_ZONE_COLUMNS))) | custom


def layout_for(columns: list[str], custom_keys: Iterable[str]) -> Layout:
    """The platform whose export this header is, and which columns hold custom fields."""
    present = set(columns)
    platform = next((p for p in PLATFORMS if p.detect(present)), NEWSROOM)
    keys = set(custom_keys)
    custom = {
        custom_key(column): position
        for position, column in enumerate(columns)
        if custom_key(column) in keys and column not in platform.columns
    }
    return Layout(platform=platform, index={c: i for i, c in enumerate(columns)}, custom=custom)


def has_email_column(columns: Iterable[str]) -> bool:
    return any(column in EMAIL_COLUMNS for column in columns)


def email_position(columns: list[str]) -> int:
    return next(i for i, column in enumerate(columns) if column in EMAIL_COLUMNS)
