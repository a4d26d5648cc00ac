from django.core.cache import cache

from newsroom.models import NavLink, SitePage

NAV_CACHE_KEY = "site:nav:v1"
FOOTER_CACHE_KEY = "site:footer:v1"


def nav_links() -> list[dict[str, str]]:
    links = cache.get(NAV_CACHE_KEY)
    if links is None:
        links = [{"label": n.label, "url": n.url} for n in NavLink.objects.all()]
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
