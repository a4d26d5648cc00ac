"""Reads for the public site: which issues readers may see, and the cache of
their rendered pages."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.pagecache import VERSION_KEY, page_cache_clear, page_cache_version
from issues import search
from issues.models import Issue, IssueStatus, Section, SectionItem, SectionKind, Tag

PUBLISHED_ONCE_DATED = (IssueStatus.APPROVED, IssueStatus.SCHEDULED, IssueStatus.SENDING)
SEARCH_MAX_CHARS = 200
SEARCH_MAX_WORDS = 8
ARCHIVE_TAG_LIMIT = 24


def _dated(queryset: QuerySet[Issue]) -> QuerySet[Issue]:
    # The date readers see: when it was published, else when it was written.
    return queryset.annotate(shown_at=Coalesce("publish_date", "created_at")).order_by(F("shown_at").desc(), "-id")


def public_issues() -> QuerySet[Issue]:
    """Issues the public may see, newest first: sent, or approved/scheduled/sending
    with a publish date that has passed. Each carries `shown_at`, its display date."""
    visible = Q(status=IssueStatus.SENT) | Q(status__in=PUBLISHED_ONCE_DATED, publish_date__lte=timezone.now())
    return _dated(Issue.objects.filter(visible))


def next_publication_at() -> datetime | None:
    """When the next dated issue (approved, scheduled or sending, publish date
    still ahead) becomes public, if one is waiting."""
    waiting = Issue.objects.filter(status__in=PUBLISHED_ONCE_DATED, publish_date__gt=timezone.now())
    return waiting.aggregate(at=Min("publish_date"))["at"]


def archive_tags(*, limit: int | None = ARCHIVE_TAG_LIMIT) -> list[Tag]:
    """The tags readers can browse the archive by: those on public issues, the
    most used first (at most ``limit``), each with `public_count`."""
    public = Q(issues__in=public_issues().order_by().values("pk"))
    tags = Tag.objects.annotate(public_count=Count("issues", filter=public)).filter(public_count__gt=0)
    return list(tags.order_by("-public_count", "name")[:limit])


def issue_page_queryset(queryset: QuerySet[Issue]) -> QuerySet[Issue]:
    """Everything the issue page shows, in a fixed number of queries."""
    sections = Section.objects.order_by("position", "id").prefetch_related(
        Prefetch("items", queryset=SectionItem.objects.order_by("position", "id"))
    )
    return queryset.prefetch_related("tags", "authors", Prefetch("sections", queryset=sections))


RELATED_LIMIT = 3


def _card_fields(queryset: QuerySet[Issue]) -> QuerySet[Issue]:
    return queryset.only("title", "slug", "summary", "cover_image", "cover_alt", "reading_minutes", "publish_date")


def issue_neighbours(issue: Issue) -> tuple[Issue | None, Issue | None]:
    """The public issues just before (older) and just after (newer) ``issue``,
    in the order readers see them (its ``shown_at``, then id)."""
    shown_at = getattr(issue, "shown_at", None) or issue.publish_date or issue.created_at
    public = _card_fields(public_issues()).exclude(pk=issue.pk)
    older = public.filter(Q(shown_at__lt=shown_at) | Q(shown_at=shown_at, id__lt=issue.pk)).first()
    newer = (
        public.filter(Q(shown_at__gt=shown_at) | Q(shown_at=shown_at, id__gt=issue.pk))
        .order_by(F("shown_at").asc(), "id")
        .first()
    )
    return older, newer


def related_issues(issue: Issue, *, limit: int = RELATED_LIMIT) -> list[Issue]:
    """Public issues sharing tags with ``issue``: the most tags in common first, then the newest."""
    tag_ids = [tag.pk for tag in issue.tags.all()]
    if not tag_ids:
        return []
    shared = _card_fields(public_issues()).exclude(pk=issue.pk).filter(tags__in=tag_ids)
    ranked = shared.annotate(shared_tags=Count("tags")).order_by("-shared_tags", F("shown_at").desc(), "-id")
    return list(ranked[:limit])


FEATURED_TOOLS_LIMIT = 100


def featured_tools(*, limit: int = FEATURED_TOOLS_LIMIT) -> list[Section]:
    """Every Tool of the Day of the public issues, the latest first; a tool
    featured again (the same name) is listed once, with its latest write-up.
    Each carries its steps (``items``) and its issue (``issue``, with ``shown_at``)."""
    public = public_issues().order_by()
    tools = (
        Section.objects.filter(kind=SectionKind.TOOL, issue__in=public.values("pk"))
        .exclude(heading="")
        .select_related("issue")
        .prefetch_related(Prefetch("items", queryset=SectionItem.objects.order_by("position", "id")))
        .annotate(shown_at=Coalesce("issue__publish_date", "issue__created_at"))
        .order_by(F("shown_at").desc(), "-id")
    )
    seen: set[str] = set()
    listed: list[Section] = []
    for tool in tools[: limit * 2]:
        key = tool.heading.strip().casefold()
        if key not in seen:
            seen.add(key)
            listed.append(tool)
    return listed[:limit]


def issue_for_preview(slug: str) -> Issue | None:
    """Any issue by slug, whatever its status (staff preview)."""
    return issue_page_queryset(_dated(Issue.objects.filter(slug=slug))).first()


def clean_search(raw: str) -> str:
    """A search string safe to hand to the database: no NUL or control
    characters, bounded length and word count."""
    text = "".join(ch if ch.isprintable() else " " for ch in raw[: SEARCH_MAX_CHARS * 4])
    words = text.split()[:SEARCH_MAX_WORDS]
    return " ".join(words)[:SEARCH_MAX_CHARS]


def search_issues(queryset: QuerySet[Issue], query: str) -> QuerySet[Issue]:
    """Issues matching every word of ``query``, the most relevant first where
    the database has full-text search (issues.search)."""
    return search.search_issues(queryset, clean_search(query))


def archive_queryset(*, query: str = "", tag_slug: str = "") -> QuerySet[Issue]:
    queryset = public_issues()
    if tag_slug:
        queryset = queryset.filter(tags__slug=tag_slug)
    if query:
        queryset = search_issues(queryset, query)
    return queryset.prefetch_related("tags")


# --- cache of rendered public fragments ---------------------------------------


def public_cache_version() -> str:
    return page_cache_version()


def public_cache_clear() -> None:
    """Forget every cached public page and fragment (home, archive, issue pages).
    Call it whenever an issue's content, status or publish date changes."""
    page_cache_clear()


