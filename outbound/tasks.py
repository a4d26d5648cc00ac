"""Celery entry points for outgoing webhooks. No ETA tasks: the rows hold the schedule,
and a periodic run (OUTBOUND_WEBHOOKS_POLL_SECONDS) sends whatever is due."""

from __future__ import annotations

import contextlib

from celery import shared_task

from core.queue import BROKER_ERRORS
from outbound import services


@shared_task(name="outbound.deliver_due")
def deliver_due() -> int:
    return services.deliveries_send_due()


def kick() -> None:
    """Send what is due now rather than at the next periodic run; a broker that is down only delays it."""
    with contextlib.suppress(*BROKER_ERRORS):
        deliver_due.delay()
