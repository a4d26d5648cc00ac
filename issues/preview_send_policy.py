"""Who may send a test of an issue to whom, and how many (called by services.preview_send_create).

A test send goes out before any approval, so without limits a contributor could
mail an unfinished or unapproved issue to anyone, ten addresses a request, as
often as they liked. Two rules:

* **Recipients** (``settings.TEST_SEND_RECIPIENTS``, for contributors): ``staff``
  (the default) allows the addresses of active staff accounts only;
  ``allowlist`` allows those and the addresses or ``@domains`` in
  ``settings.TEST_SEND_ALLOWED_ADDRESSES``; ``any`` allows every address.
  Editors may send tests anywhere: they can approve the issue and send it to the
  whole audience, so holding their tests back would protect nothing.
* **Rate** (``settings.TEST_SEND_LIMIT_PER_HOUR``, for everyone, editors too):
  counted per recipient address, over the person's test sends of the last
  sixty minutes, since each address is one email out through the provider.
  Test sends the queue never took (status not_queued) do not count.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.utils import timezone

from issues.models import PreviewSend, PreviewSendStatus

WINDOW = timedelta(hours=1)


def preview_send_recipients_check(*, recipients: list[str], is_editor: bool) -> None:
    """Raise ValidationError naming the addresses this person may not send a test to."""
    mode = settings.TEST_SEND_RECIPIENTS
    if is_editor or mode == "any":
        return
    staff = _staff_addresses(recipients)
    allowed = set(settings.TEST_SEND_ALLOWED_ADDRESSES) if mode == "allowlist" else set()
    refused = [address for address in recipients if not _allowed(address.lower(), staff=staff, allowed=allowed)]
    if not refused:
        return
    where = "staff addresses" if mode == "staff" else "staff addresses and the addresses an editor allowed"
    raise ValidationError(
        f"Contributors may send tests only to {where}; not to {', '.join(refused)}. Ask an editor to send this test."
    )


def preview_send_quota_check(*, recipients: list[str], acting_user: Any) -> None:
    """Raise ValidationError when these addresses would take the person past the hourly limit.

    Call inside the transaction that stores the test send: the person's row is
    locked, so two requests at once are counted one after the other (PostgreSQL;
    SQLite takes one writer at a time anyway).
    """
    get_user_model().objects.select_for_update().filter(pk=acting_user.pk).values_list("pk").first()
    limit = settings.TEST_SEND_LIMIT_PER_HOUR
    recent = PreviewSend.objects.filter(requested_by=acting_user, requested_at__gt=timezone.now() - WINDOW)
    taken = recent.exclude(status=PreviewSendStatus.NOT_QUEUED)
    used = sum(len(addresses) for addresses in taken.values_list("recipients", flat=True))
    if used + len(recipients) <= limit:
        return
    left = max(limit - used, 0)
    raise ValidationError(
        f"Test sends are limited to {limit} addresses an hour per person; {used} used in the last hour, "
        f"{left} left. Try again later or with fewer addresses."
    )


def _staff_addresses(recipients: list[str]) -> set[str]:
    users = get_user_model().objects.filter(is_staff=True, is_active=True)
    wanted = {address.lower() for address in recipients}
    lowered = users.annotate(address=Lower("email")).filter(address__in=wanted)
    return set(lowered.values_list("address", flat=True))


def _allowed(address: str, *, staff: set[str], allowed: set[str]) -> bool:
    domain = "@" + address.rpartition("@")[2]
    return address in staff or address in allowed or domain in allowed
