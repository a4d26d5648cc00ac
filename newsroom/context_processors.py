from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from issues.selectors import publication
from newsroom.selectors import footer_pages, nav_links


def site(request: HttpRequest) -> dict[str, Any]:
    """Publication-wide values every page template can use."""
    return {
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
        "PUBLISHER_ADDRESS": settings.PUBLISHER_ADDRESS,
        "SITE_URL": settings.SITE_URL,
        "nav_links": nav_links,
        "footer_pages": footer_pages,
        "DEBUG_OUTBOX": settings.DEBUG,
        # The masthead editors set (name, tagline, logo, brand colour), read
        # from the cache only by a template that uses it.
        "publication": SimpleLazyObject(publication),
    }
