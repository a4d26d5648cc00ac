"""Celery entry points of the API app."""

from __future__ import annotations

from celery import shared_task

from api.services import api_logs_prune


@shared_task(name="api.prune_logs")
def prune_logs() -> dict[str, int]:
    return api_logs_prune()
