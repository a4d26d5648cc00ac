"""Builders shared by the public-site tests."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from issues.models import Issue, IssueStatus
from issues.search import search_vector_refresh
from testing.factories import IssueFactory, make_full_issue


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 18), (30, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def published(*, full: bool = True, when: datetime | None = None, cover: bool = False, **kwargs: Any) -> Issue:
    """A sent issue readers may see."""
    kwargs.setdefault("status", IssueStatus.SENT)
    kwargs.setdefault("publish_date", when or timezone.now() - timezone.timedelta(days=1))
    kwargs.setdefault("reading_minutes", 8)
    issue = make_full_issue(**kwargs) if full else IssueFactory.create(**kwargs)
    search_vector_refresh(issue_ids=[issue.pk])
    if cover:
        issue.cover_image.save("cover.png", ContentFile(png_bytes()), save=True)
    return issue
