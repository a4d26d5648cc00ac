from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from issues.emails import send_test_issue
from issues.models import PreviewSend, PreviewSendStatus

logger = logging.getLogger(__name__)


@shared_task(name="issues.preview_send", acks_late=True)
def preview_send_task(preview_send_id: int) -> None:
    """Send a stored test send once; record when it went or why it failed.

    A test send is not retried automatically: the editor sees the error and
    presses the button again."""
    preview = PreviewSend.objects.select_related("issue").filter(pk=preview_send_id).first()
    if preview is None or preview.status == PreviewSendStatus.SENT:
        return
    try:
        send_test_issue(issue=preview.issue, recipients=list(preview.recipients))
    except Exception as exc:
        logger.exception("Test send %s failed", preview_send_id)
        failed = f"{type(exc).__name__}: {exc}"[:2000]
        PreviewSend.objects.filter(pk=preview.pk).update(status=PreviewSendStatus.FAILED, error=failed)
        return
    PreviewSend.objects.filter(pk=preview.pk).update(status=PreviewSendStatus.SENT, sent_at=timezone.now(), error="")