def public_cache_seconds() -> int:
    """How long a public page or fragment may be kept (see core.pagecache)."""
    return _cache_seconds()


def _cache_seconds() -> int:
    # No fragment outlives the moment the next dated issue goes public: it
    # would be missing from the home page and the archive until then.
    seconds = settings.PAGE_CACHE_SECONDS
    upcoming = next_publication_at()
    if upcoming is not None:
        seconds = min(seconds, max(1, math.ceil((upcoming - timezone.now()).total_seconds())))
    return int(seconds)


def cached_fragment(key: str, build: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    """The cached value at `key`, built and stored on a miss. A None result
    (say, no such issue) is not stored. PAGE_CACHE_SECONDS=0 turns caching off.

    Each entry carries the cache version it was built under and is read in the
    same round trip as the current version; public_cache_clear() changes the
    version, so every older entry is ignored from then on."""
    if settings.PAGE_CACHE_SECONDS <= 0:
        return build()
    full_key = f"public:fragment:{key}"
    found = cache.get_many([VERSION_KEY, full_key])
    version = found.get(VERSION_KEY) or public_cache_version()
    stored = found.get(full_key)
    if stored is not None and stored[0] == version:
        return stored[1]
    value = build()
    if value is not None:
        cache.set(full_key, (version, value), _cache_seconds())
    return value


# --- structured data -----------------------------------------------------------

_JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def absolute_url(path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def cover_url(issue: Issue) -> str:
    return absolute_url(issue.cover_image.url) if issue.cover_image else ""


def issue_json_ld(issue: Issue) -> str:
    """A schema.org NewsArticle for the issue, escaped for a <script> element."""
    shown_at = getattr(issue, "shown_at", None) or issue.publish_date or issue.created_at
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": issue.title[:110],
        "description": issue.summary,
        "url": absolute_url(issue.get_absolute_url()),
        "mainEntityOfPage": absolute_url(issue.get_absolute_url()),
        "datePublished": shown_at.isoformat(),
        "dateModified": issue.updated_at.isoformat(),
        "wordCount": issue.word_count,
        "publisher": {"@type": "Organization", "name": settings.PUBLISHER_NAME, "url": absolute_url("/")},
        "author": [{"@type": "Person", "name": a.name} for a in issue.authors.all()]
        or [{"@type": "Organization", "name": settings.PUBLISHER_NAME}],
    }
    if issue.cover_image:
        data["image"] = [cover_url(issue)]
    if issue.canonical_url:
        data["isBasedOn"] = issue.canonical_url
    return json.dumps(data, ensure_ascii=False).translate(_JSON_SCRIPT_ESCAPES)
