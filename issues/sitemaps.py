"""sitemap.xml: every public issue, the site's fixed pages and its editable pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.urls import reverse

from issues.models import Issue
from issues.selectors import public_issues
from newsroom.models import SitePage


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


class StaticSitemap(SiteUrlSitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self) -> list[str]:
        return ["home", "issues:archive"]

    def location(self, item: str) -> str:
        return reverse(item)


class SitePageSitemap(SiteUrlSitemap):
    changefreq = "monthly"
    priority = 0.3

    def items(self) -> QuerySet[SitePage]:
        return SitePage.objects.all()

    def lastmod(self, item: SitePage) -> datetime:
        return item.updated_at


SITEMAPS = {"static": StaticSitemap, "issues": IssueSitemap, "pages": SitePageSitemap}
