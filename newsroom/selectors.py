from django.core.cache import cache
from django.urls import reverse

from core.pagecache import page_cache_clear
from newsroom.models import NavLink, SitePage

NAV_CACHE_KEY = "site:nav:v2"
FOOTER_CACHE_KEY = "site:footer:v1"


def nav_links() -> list[dict[str, str]]:
    """The header's links as editors ordered them, then the archive's unless
    an editor's link already points there."""
    links = cache.get(NAV_CACHE_KEY)
    if links is None:
        links = [{"label": n.label, "url": n.url} for n in NavLink.objects.all()]
        archive = reverse("issues:archive")
        if not any(link["url"] == archive for link in links):
            links.append({"label": "Newsletter", "url": archive})
        cache.set(NAV_CACHE_KEY, links, 3600)
    return links


def footer_pages() -> list[dict[str, str]]:
    pages = cache.get(FOOTER_CACHE_KEY)
    if pages is None:
        pages = [{"title": p.title, "url": p.get_absolute_url()} for p in SitePage.objects.filter(show_in_footer=True)]
        cache.set(FOOTER_CACHE_KEY, pages, 3600)
    return pages


def site_cache_clear() -> None:
    cache.delete_many([NAV_CACHE_KEY, FOOTER_CACHE_KEY])
    # Whole public pages hold the header and footer (core.pagecache).
    page_cache_clear()
