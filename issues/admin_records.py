"""The issue's side records in the admin: authors and tags (shown on public pages),
the workflow's audit rows, test sends and templates of an issue's shape."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from reversion.admin import VersionAdmin

from issues import drafts, services
from issues.forms import IssueTemplateAdminForm
from issues.models import Author, IssueTemplate, IssueTransition, PreviewSend, Tag


class PublicNamesMixin:
    """Tags and authors are shown on the public pages: a change to one is
    seen there at once, not when the page cache expires."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        services.public_pages_changed()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)  # type: ignore[misc]
        services.public_pages_changed()

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        services.public_pages_changed()


@admin.register(Author)
class AuthorAdmin(PublicNamesMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "user"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Tag)
class TagAdmin(PublicNamesMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ("name",)}


@admin.register(IssueTransition)
class IssueTransitionAdmin(admin.ModelAdmin):
    list_display = ["issue", "from_status", "to_status", "actor", "at", "note"]
    list_filter = ["to_status"]
    search_fields = ["issue__title", "note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PreviewSend)
class PreviewSendAdmin(admin.ModelAdmin):
    list_display = ["issue", "recipient_list", "requested_by", "requested_at", "status", "sent_at", "error"]
    list_filter = ["status"]
    readonly_fields = ["issue", "recipients", "requested_by", "requested_at", "status", "sent_at", "error"]

    @admin.display(description="Recipients")
    def recipient_list(self, obj: PreviewSend) -> str:
        return ", ".join(obj.recipients)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IssueTemplate)
class IssueTemplateAdmin(VersionAdmin):
    """Templates are made from an issue ("Save as template" on its page); here
    they are listed, renamed, their shape edited as JSON, or deleted."""

    form = IssueTemplateAdminForm
    list_display = ["name", "outline", "created_by", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["outline", "created_by", "created_at", "updated_at"]
    fields = ["name", "outline", "shape", "created_by", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Sections")
    def outline(self, obj: IssueTemplate) -> str:
        kinds = [str(section.get("kind", "?")) for section in obj.sections]
        return f"{len(kinds)}: " + ", ".join(kinds) if kinds else "—"

    def save_model(self, request: HttpRequest, obj: IssueTemplate, form: Any, change: bool) -> None:
        drafts.issue_template_save(template=obj, acting_user=request.user)
