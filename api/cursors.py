"""Signed, opaque page cursors.

A cursor carries the sort values of the last row of a page and a digest of the
filters it was made with, signed with SECRET_KEY (django.core.signing). A
cursor that was changed, made for other filters or by another server is
refused with 400, never read as something else.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core import signing

SALT = "api.cursor.v1"


class BadCursor(Exception):
    """The cursor is not one this API gave out for this listing."""


def _digest(listing: str, filters: dict[str, Any]) -> str:
    raw = json.dumps([listing, filters], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def cursor_make(*, listing: str, filters: dict[str, Any], after: list[Any]) -> str:
    return signing.dumps({"f": _digest(listing, filters), "a": after}, salt=SALT, compress=True)


def cursor_read(raw: str, *, listing: str, filters: dict[str, Any]) -> list[Any]:
    """The sort values of the row the cursor's page ended at; BadCursor if it was tampered with."""
    try:
        data = signing.loads(raw, salt=SALT)
    except signing.BadSignature:
        raise BadCursor("The cursor is not valid: pass back next_cursor exactly as it was given.") from None
    if not isinstance(data, dict) or data.get("f") != _digest(listing, filters) or not isinstance(data.get("a"), list):
        raise BadCursor("The cursor belongs to a listing with other filters: start again without a cursor.")
    return data["a"]
