from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from core.pagecache import page_cacheable
from issues.selectors import cached_fragment, featured_tools, public_cache_seconds, public_issues
from newsroom.models import SitePage

HOME_RECENT = 6


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        db_ok = True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        db_ok = False
    return JsonResponse({"database": db_ok}, status=200 if db_ok else 503)


def _home_fragment() -> dict[str, Any]:
    issues = list(public_issues().prefetch_related("tags")[: HOME_RECENT + 1])
    latest, recent = (issues[0], issues[1:]) if issues else (None, [])
    return {"issues_html": render_to_string("issues/_home_issues.html", {"latest": latest, "recent": recent})}


@page_cacheable(seconds=public_cache_seconds)
def home(request: HttpRequest) -> HttpResponse:
    """The publication's front page: the latest issue, recent ones, the subscribe form."""
    fragment = cached_fragment("home", _home_fragment) or {}
    return render(request, "home.html", fragment)


def robots_txt(request: HttpRequest) -> HttpResponse:
    return render(request, "robots.txt", content_type="text/plain; charset=utf-8")


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """For clients that ask for /favicon.ico without reading <link rel="icon">.
    The hashed name is looked up per request, never at import."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def site_page(request: HttpRequest, slug: str) -> HttpResponse:
    page = get_object_or_404(SitePage, slug=slug)
    # The Tools page promises every Tool of the Day featured: listed from the issues under its text.
    tools = featured_tools() if page.slug == settings.TOOLS_PAGE_SLUG else []
    return render(request, "newsroom/site_page.html", {"page": page, "tools": tools})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: inside the admin's frame (with its navigation) for admin pages, the site's frame elsewhere."""
    in_admin = request.path.startswith("/admin/") and getattr(request.user, "is_staff", False)
    template = "admin/403.html" if in_admin else "403.html"
    reason = str(exception) if exception is not None and str(exception) else ""
    context = {"reason": reason, "title": "You may not do this"}
    if in_admin:
        from django.contrib import admin

        context.update(admin.site.each_context(request))
    return render(request, template, context, status=403)
