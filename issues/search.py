"""Archive search. On PostgreSQL: full-text search over a stored, weighted
``Issue.search_vector`` (title A; summary, headings and partner names B;
section text and list items C) with a GIN index, ranked by relevance. On
SQLite (a laptop without PostgreSQL) it falls back to matching every word
as a substring, newest first.

The vector is derived data: :func:`search_vector_refresh` rebuilds it, and
``issues.services.issue_refresh_stats`` calls it on every save of an issue
or its sections (the same place the word count is kept up to date).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Coalesce, Concat

from issues.models import Issue, Section, SectionItem

# Letters and digits only: what is left of a reader's words is safe in a raw tsquery.
_TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_TOKENS = 8


def full_text_available() -> bool:
    return connection.vendor == "postgresql"


def _joined(queryset: QuerySet, expression: object) -> Subquery:
    from django.contrib.postgres.aggregates import StringAgg

    rows = queryset.values("issue_id") if queryset.model is Section else queryset.values("section__issue_id")
    agg = StringAgg(expression, delimiter=" ", output_field=TextField())  # type: ignore[arg-type]
    return Subquery(rows.annotate(text=agg).values("text")[:1], output_field=TextField())


def _vector_expression() -> object:
    from django.contrib.postgres.search import SearchVector

    config = settings.SEARCH_CONFIG
    sections = Section.objects.filter(issue=OuterRef("pk")).order_by()
    items = SectionItem.objects.filter(section__issue=OuterRef("pk")).order_by()
    space = Value(" ")
    headings = _joined(sections, Concat("heading", space, "partner_name", output_field=TextField()))
    bodies = _joined(sections, Concat("body", space, "analysis", output_field=TextField()))
    lines = _joined(items, Concat("label", space, "text", output_field=TextField()))
    empty = Value("", output_field=TextField())
    # HTML tags in the section text are tokens PostgreSQL's parser drops.
    return (
        SearchVector("title", weight="A", config=config)
        + SearchVector(
            Concat("summary", space, Coalesce(headings, empty), output_field=TextField()), weight="B", config=config
        )
        + SearchVector(
            Concat(Coalesce(bodies, empty), space, Coalesce(lines, empty), output_field=TextField()),
            weight="C",
            config=config,
        )
    )


def search_vector_refresh(*, issue_ids: Iterable[int] | None = None) -> int:
    """Rebuild the stored search vector of the given issues (all when None).
    Does nothing on a database without full-text search; returns rows updated."""
    if not full_text_available():
        return 0
    queryset = Issue.objects.all() if issue_ids is None else Issue.objects.filter(pk__in=list(issue_ids))
    return queryset.update(search_vector=_vector_expression())


def _tsquery(query: str) -> str:
    # Each word may be the start of a longer one ("quant" finds "quantum"); all must match.
    tokens = _TOKEN.findall(query)[:MAX_TOKENS]
    return " & ".join(f"{token}:*" for token in tokens)


def _ranked(queryset: QuerySet[Issue], query: str) -> QuerySet[Issue]:
    from django.contrib.postgres.search import SearchQuery, SearchRank

    raw = _tsquery(query)
    if not raw:
        return queryset.none()
    tsquery = SearchQuery(raw, search_type="raw", config=settings.SEARCH_CONFIG)
    return (
        queryset.filter(search_vector=tsquery)
        .annotate(rank=SearchRank(F("search_vector"), tsquery))
        .order_by(F("rank").desc(), F("shown_at").desc(), "-id")
    )


def _substring(queryset: QuerySet[Issue], query: str) -> QuerySet[Issue]:
    for word in query.split():
        in_sections = Section.objects.filter(issue=OuterRef("pk")).filter(
            Q(heading__icontains=word)
            | Q(body__icontains=word)
            | Q(analysis__icontains=word)
            | Q(partner_name__icontains=word)
            | Exists(SectionItem.objects.filter(section=OuterRef("pk"), text__icontains=word))
        )
        queryset = queryset.filter(Q(title__icontains=word) | Q(summary__icontains=word) | Exists(in_sections))
    return queryset


def search_issues(queryset: QuerySet[Issue], query: str) -> QuerySet[Issue]:
    """Issues of ``queryset`` (which carries ``shown_at``) that match every word
    of ``query`` (already cleaned), the most relevant first on PostgreSQL."""
    if full_text_available():
        return _ranked(queryset, query)
    return _substring(queryset, query)
