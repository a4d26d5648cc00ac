"""Whole public pages served from the cache before the session, auth, messages and CSRF run.

A view opts in with ``@page_cacheable``; its 200 answer to a GET is stored by
``CachedPageMiddleware`` (after every inner middleware has added its headers),
and the next GET of the same address is answered from one cache round trip,
before any inner middleware or view runs. A page is stored only when it is the
same for every visitor: the response sets no cookie and does not vary on
Cookie (so it read no session and made no CSRF token), and the visitor has no
pending flash messages.

Every stored page carries the cache version it was stored under;
``page_cache_clear()`` changes the version, so every page stored before is
ignored from then on (publish, edit, navigation and list changes call it).

Stored pages have a strong ``ETag`` (a hash of the body) and
``Cache-Control: public, max-age=0`` (plus ``s-maxage`` when
``PAGE_SHARED_MAX_AGE`` is set), so a CDN or browser may keep the page and
revalidate it with ``If-None-Match``, answered 304 from the cache.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags

VERSION_KEY = "public:version"
_PAGE_KEY = "public:page:"
_MARK = "_page_cache_seconds"
# Django's cookie message storage; a visitor with pending messages sees them on the page.
_MESSAGES_COOKIE = "messages"
# Headers a stored page never replays: they belong to the answer they were made for.
_NOT_STORED = {"set-cookie", "content-length", "date"}

View = Callable[..., HttpResponse]


def page_cache_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = str(time.time_ns())
        cache.add(VERSION_KEY, version, None)
        version = cache.get(VERSION_KEY) or version
    return str(version)


def page_cache_clear() -> None:
    """Forget every cached public page and fragment: call it whenever what a
    public page shows changes."""
    cache.set(VERSION_KEY, str(time.time_ns()), None)


def _page_key(request: HttpRequest) -> str:
    # Hashed: the address comes from the visitor, and a key must stay short.
    return _PAGE_KEY + hashlib.sha256(request.get_full_path().encode()).hexdigest()


def page_cacheable(*, seconds: Callable[[], int], params: tuple[str, ...] = ()) -> Callable[[View], View]:
    """Let CachedPageMiddleware store this view's 200 answers to GET for
    ``seconds()`` seconds. Only addresses whose query names are all in
    ``params`` are stored, so a visitor cannot fill the cache with made-up
    query strings (such addresses are still served, by the view)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            if settings.PAGE_CACHE_SECONDS > 0 and _storable(request, response, params):
                setattr(response, _MARK, seconds())
            return response

        return wrapped

    return decorator


def _storable(request: HttpRequest, response: HttpResponse, params: tuple[str, ...]) -> bool:
    # Each known name once at most: repeats (?tag=a&tag=a…) would make endless keys.
    query_ok = all(name in params and len(request.GET.getlist(name)) == 1 for name in request.GET)
    # A view that set its own Cache-Control (a staff preview: never cache) keeps it.
    return request.method == "GET" and response.status_code == 200 and query_ok and "Cache-Control" not in response


def _cache_control() -> str:
    shared = settings.PAGE_SHARED_MAX_AGE
    return "public, max-age=0" + (f", s-maxage={shared}" if shared else "")


def _is_personal(request: HttpRequest, response: HttpResponse) -> bool:
    vary = {part.strip().lower() for part in response.get("Vary", "").split(",")}
    return bool(response.cookies) or "cookie" in vary or _MESSAGES_COOKIE in request.COOKIES


def _etag_matches(request: HttpRequest, etag: str) -> bool:
    wanted = parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))
    # A CDN that compresses the page may weaken the tag (W/"…"); it is the same page.
    return "*" in wanted or etag in {tag.removeprefix("W/") for tag in wanted}


def _replay(request: HttpRequest, stored: dict[str, Any]) -> HttpResponse:
    etag = stored["etag"]
    if _etag_matches(request, etag):
        return HttpResponseNotModified(headers={"ETag": etag, "Cache-Control": _cache_control()})
    response = HttpResponse(stored["body"])
    for name, value in stored["headers"]:
        response[name] = value
    # CommonMiddleware, which sets it on other answers, does not run on a hit.
    response["Content-Length"] = str(len(stored["body"]))
    return response


class CachedPageMiddleware:
    """Answer a GET or HEAD from the page cache, or store a page a view marked
    cacheable. Placed before the session middleware, so a hit costs no session,
    auth, messages, CSRF or database work."""

    def __init__(self, get_response: View) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        usable = (
            settings.PAGE_CACHE_SECONDS > 0
            and request.method in ("GET", "HEAD")
            and _MESSAGES_COOKIE not in request.COOKIES
        )
        if not usable:
            return self.get_response(request)
        key = _page_key(request)
        found = cache.get_many([VERSION_KEY, key])
        stored = found.get(key)
        if stored is not None and stored[0] == found.get(VERSION_KEY):
            return _replay(request, stored[1])
        response = self.get_response(request)
        seconds = getattr(response, _MARK, None)
        if not seconds or response.streaming or _is_personal(request, response):
            return response
        # The version read before the page was built: a clear while it was
        # being built leaves this copy already out of date, as it should.
        stored = _stored_form(response)
        cache.set(key, (found.get(VERSION_KEY) or page_cache_version(), stored), seconds)
        return _replay(request, stored) if _etag_matches(request, stored["etag"]) else response


def _stored_form(response: HttpResponse) -> dict[str, Any]:
    response["ETag"] = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
    response["Cache-Control"] = _cache_control()
    headers = [(k, v) for k, v in response.items() if k.lower() not in _NOT_STORED]
    return {"etag": response["ETag"], "headers": headers, "body": response.content}
