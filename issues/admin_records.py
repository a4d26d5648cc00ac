"""The issue's side records in the admin: authors and tags (shown on public pages),
the workflow's audit rows, test sends and templates of an issue's shape."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from reversion.admin import VersionAdmin

from issues import drafts, services
from issues.admin_composer import template_composer_context
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
    """Templates are made from an issue ("Save as template" on its page) or here;
    their page edits the name, the texts new issues start with and the sections
    (kind, heading, fixed labels and items, added, removed and reordered in the
    composer's section editor, no JSON). Every save goes through the service."""

    form = IssueTemplateAdminForm
    list_display = ["name", "outline", "created_by", "updated_at"]
    search_fields = ["name"]
    autocomplete_fields = ["authors", "tags"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "shape"]}),
        ("New issues start with", {"fields": ["subject", "preheader", "authors", "tags"]}),
        ("Record", {"fields": ["created_by", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    class Media:
        css = {"all": ["django_ckeditor_5/dist/styles.css", "issues/composer.css"]}
        js = ["django_ckeditor_5/dist/bundle.js", "issues/composer.js"]

    @admin.display(description="Sections")
    def outline(self, obj: IssueTemplate) -> str:
        kinds = [str(section.get("kind", "?")) for section in obj.sections]
        return f"{len(kinds)}: " + ", ".join(kinds) if kinds else "—"

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False,
        form_url: str = "", obj: Any = None,
    ) -> Any:  # fmt: skip
        form = context["adminform"].form
        # A refused save shows the sections as the editor left them, each error at its field.
        shape = form.shape_posted if form.is_bound and form.shape_posted is not None else (obj.shape if obj else {})
        errors = getattr(form, "shape_errors", {}) if form.is_bound else {}
        editable = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        context.update(template_composer_context(shape, errors, editable=editable))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only (a contributor): the sections are shown by the section editor, not as JSON.
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "shape"]}) for name, opts in self.fieldsets
        ]

    def save_model(self, request: HttpRequest, obj: IssueTemplate, form: Any, change: bool) -> None:
        drafts.issue_template_save(
            template=obj,
            acting_user=request.user,
            authors=list(form.cleaned_data["authors"]),
            tags=list(form.cleaned_data["tags"]),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service has set the authors and tags (there are no inlines).
        pass
