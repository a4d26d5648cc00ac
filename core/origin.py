"""Cross-origin protection without a token, for a form on a page every visitor shares.

A CSRF token in a cached page would be one visitor's token handed to all, so
the subscribe form carries none. What a token guards against is another site
making a visitor's browser post the form; browsers say where a post comes from
themselves: ``Sec-Fetch-Site`` (every current browser) or, failing that,
``Origin``. This is the rule of Go's ``net/http.CrossOriginProtection``: a
post whose ``Sec-Fetch-Site`` is not ``same-origin`` (or ``none``, typed by
the user) is refused; without it, an ``Origin`` that is not this site's (or in
``CSRF_TRUSTED_ORIGINS``) is refused; a post with neither header does not come
from a current browser (curl, a script: they could post directly anyway) and
is let through.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_SAME_SITE_FETCH = ("same-origin", "none")


def is_cross_origin(request: HttpRequest) -> bool:
    """True if a browser says this request was sent by another site's page."""
    fetch_site = request.META.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None:
        return fetch_site not in _SAME_SITE_FETCH
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None:
        return False
    own = f"{request.scheme}://{request.get_host()}"
    return origin != own and origin not in settings.CSRF_TRUSTED_ORIGINS


def same_origin_post(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse (403) a cross-origin POST to ``view`` instead of asking for a CSRF token."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in _SAFE_METHODS and is_cross_origin(request):
            raise PermissionDenied("This form can only be sent from this site's own pages.")
        return view(request, *args, **kwargs)

    return wrapped


# --- the embeddable sign-up form: other sites' pages, named one by one --------


def request_origin(request: HttpRequest) -> str | None:
    """The Origin a browser sent, or None (no header, or the opaque "null" of a sandboxed page)."""
    origin = request.META.get("HTTP_ORIGIN")
    return None if origin in (None, "null") else origin


def embed_origin_allowed(request: HttpRequest) -> bool:
    """True if a post to the embed endpoint may be taken: from our own pages, from an origin on
    EMBED_ALLOWED_ORIGINS, or with no browser headers at all (as the on-site form, above).

    A browser always sends Origin with a cross-origin POST (a plain form's
    and fetch's alike), so another site's page is judged by that; a page on
    the list passes, any other is refused before anything is read or stored.
    """
    origin = request_origin(request)
    if origin is not None:
        return origin == f"{request.scheme}://{request.get_host()}" or origin in settings.EMBED_ALLOWED_ORIGINS
    return not is_cross_origin(request)


def cors_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Let the page that asked read the answer, when its origin is allowed (never ``*``)."""
    origin = request_origin(request)
    response["Vary"] = "Origin"
    if origin is not None and origin in settings.EMBED_ALLOWED_ORIGINS:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        response["Access-Control-Max-Age"] = "3600"
    return response
