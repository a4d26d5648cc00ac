"""Admin for composing issues: sortable sections and items, CKEditor 5 rich
text, workflow buttons, pre-send checks, preview, test sends and history."""

from __future__ import annotations

from typing import Any

import reversion
from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from reversion.admin import VersionAdmin
from reversion.models import Version

from issues import admin_composer, admin_views, services
from issues.emails import merge_sample, sample_merge_values
from issues.forms import IssueAdminForm, SectionAdminForm, SectionItemAdminForm
from issues.models import Issue, IssueTransition, Section, SectionItem
from issues.rendering import render_email
from issues.sections import COMMON_FIELDS, spec_for


def _parent_issue(obj: Any) -> Issue | None:
    if isinstance(obj, Issue):
        return obj
    if isinstance(obj, Section):
        return obj.issue if obj.issue_id else None
    return None


class DraftOnlyForContributorsMixin:
    """Contributors edit drafts only; editors edit in every state but
    scheduled and sending (services.edit_refusal). An issue nobody may edit
    now stays visible, read-only."""

    def _may_edit(self, request: HttpRequest, obj: Any) -> bool:
        return services.user_may_edit(request.user, _parent_issue(obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)  # type: ignore[misc]


class RestoreKeepsWorkflowMixin:
    """Restoring a version from the history page brings back the text, sections
    and items, never the status the issue had then; only editors restore."""

    history_latest_first = True

    def revision_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not services.user_is_editor(request.user):
            raise PermissionDenied("Only editors may restore an earlier version.")
        issue = _parent_issue(self.model.objects.filter(pk=unquote(object_id)).first())  # type: ignore[attr-defined]
        refused = admin_views.refuse_locked_edit(request, issue, back_to=request.path)
        if refused is not None:
            return refused
        version = get_object_or_404(Version, pk=version_id, object_id=unquote(object_id))
        with transaction.atomic(), services.issue_status_kept(revision=version.revision) as kept:
            request._issue_status_kept = kept  # type: ignore[attr-defined]
            return super().revision_view(request, object_id, version_id, extra_context)  # type: ignore[misc]

    def recover_view(self, request: HttpRequest, version_id: str, extra_context: Any = None) -> HttpResponse:
        if not services.user_is_editor(request.user):
            raise PermissionDenied("Only editors may recover a deleted item.")
        version = get_object_or_404(Version, pk=version_id)
        with transaction.atomic(), services.issue_status_kept(revision=version.revision) as kept:
            request._issue_status_kept = kept  # type: ignore[attr-defined]
            response = super().recover_view(request, version_id, extra_context)  # type: ignore[misc]
            if response.status_code == 302 and version.content_type.model_class() is Issue:
                issue = Issue.objects.filter(pk=version.object_id).first()
                if issue is not None:
                    services.issue_recovered(issue=issue, acting_user=request.user)
        return response

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        # While a revision is shown or saved, show and keep today's status.
        kept = getattr(request, "_issue_status_kept", {})
        issue = _parent_issue(obj)
        if issue is not None and issue.pk in kept:
            issue.status = kept[issue.pk]
        return obj


class DraftOnlyInlineMixin(DraftOnlyForContributorsMixin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._may_edit(request, obj)  # type: ignore[misc]


class SectionInline(DraftOnlyInlineMixin, SortableTabularInline):
    model = Section
    form = SectionAdminForm
    fields = ["kind", "heading", "link_url"]
    extra = 0
    show_change_link = True
    verbose_name = "section"
    verbose_name_plural = "Sections (drag to reorder; open a section to write its text and items)"


@admin.register(Issue)
class IssueAdmin(RestoreKeepsWorkflowMixin, DraftOnlyForContributorsMixin, SortableAdminBase, VersionAdmin):
    form = IssueAdminForm
    inlines = [SectionInline]
    list_display = ["title", "number", "status_badge", "publish_date", "reading_time", "updated_at"]
    list_filter = ["status", "publish_date", "tags", "authors"]
    search_fields = ["title", "subject", "slug", "summary"]
    date_hierarchy = "publish_date"
    prepopulated_fields = {"slug": ("title",)}
    autocomplete_fields = ["authors", "tags"]
    readonly_fields = ["status", "word_count", "reading_time"]
    fieldsets = [
        (
            "Content",
            {"fields": ["title", "slug", "summary", "cover_image", "cover_alt", "canonical_url", "base_version"]},
        ),
        ("Email", {"fields": ["subject", "preheader"]}),
        (
            "Publishing",
            {"fields": ["status", "number", "publish_date", "authors", "tags", "word_count", "reading_time"]},
        ),
    ]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Issue) -> str:
        return format_html('<span class="issue-status issue-status-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Reading time")
    def reading_time(self, obj: Issue) -> str:
        return f"{obj.reading_minutes} min read" if obj.pk else "—"

    revision_form_template = "admin/issues/issue/revision_form.html"
    # Adds "New issue from template" to reversion's own list template.
    change_list_template = "admin/issues/issue/change_list.html"
    actions = ["duplicate_selected"]

    @admin.action(description="Duplicate the selected issues as new drafts", permissions=["add"])
    def duplicate_selected(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        copies = [admin_views.duplicate_made(request, self, source) for source in queryset.order_by("pk")]
        if len(copies) == 1:
            self.message_user(request, f"“{copies[0]}” is a new draft: edit it here.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:issues_issue_change", args=[copies[0].pk]))
        titles = ", ".join(f"“{copy}”" for copy in copies)
        self.message_user(request, f"{len(copies)} new drafts: {titles}.", messages.SUCCESS)
        return None

    def revision_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        def version_text() -> str:
            # Called while the page renders, inside the rolled-back revert, so
            # it reads the issue and its sections as they were in the version.
            issue = Issue.objects.get(pk=unquote(object_id))
            return merge_sample(render_email(issue).text, sample_merge_values(issue))

        current = Issue.objects.filter(pk=unquote(object_id)).first()
        extra = {
            **(extra_context or {}),
            "version_text": version_text,
            "restore_refusal": services.edit_refusal(request.user, current),
        }
        return super().revision_view(request, object_id, version_id, extra)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path(
                "<int:object_id>/transition/", wrap(self._view(admin_views.transition)), name="issues_issue_transition"
            ),
            path("<int:object_id>/compose/", wrap(self._view(admin_composer.compose)), name="issues_issue_compose"),
            path("<int:object_id>/cover/", wrap(self._view(admin_composer.cover)), name="issues_issue_cover"),
            path("<int:object_id>/preview/", wrap(self._view(admin_views.preview)), name="issues_issue_preview"),
            path(
                "<int:object_id>/preview/email/",
                wrap(self._view(admin_views.preview_email)),
                name="issues_issue_preview_email",
            ),
            path(
                "<int:object_id>/preview/web/",
                wrap(self._view(admin_views.preview_web)),
                name="issues_issue_preview_web",
            ),
            path("<int:object_id>/test-send/", wrap(self._view(admin_views.test_send)), name="issues_issue_test_send"),
            path("<int:object_id>/duplicate/", wrap(self._view(admin_views.duplicate)), name="issues_issue_duplicate"),
            path(
                "<int:object_id>/save-as-template/",
                wrap(self._view(admin_views.save_as_template)),
                name="issues_issue_save_as_template",
            ),
            path(
                "from-template/",
                wrap(lambda request: admin_views.from_template(request, model_admin=self)),
                name="issues_issue_from_template",
            ),
        ]
        return own + super().get_urls()

    def _view(self, func: Any) -> Any:
        def view(request: HttpRequest, object_id: int) -> HttpResponse:
            return func(request, model_admin=self, object_id=object_id)

        return view

    def save_model(self, request: HttpRequest, obj: Issue, form: Any, change: bool) -> None:
        # The admin writes through the service: permission, validation, revision, stats.
        base_version = form.cleaned_data.get("base_version") if change else None
        services.issue_save(issue=obj, acting_user=request.user, base_version=base_version)

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # The add page lists the sections to start with, and a version from
        # History shows its own; otherwise the composer
        # (issues/admin_composer.py) edits them all.
        restoring = hasattr(request, "_issue_status_kept")
        return super().get_inline_instances(request, obj) if obj is None or restoring else []

    class Media:
        css = {"all": ["django_ckeditor_5/dist/styles.css", "issues/composer.css"]}
        js = ["django_ckeditor_5/dist/bundle.js", "issues/composer.js"]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Section:
            super().save_formset(request, form, formset, change)
            return
        sections = formset.save(commit=False)
        for section in formset.deleted_objects:
            section.delete()
        for section in sections:
            services.section_save(section=section, acting_user=request.user)
        formset.save_m2m()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.issue_refresh_stats(issue=form.instance)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # An issue's workflow history goes with it; on their own, those audit
        # rows may never be deleted (IssueTransitionAdmin), which would
        # otherwise block every issue that has ever moved.
        perms_needed.discard(IssueTransition._meta.verbose_name)
        if protected:
            # Django also lists the protected sends as lacking permission;
            # the reason that matters is that they keep the issue.
            perms_needed = set()
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Issue) -> None:
        services.issues_delete(issues=[obj], acting_user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        services.issues_delete(issues=queryset, acting_user=request.user)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as exc:
            # A send created between the confirmation page and the POST.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:issues_issue_change", args=[object_id]))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method != "POST":
            return super().changelist_view(request, extra_context)
        try:
            # The bulk delete logs each deletion before deleting: both or neither.
            with transaction.atomic():
                return super().changelist_view(request, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        issue = self.get_object(request, object_id)
        refused = admin_views.refuse_locked_edit(request, issue, back_to=request.path)
        if refused is not None:
            return refused
        extra = dict(extra_context or {})
        if issue is not None and request.method == "GET":
            extra.update(admin_views.panel_context(request, issue))
            editable = self.has_change_permission(request, issue) and admin_composer.may_compose(request, issue)
            extra.update(admin_composer.composer_context(request, issue, editable=editable))
        return super().change_view(request, object_id, form_url, extra)


class SectionItemInline(DraftOnlyInlineMixin, SortableTabularInline):
    model = SectionItem
    form = SectionItemAdminForm
    extra = 0

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        names = list(spec_for(obj.kind).item_fields) if isinstance(obj, Section) else ["label", "text", "url"]
        return [*names, "position"]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if isinstance(obj, Section):
            label = spec_for(obj.kind).items_label
            editable = self.has_change_permission(request, obj)
            self.verbose_name_plural = f"{label} (drag to reorder)" if editable else label
            self.verbose_name = "item"
        return super().get_formset(request, obj, **kwargs)


@admin.register(Section)
class SectionAdmin(RestoreKeepsWorkflowMixin, DraftOnlyForContributorsMixin, SortableAdminBase, VersionAdmin):
    form = SectionAdminForm
    inlines = [SectionItemInline]
    list_display = ["__str__", "issue", "kind", "position"]
    list_filter = ["kind"]
    search_fields = ["heading", "issue__title"]
    autocomplete_fields = ["issue"]

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        # Sections are reached from their issue, not from the admin index.
        return {}

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return [
                "issue",
                *COMMON_FIELDS,
                "body",
                "analysis",
                "sponsor_label",
                "partner_name",
                "link_url",
                "link_label",
            ]
        return ["issue_link", *COMMON_FIELDS, *[f for f in spec_for(obj.kind).fields if f not in COMMON_FIELDS]]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        return ["issue_link"] if obj is not None else []

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is not None and not spec_for(obj.kind).item_fields:
            return []
        return super().get_inline_instances(request, obj)

    def save_model(self, request: HttpRequest, obj: Section, form: Any, change: bool) -> None:
        # The add page lets anyone with add_section pick an issue: a
        # contributor may only add to a draft.
        services.section_save(section=obj, acting_user=request.user)

    def log_addition(self, request: HttpRequest, obj: Section, message: Any) -> Any:  # type: ignore[override]
        entry = super().log_addition(request, obj, message)
        self._name_the_section(obj, entry)
        return entry

    def log_change(self, request: HttpRequest, obj: Section, message: Any) -> Any:  # type: ignore[override]
        entry = super().log_change(request, obj, message)
        self._name_the_section(obj, entry)
        return entry

    def _name_the_section(self, obj: Section, entry: Any) -> None:
        # The revision also appears in the issue's history: say which section changed.
        if reversion.is_active():
            reversion.set_comment(f"{obj}: {entry.get_change_message()}")

    @admin.display(description="Issue")
    def issue_link(self, obj: Section) -> str:
        url = reverse("admin:issues_issue_change", args=[obj.issue_id])
        return format_html('<a href="{}">{}</a> ({})', url, obj.issue, obj.issue.get_status_display())

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.issue_refresh_stats(issue=form.instance.issue)

    def delete_model(self, request: HttpRequest, obj: Section) -> None:
        issue = obj.issue
        super().delete_model(request, obj)
        services.issue_refresh_stats(issue=issue)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        issues = list(Issue.objects.filter(sections__in=queryset).distinct())
        super().delete_queryset(request, queryset)
        for issue in issues:
            services.issue_refresh_stats(issue=issue)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        section = self.get_object(request, object_id)
        issue = section.issue if section is not None else None
        refused = admin_views.refuse_locked_edit(request, issue, back_to=request.path)
        if refused is not None:
            return refused
        extra = dict(extra_context or {})
        if issue is not None:
            extra.update(admin_views.edit_notice_context(issue))
        return super().change_view(request, object_id, form_url, extra)

    def response_change(self, request: HttpRequest, obj: Section) -> HttpResponse:
        response = super().response_change(request, obj)
        if "_continue" not in request.POST and "_addanother" not in request.POST and response.status_code == 302:
            response["Location"] = reverse("admin:issues_issue_change", args=[obj.issue_id])
        return response


# Authors, tags, the workflow's audit rows, test sends and templates register there.
# The publication's masthead page too.
from issues import admin_publication, admin_records  # noqa: E402, F401
