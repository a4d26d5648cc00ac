"""The archive's part of sitemap.xml: every public issue and tag page (newsroom/sitemaps.py assembles the whole)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.urls import reverse

from issues.models import Issue, Tag
from issues.selectors import archive_tags, public_issues


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


class TagSitemap(SiteUrlSitemap):
    """The page of every tag that public issues carry."""

    changefreq = "weekly"
    priority = 0.5

    def items(self) -> list[Tag]:
        return archive_tags(limit=None)

    def location(self, item: Tag) -> str:
        return reverse("issues:tag", args=[item.slug])
