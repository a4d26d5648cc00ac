"""The archive's part of sitemap.xml: every public issue (newsroom/sitemaps.py assembles the whole)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet

from issues.models import Issue
from issues.selectors import public_issues


class SiteUrlSitemap(Sitemap):  # type: ignore[type-arg]
    """Locations on SITE_URL's scheme and host, whatever host the request used."""

    def get_domain(self, site: Any = None) -> str:
        return urlsplit(settings.SITE_URL).netloc

    def get_protocol(self, protocol: str | None = None) -> str:
        return urlsplit(settings.SITE_URL).scheme or "https"


class IssueSitemap(SiteUrlSitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self) -> QuerySet[Issue]:
        return public_issues().only("slug", "updated_at")

    def lastmod(self, item: Issue) -> datetime:
        return item.updated_at
