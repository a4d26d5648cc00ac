"""Reading a primary key that came from outside (a URL, a form, a provider's metadata).

``str.isdigit()`` is the wrong test: it is true for "²" and "٣", which ``int()``
then refuses (or reads as another number), so a crafted value became a 500.
"""

from __future__ import annotations

import re

# ASCII digits only; 18 of them always fit a PostgreSQL bigint (19 may not).
_ID = re.compile(r"[0-9]{1,18}")


def parse_id(raw: object) -> int | None:
    """The id ``raw`` spells in ASCII digits (at most 18 of them), else None."""
    if not isinstance(raw, str) or not _ID.fullmatch(raw):
        return None
    return int(raw)
