from __future__ import annotations

from typing import Any

from celery import shared_task
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout

from newsroom.emails import send_templated


@shared_task(
    name="newsroom.send_email",
    autoretry_for=(RequestsConnectionError, Timeout, ConnectionError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def send_email_task(
    *, kind: str, to: list[str], context: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    """Send one transactional email. Arguments are JSON: the kind and its context."""
    send_templated(kind=kind, to=to, context=context, headers=headers)
