"""sitemap.xml: the site's fixed pages, every public issue, the tag pages and the editable pages."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.urls import reverse

from issues.sitemaps import IssueSitemap, SiteUrlSitemap, TagSitemap
from newsroom.models import SitePage


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


SITEMAPS = {"static": StaticSitemap, "issues": IssueSitemap, "tags": TagSitemap, "pages": SitePageSitemap}
