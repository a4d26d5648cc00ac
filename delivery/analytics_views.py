"""Admin analytics pages: per send, per issue, and the audience over time.

Thin views: they pick the sends, call delivery.analytics, and render either the
page (charts, tables) or one of its tables as CSV (``?csv=<table>``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render

from core.csvwrite import csv_response
from delivery import analytics
from delivery.models import Send
from issues.models import Issue
from subscribers.models import MailingList

PERMISSION = "delivery.view_send"
AUDIENCE_DAYS = (30, 90, 365)


def analytics_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Staff only (else the admin login), and the delivery.view_send permission (else 403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied("You need permission to view sends to see analytics.")
        return view(request, *args, **kwargs)

    return staff_member_required(wrapped)


def _engagement(request: HttpRequest, sends: QuerySet[Send], name: str, extra: dict[str, Any]) -> HttpResponseBase:
    figures = analytics.send_figures(sends=sends)
    start = analytics.sends_start(sends=sends)
    table = request.GET.get("csv")
    if table == "figures":
        return csv_response(analytics.csv_rows_figures(figures), f"{name}-figures.csv")
    if table == "hourly":
        rows = analytics.hourly_engagement(sends=sends, start=start)
        return csv_response(analytics.csv_rows_hourly(rows), f"{name}-hourly.csv")
    if table == "links":
        return csv_response(analytics.csv_rows_links(analytics.top_links(sends=sends, limit=None)), f"{name}-links.csv")
    if table == "readers":
        events = analytics.problem_readers(sends=sends, limit=None)
        return csv_response(analytics.csv_rows_readers(events), f"{name}-bounces-complaints.csv")
    if table:
        raise Http404("No such table.")
    hourly = analytics.hourly_engagement(sends=sends, start=start)
    readers = list(analytics.problem_readers(sends=sends))
    chart = {
        "type": "line",
        "labels": [f"+{row.offset}h" for row in hourly],
        "series": [
            {"label": "Opens (people)", "data": [row.opens for row in hourly]},
            {"label": "Clicks", "data": [row.clicks for row in hourly]},
            {"label": "Machine opens", "data": [row.machine_opens for row in hourly]},
        ],
    }
    context = {
        **admin.site.each_context(request),
        "figures": figures,
        "start": start,
        "hourly": hourly,
        "chart": chart,
        "links": analytics.top_links(sends=sends),
        "readers": readers,
        "reader_total": analytics.problem_reader_count(sends=sends, shown=len(readers)),
        "readers_shown": analytics.READERS_SHOWN,
        **extra,
    }
    return render(request, "delivery/analytics/engagement.html", context)


@analytics_view
def index(request: HttpRequest) -> HttpResponseBase:
    table = request.GET.get("csv")
    if table == "unmatched":
        return csv_response(
            analytics.csv_rows_unmatched(analytics.unmatched_events(limit=None)), "unmatched-events.csv"
        )
    if table:
        raise Http404("No such table.")
    unmatched = list(analytics.unmatched_events())
    context = {
        **admin.site.each_context(request),
        "title": "Analytics",
        "sends": analytics.recent_sends(),
        "unmatched": unmatched,
        "unmatched_total": analytics.unmatched_event_count() if unmatched else 0,
    }
    return render(request, "delivery/analytics/index.html", context)


@analytics_view
def send_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    send = get_object_or_404(Send.objects.select_related("issue"), pk=pk)
    extra = {"title": f"Analytics: {send}", "send": send, "issue": send.issue}
    return _engagement(request, Send.objects.filter(pk=send.pk), f"send-{send.pk}", extra)


@analytics_view
def issue_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    issue = get_object_or_404(Issue, pk=pk)
    sends = Send.objects.filter(issue=issue)
    extra = {"title": f"Analytics: {issue}", "issue": issue, "issue_sends": sends.order_by("scheduled_at")}
    return _engagement(request, sends, f"issue-{issue.pk}", extra)


@analytics_view
def audience(request: HttpRequest) -> HttpResponseBase:
    lists = list(MailingList.objects.all())
    chosen = next((item for item in lists if item.slug == request.GET.get("list")), None)
    try:
        days = int(request.GET.get("days", "90"))
    except ValueError:
        days = 90
    days = days if days in AUDIENCE_DAYS else 90
    rows = analytics.audience_daily(days=days, mailing_list=chosen)
    if request.GET.get("csv") == "daily":
        suffix = chosen.slug if chosen else "all"
        return csv_response(analytics.csv_rows_daily(rows), f"audience-{suffix}-{days}d.csv")
    if request.GET.get("csv"):
        raise Http404("No such table.")
    chart = {
        "type": "bar",
        "labels": [row.day.isoformat() for row in rows],
        "series": [
            {"label": "Joined", "data": [row.joined for row in rows]},
            {"label": "Confirmed", "data": [row.confirmed for row in rows]},
            {"label": "Left", "data": [row.left for row in rows]},
        ],
    }
    context = {
        **admin.site.each_context(request),
        "title": "Analytics: audience",
        "lists": lists,
        "chosen": chosen,
        "days": days,
        "day_choices": AUDIENCE_DAYS,
        "rows": rows,
        "chart": chart,
        "totals": {
            "joined": sum(row.joined for row in rows),
            "confirmed": sum(row.confirmed for row in rows),
            "left": sum(row.left for row in rows),
        },
    }
    return render(request, "delivery/analytics/audience.html", context)
