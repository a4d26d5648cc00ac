"""The send admin: a send is created from an approved issue, then watched and
steered (pause, resume, cancel, retry) but never edited by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from delivery import admin_views, pacing, selectors
from delivery.forms import publication_tz
from delivery.models import Send, SendingLimit, SendStatus

DETAIL_FIELDS: list[Any] = [
    "issue_link",
    "audience",
    "scheduled_local",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
]


@admin.register(Send)
class SendAdmin(admin.ModelAdmin):
    list_display = ["issue", "status_badge", "audience", "scheduled_local", "sent_of_total", "failed", "uncertain"]
    list_filter = ["status", "scheduled_at"]
    search_fields = ["issue__title"]
    list_select_related = ["issue", "segment"]
    fields = DETAIL_FIELDS
    readonly_fields = DETAIL_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Send]:
        return selectors.sends_with_counts(super().get_queryset(request))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path(
                "audience-count/",
                wrap(self._view(admin_views.audience_count)),
                name="delivery_send_audience_count",
            ),
            path("<int:object_id>/progress/", wrap(self._view(admin_views.progress)), name="delivery_send_progress"),
            path("<int:object_id>/control/", wrap(self._view(admin_views.control)), name="delivery_send_control"),
        ]
        return own + super().get_urls()

    def _view(self, func: Any) -> Any:
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            return func(request, model_admin=self, **kwargs)

        return view

    # A send is made by the create page and changed only through its buttons.
    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return admin_views.send_add(request, model_admin=self)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only a send cancelled before it started may go: one that started holds its readers' history.
        never_started = obj is not None and obj.status == SendStatus.CANCELLED and obj.started_at is None
        return never_started and super().has_delete_permission(request, obj)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        send = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if send is not None and request.method == "GET":
            extra.update(admin_views.panel_context(request, send))
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description="Issue", ordering="issue__title")
    def issue_link(self, obj: Send) -> str:
        url = reverse("admin:issues_issue_change", args=[obj.issue_id])
        return format_html('<a href="{}">{}</a>', url, obj.issue)

    @admin.display(description="Audience")
    def audience(self, obj: Send) -> str:
        return selectors.send_audience_label(obj)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Send) -> str:
        return format_html('<span class="send-status send-status-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Scheduled for", ordering="scheduled_at")
    def scheduled_local(self, obj: Send) -> str:
        tz = publication_tz()
        when = f"{obj.scheduled_at.astimezone(tz):%d %b %Y %H:%M} ({tz.key})"
        if obj.local_time is not None and obj.local_date is not None:
            # A send at each reader's local time: its hour on their clocks, and when its first zone starts.
            return f"{obj.local_time:%H:%M} in each reader's time zone on {obj.local_date:%d %b %Y}; first zone {when}"
        return when

    @admin.display(description="Sent")
    def sent_of_total(self, obj: Send) -> str:
        sent = getattr(obj, "sent_count", None)
        return "—" if obj.status == SendStatus.SCHEDULED else f"{sent} / {obj.total}"

    @admin.display(description="Failed")
    def failed(self, obj: Send) -> int:
        return getattr(obj, "failed_count", 0)

    @admin.display(description="Uncertain")
    def uncertain(self, obj: Send) -> int:
        return getattr(obj, "uncertain_count", 0)


@admin.register(SendingLimit)
class SendingLimitAdmin(admin.ModelAdmin):
    """Operators set a provider's rate limits and warm-up here; a saved row is in force at once,
    for every worker, instead of the SEND_RATE_* and SEND_WARMUP_* settings."""

    list_display = ["provider", "per_second", "per_minute", "per_hour", "per_day", "max_batch", "in_force"]
    fieldsets = [
        (None, {"fields": ["provider"]}),
        ("Rate limits", {"fields": ["per_second", "per_minute", "per_hour", "per_day", "max_batch"]}),
        (
            "Warm-up",
            {
                "fields": ["warmup_start", "warmup_daily_caps", "warmup_first_day", "warmup_growth_percent"],
                "description": "Sends beyond today's cap wait for tomorrow; the most engaged readers go first.",
            },
        ),
    ]

    @admin.display(description="In force now")
    def in_force(self, obj: SendingLimit) -> str:
        return obj.limits().describe()

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "subtitle": f"In force now: {pacing.limits_in_force().describe()}"}
        return super().changelist_view(request, extra)
