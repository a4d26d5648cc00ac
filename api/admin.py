"""API keys in the admin: made here, shown once, revoked here; every request made with one is listed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey, ApiRequest
from api.scopes import Scope


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="A key can never do more than you can: each request also checks your own permissions.",
    )
    expires_at = forms.SplitDateTimeField(required=False, widget=AdminSplitDateTime, label="Expires at")

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]

    def clean_expires_at(self) -> Any:
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise ValidationError("The expiry must be in the future.")
        return value


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix_shown", "state_shown", "scopes_shown", "created_by", "expires_at", "last_used_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "prefix"]
    actions = ["revoke_selected"]
    readonly_fields = [
        "prefix_shown",
        "state_shown",
        "scopes_shown",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "last_used_at",
        "recent_requests",
    ]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "scopes", "expires_at"]
        return ["name", *self.readonly_fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        queryset = super().get_queryset(request).select_related("created_by")
        # Each person sees the keys that act as them; superusers see every key.
        return queryset if request.user.is_superuser else queryset.filter(created_by=request.user)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the request log stays with the key

    @admin.display(description="Key")
    def prefix_shown(self, obj: ApiKey) -> str:
        return f"{obj.prefix}…"

    @admin.display(description="State")
    def state_shown(self, obj: ApiKey) -> str:
        return obj.state

    @admin.display(description="Scopes")
    def scopes_shown(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="Recent requests")
    def recent_requests(self, obj: ApiKey) -> str:
        url = reverse("admin:api_apirequest_changelist") + f"?api_key__id__exact={obj.pk}"
        count = obj.requests.count()
        return format_html('<a href="{}">{} request(s) logged</a>', url, count)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        made = api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            acting_user=request.user,
        )
        obj.pk = made.api_key.pk
        obj._state.adding = False
        obj.refresh_from_db()
        request._api_key_secret = made.secret  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "api_key": obj,
            "secret": request._api_key_secret,  # type: ignore[attr-defined]
            "opts": self.model._meta,
            "change_url": reverse("admin:api_apikey_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, "admin/api/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.revoke_view)
        return [path("<int:object_id>/revoke/", view, name="api_apikey_revoke"), *super().get_urls()]

    def revoke_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":
            raise PermissionDenied
        api_key = get_object_or_404(self.get_queryset(request), pk=object_id)
        api_key_revoke(api_key=api_key, acting_user=request.user)
        messages.success(request, f"The key “{api_key}” is revoked: it is refused from now on.")
        return HttpResponseRedirect(reverse("admin:api_apikey_change", args=[object_id]))

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key, acting_user=request.user)
        messages.success(request, f"{queryset.count()} key(s) revoked: they are refused from now on.")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        extra = {"revoke_url": reverse("admin:api_apikey_revoke", args=[object_id]), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)


@admin.register(ApiRequest)
class ApiRequestAdmin(admin.ModelAdmin):
    list_display = ["at", "api_key", "method", "path", "status", "duration_ms", "ip"]
    # No filter listing every key by name: editors see only their own keys' requests.
    list_filter = ["status", "method"]
    date_hierarchy = "at"

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:  # type: ignore[override]
        # The key's page links here filtered to that key.
        return lookup == "api_key__id__exact" or super().lookup_allowed(lookup, value, request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiRequest]:
        queryset = super().get_queryset(request).select_related("api_key")
        return queryset if request.user.is_superuser else queryset.filter(api_key__created_by=request.user)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
