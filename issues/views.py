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
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404, HttpRequest, HttpResponse
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

ARCHIVE_PAGE_SIZE = 12
_SLUG_MAX = 120
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def may_preview(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm("issues.view_issue"))


def issue_context(issue: Issue) -> dict[str, Any]:
    url = selectors.absolute_url(issue.get_absolute_url())
    return {
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
        "issue": issue,
        "absolute_url": url,
        "cover_url": selectors.cover_url(issue),
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
    return {
        "title": issue.title,
        "head_html": render_to_string("issues/_issue_head.html", context),
        "article_html": render_to_string("issues/_issue_article.html", context),
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


def _archive_link(params: dict[str, str], number: int) -> str:
    query = {**params, "page": str(number)} if number > 1 else params
    return "?" + urlencode(query) if query else "./"


def _archive_fragment(*, query: str, tag: Tag | None, number: int) -> dict[str, Any] | None:
    issues = selectors.archive_queryset(query=query, tag_slug=tag.slug if tag else "")
    paginator = Paginator(issues, ARCHIVE_PAGE_SIZE)
    try:
        page = paginator.page(number)
    except InvalidPage:
        return None
    params = {k: v for k, v in (("q", query), ("tag", tag.slug if tag else "")) if v}
    context = {
        "page": page,
        "query": query,
        "tag": tag,
        "previous_link": _archive_link(params, page.previous_page_number()) if page.has_previous() else "",
        "next_link": _archive_link(params, page.next_page_number()) if page.has_next() else "",
    }
    filters = {"tags": selectors.archive_tags(), "tag": tag, "query": query}
    return {
        "results_html": render_to_string("issues/_archive_results.html", context),
        "filters_html": render_to_string("issues/_archive_filters.html", filters),
        "count": paginator.count,
    }


def _archive_tag(raw: str) -> Tag | None:
    slug = raw.strip()
    if not slug:
        return None
    tag = Tag.objects.filter(slug=slug).first() if len(slug) <= _SLUG_MAX and _SLUG.fullmatch(slug) else None
    if tag is None:
        raise Http404("No such tag.")
    return tag


# Searches ("q") are not stored: their keys are unbounded.
@page_cacheable(seconds=selectors.public_cache_seconds, params=("tag", "page"))
def archive(request: HttpRequest) -> HttpResponse:
    query = selectors.clean_search(request.GET.get("q", ""))
    number = _page_number(request.GET.get("page", ""))
    tag = _archive_tag(request.GET.get("tag", ""))

    def build() -> dict[str, Any] | None:
        return _archive_fragment(query=query, tag=tag, number=number)

    # Searches are not cached: their keys are unbounded.
    fragment = build() if query else selectors.cached_fragment(f"archive:{tag.slug if tag else ''}:{number}", build)
    if fragment is None:
        raise Http404("No such page.")
    # The canonical address keeps the tag and page, never the search words.
    canonical = selectors.absolute_url(reverse("issues:archive"))
    canonical_params = _archive_link({"tag": tag.slug} if tag else {}, number)
    if canonical_params != "./":
        canonical += canonical_params
    context = {**fragment, "query": query, "tag": tag, "page_number": number, "canonical_url": canonical}
    return render(request, "issues/archive.html", context)
