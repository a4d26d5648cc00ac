"""The webhook admin: endpoints (URL, events, secret), and per endpoint a log of every
delivery and attempt with a "send again" button."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from core.net import UnsafeAddress
from outbound import services, transport
from outbound.models import EVENT_CHOICES, EndpointStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

RECENT_ATTEMPTS = 20
ATTEMPT_FIELDS: list[Any] = ["at", "status_code", "ok", "duration_ms", "error", "response_excerpt"]
DELIVERY_FIELDS: list[Any] = [
    "endpoint",
    "event_type",
    "event_id",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "delivered_at",
    "last_error",
    "body",
]


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)
    status = forms.ChoiceField(
        choices=[(EndpointStatus.ACTIVE, "Active"), (EndpointStatus.DISABLED, "Disabled")],
        help_text="An endpoint that kept failing is turned off by us; turn it on again here.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "status"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            transport.url_check(url)
        except UnsafeAddress as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


class NewEndpointForm(EndpointForm):
    status = None  # type: ignore[assignment]  # a new endpoint starts active

    class Meta(EndpointForm.Meta):
        fields = ["url", "description", "events"]


def _failing_notice(request: HttpRequest) -> None:
    for endpoint in WebhookEndpoint.objects.filter(status=EndpointStatus.FAILING):
        messages.warning(
            request, f"Webhook endpoint {endpoint} is disabled: {endpoint.disabled_reason} Fix it, then turn it on."
        )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["__str__", "url", "status", "event_count", "last_success_at", "consecutive_failures", "log_link"]
    list_filter = ["status"]
    readonly_fields = [
        "secret_shown",
        "disabled_reason",
        "consecutive_failures",
        "failing_since",
        "last_success_at",
        "log_link",
        "recent_attempts",
    ]
    actions = ["turn_on", "rotate_secret"]

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        if obj is None:
            return ["url", "description", "events"]
        return ["url", "description", "events", "status", *self.readonly_fields]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = NewEndpointForm
        return super().get_form(request, obj, change, **kwargs)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        _failing_notice(request)
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        was_off = change and WebhookEndpoint.objects.filter(pk=obj.pk).exclude(status=EndpointStatus.ACTIVE).exists()
        super().save_model(request, obj, form, change)
        if was_off and obj.status == EndpointStatus.ACTIVE:
            services.endpoint_enable(endpoint=obj)

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None) -> Any:
        messages.info(request, "The endpoint's signing secret is on its page; give it to the receiving system.")
        return HttpResponseRedirect(reverse("admin:outbound_webhookendpoint_change", args=[obj.pk]))

    @admin.display(description="events")
    def event_count(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events) if len(obj.events) <= 3 else f"{len(obj.events)} events"

    @admin.display(description="signing secret")
    def secret_shown(self, obj: WebhookEndpoint) -> str:
        return format_html(
            "<code>{}</code><div class='help'>Verify requests with any Standard Webhooks library "
            "(headers webhook-id, webhook-timestamp, webhook-signature). "
            "The “Rotate the secret” action makes a new one.</div>",
            obj.secret,
        )

    @admin.display(description="delivery log")
    def log_link(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:outbound_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">Deliveries and attempts</a>', url)

    @admin.display(description="recent attempts")
    def recent_attempts(self, obj: WebhookEndpoint) -> str:
        attempts = (
            WebhookAttempt.objects.filter(delivery__endpoint=obj)
            .select_related("delivery")
            .order_by("-at", "-id")[:RECENT_ATTEMPTS]
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    a.at.strftime("%Y-%m-%d %H:%M:%S"),
                    a.delivery.event_type,
                    a.status_code or "—",
                    a.error,
                    a.response_excerpt[:120],
                )
                for a in attempts
            ),
        )
        if not rows:
            return "No attempts yet."
        return format_html(
            "<table><thead><tr><th>At</th><th>Event</th><th>Status</th><th>Error</th><th>Response</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.action(description="Turn the selected endpoints on again")
    def turn_on(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.endpoint_enable(endpoint=endpoint)
        self.message_user(request, f"{queryset.count()} endpoint(s) on; what waited for them is sent now.")

    @admin.action(description="Rotate the secret of the selected endpoints")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.endpoint_rotate_secret(endpoint=endpoint)
        self.message_user(request, "New secrets made: give each receiving system its new one.", messages.WARNING)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["event_id"]
    list_select_related = ["endpoint"]
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    inlines = [AttemptInline]
    actions = ["send_again"]
    change_form_template = "admin/outbound/webhookdelivery/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        _failing_notice(request)
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:object_id>/send-again/",
                self.admin_site.admin_view(require_POST(self.send_again_view)),
                name="outbound_webhookdelivery_send_again",
            )
        ]
        return own + super().get_urls()

    @admin.display(description="body")
    def body(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", services.delivery_body(obj))

    def _may_send_again(self, request: HttpRequest) -> bool:
        return request.user.has_perm("outbound.change_webhookdelivery")

    def send_again_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        delivery = get_object_or_404(WebhookDelivery, pk=object_id)
        if not self._may_send_again(request):
            raise PermissionDenied("You may not send webhook deliveries again.")
        services.deliveries_send_again(ids=[delivery.pk])
        self._sent_again_message(request, [delivery])
        return HttpResponseRedirect(reverse("admin:outbound_webhookdelivery_change", args=[delivery.pk]))

    @admin.action(description="Send the selected deliveries again", permissions=["send_again"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        rows = list(queryset.select_related("endpoint"))
        services.deliveries_send_again(ids=[row.pk for row in rows])
        self._sent_again_message(request, rows)

    def has_send_again_permission(self, request: HttpRequest) -> bool:
        return self._may_send_again(request)

    def _sent_again_message(self, request: HttpRequest, rows: list[WebhookDelivery]) -> None:
        self.message_user(request, f"{len(rows)} delivery(ies) queued to be sent again, with the same webhook-id.")
        off = {str(row.endpoint) for row in rows if row.endpoint.status != EndpointStatus.ACTIVE}
        if off:
            self.message_user(
                request,
                f"Endpoint(s) {', '.join(sorted(off))} are off: nothing goes out until turned on.",
                messages.WARNING,
            )
