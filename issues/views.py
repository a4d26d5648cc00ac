"""The public archive and issue pages. Whole public pages are stored by
core.pagecache (a hit is served before the session, auth and the view run);
on a miss the view builds them from cached fragments
(issues.selectors.cached_fragment)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe

from core.pagecache import page_cacheable
from issues import selectors
from issues.models import Issue, Tag
from issues.rendering import render_web_sections
from issues.sharing import FORWARD_REF
from issues.social_cards import share_image

ARCHIVE_PAGE_SIZE = 12
# Page links shown either side of the current page (besides the first and the last).
PAGE_LINKS_AROUND = 2
_SLUG_MAX = 120
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def may_preview(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm("issues.view_issue"))


def issue_context(issue: Issue) -> dict[str, Any]:
    url = selectors.absolute_url(issue.get_absolute_url())
    image = share_image(issue)
    return {
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
        "issue": issue,
        "absolute_url": url,
        "cover_url": selectors.cover_url(issue),
        "share_image": image,
        "share_image_url": selectors.absolute_url(image.url),
        "sections_html": render_web_sections(issue),
        "json_ld": mark_safe(selectors.issue_json_ld(issue)),
        "share": {
            "x": "https://x.com/intent/tweet?" + urlencode({"url": url, "text": issue.title}),
            "linkedin": "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}),
            # mailto: wants %20 for spaces, not "+".
            "email": f"mailto:?subject={quote(issue.title, safe='')}&body={quote(f'{issue.title} {url}', safe='')}",
        },
    }


def _issue_fragment(slug: str) -> dict[str, Any] | None:
    queryset = selectors.issue_page_queryset(selectors.public_issues().filter(slug=slug))
    issue = queryset.first()
    if issue is None:
        return None
    context = issue_context(issue)
    older, newer = selectors.issue_neighbours(issue)
    more = {"older": older, "newer": newer, "related": selectors.related_issues(issue)}
    return {
        "title": issue.title,
        "head_html": render_to_string("issues/_issue_head.html", context),
        "article_html": render_to_string("issues/_issue_article.html", context),
        # Outside the article: the admin's preview frame shows the article alone.
        "more_html": render_to_string("issues/_issue_more.html", more),
    }


@page_cacheable(seconds=selectors.public_cache_seconds)
def issue_detail(request: HttpRequest, slug: str) -> HttpResponse:
    if len(slug) > _SLUG_MAX:
        raise Http404("No such issue.")
    fragment = selectors.cached_fragment(f"issue:{slug}", lambda: _issue_fragment(slug))
    if fragment is not None:
        # ?ref=forward (the email's "forwarded to you?" link) is not a stored page: see core.pagecache.
        forwarded = request.GET.get("ref") == FORWARD_REF
        return render(request, "issues/issue_detail.html", {**fragment, "preview": False, "forwarded": forwarded})
    issue = selectors.issue_for_preview(slug) if may_preview(request.user) else None
    if issue is None:
        raise Http404("No such issue.")
    context = issue_context(issue)
    response = render(
        request,
        "issues/issue_detail.html",
        {
            "title": issue.title,
            "preview": True,
            "issue": issue,
            "head_html": render_to_string("issues/_issue_head.html", context),
            "article_html": render_to_string("issues/_issue_article.html", context),
        },
    )
    add_never_cache_headers(response)
    response["X-Robots-Tag"] = "noindex"
    return response


def _page_number(raw: str) -> int:
    if not raw:
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise Http404("No such page.")
    return int(raw)


def _archive_link(params: dict[str, str], number: int, base: str = "./") -> str:
    query = {**params, "page": str(number)} if number > 1 else params
    return "?" + urlencode(query) if query else base


def _page_links(page: Page, params: dict[str, str]) -> list[dict[str, Any]]:
    """Links to the first and last pages and those around this one; None marks a gap."""
    last = page.paginator.num_pages
    near = {1, last, *range(max(1, page.number - PAGE_LINKS_AROUND), min(last, page.number + PAGE_LINKS_AROUND) + 1)}
    links: list[dict[str, Any]] = []
    for number in sorted(near):
        if links and number - links[-1]["number"] > 1:
            links.append({"number": number - 1, "gap": True})
        links.append({"number": number, "url": _archive_link(params, number), "current": number == page.number})
    return links


def _listing_fragment(*, issues: QuerySet[Issue], params: dict[str, str], number: int) -> dict[str, Any] | None:
    """One page of a list of issues (the archive, a search, a tag page), or None past the end."""
    paginator = Paginator(issues, ARCHIVE_PAGE_SIZE)
    try:
        page = paginator.page(number)
    except InvalidPage:
        return None
    context = {
        "page": page,
        "query": params.get("q", ""),
        "page_links": _page_links(page, params) if page.has_other_pages() else [],
        "previous_link": _archive_link(params, page.previous_page_number()) if page.has_previous() else "",
        "next_link": _archive_link(params, page.next_page_number()) if page.has_next() else "",
    }
    return {
        "results_html": render_to_string("issues/_archive_results.html", context),
        "count": paginator.count,
        "num_pages": paginator.num_pages,
        "previous_link": context["previous_link"],
        "next_link": context["next_link"],
    }


def _archive_fragment(*, query: str, tag: Tag | None, number: int) -> dict[str, Any] | None:
    issues = selectors.archive_queryset(query=query, tag_slug=tag.slug if tag else "")
    params = {k: v for k, v in (("q", query), ("tag", tag.slug if tag else "")) if v}
    fragment = _listing_fragment(issues=issues, params=params, number=number)
    if fragment is not None:
        filters = {"tags": selectors.archive_tags(), "tag": tag, "query": query}
        fragment["filters_html"] = render_to_string("issues/_archive_filters.html", filters)
    return fragment


def _archive_tag(raw: str) -> Tag | None:
    slug = raw.strip()
    if not slug:
        return None
    tag = _tag_by_slug(slug)
    if tag is None:
        raise Http404("No such tag.")
    return tag


def _tag_by_slug(slug: str) -> Tag | None:
    return Tag.objects.filter(slug=slug).first() if len(slug) <= _SLUG_MAX and _SLUG.fullmatch(slug) else None


def _canonical(path: str, number: int) -> str:
    return selectors.absolute_url(path) + (f"?page={number}" if number > 1 else "")


# Searches ("q") are not stored: their keys are unbounded.
@page_cacheable(seconds=selectors.public_cache_seconds, params=("page",))
def archive(request: HttpRequest) -> HttpResponse:
    query = selectors.clean_search(request.GET.get("q", ""))
    number = _page_number(request.GET.get("page", ""))
    tag = _archive_tag(request.GET.get("tag", ""))
    if tag is not None and not query:
        # A tag's issues have their own page; the old filter address leads there.
        return HttpResponsePermanentRedirect(reverse("issues:tag", args=[tag.slug]) + _archive_link({}, number, ""))

    def build() -> dict[str, Any] | None:
        return _archive_fragment(query=query, tag=tag, number=number)

    # Searches are not cached: their keys are unbounded.
    fragment = build() if query else selectors.cached_fragment(f"archive::{number}", build)
    if fragment is None:
        raise Http404("No such page.")
    # The canonical address keeps the page (or the tag), never the search words.
    canonical = _canonical(reverse("issues:tag", args=[tag.slug]), 1) if tag else None
    context = {
        **fragment,
        "query": query,
        "tag": tag,
        "page_number": number,
        "canonical_url": canonical or _canonical(reverse("issues:archive"), number),
    }
    return render(request, "issues/archive.html", context)


def _tag_fragment(tag: Tag, number: int) -> dict[str, Any] | None:
    fragment = _listing_fragment(issues=selectors.archive_queryset(tag_slug=tag.slug), params={}, number=number)
    if fragment is not None:
        filters = {"tags": selectors.archive_tags(), "tag": tag, "query": ""}
        fragment["filters_html"] = render_to_string("issues/_archive_filters.html", filters)
    return fragment


@page_cacheable(seconds=selectors.public_cache_seconds, params=("page",))
def tag_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Every public issue with one tag, newest first, twelve to a page."""
    number = _page_number(request.GET.get("page", ""))
    tag = _tag_by_slug(slug)
    if tag is None:
        raise Http404("No such tag.")
    fragment = selectors.cached_fragment(f"tag:{tag.slug}:{number}", lambda: _tag_fragment(tag, number))
    # A tag no public issue carries yet has no page either: it would be empty.
    if fragment is None or not fragment["count"]:
        raise Http404("No such page.")
    context = {
        **fragment,
        "tag": tag,
        "page_number": number,
        "canonical_url": _canonical(reverse("issues:tag", args=[tag.slug]), number),
    }
    return render(request, "issues/tag_detail.html", context)
