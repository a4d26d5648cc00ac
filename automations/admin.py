"""The sequence page (steps inline, sortable; funnel and previews; pause and resume) and the runs list."""

from __future__ import annotations

from typing import Any

from adminsortable2.admin import SortableAdminBase, SortableStackedInline
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from automations import selectors, services
from automations.forms import SequenceForm, StepForm, StepFormSet
from automations.models import Run, RunStatus, Sequence, SequenceStatus, Step, SunsetNotice


class StepInline(SortableStackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    min_num = 0
    fields = ["subject", "preheader", "body", ("delay_value", "delay_unit", "send_at"), "add_tag", "preview_link"]
    readonly_fields = ["preview_link"]
    verbose_name = "step"
    verbose_name_plural = "Steps (drag to reorder; each waits its delay after the previous one)"

    @admin.display(description="Preview")
    def preview_link(self, obj: Step) -> str:
        if obj.pk is None:
            return "Save to preview."
        url = reverse("admin:automations_sequence_preview", args=[obj.sequence_id, obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">Open the email preview</a>', url)


@admin.register(Sequence)
class SequenceAdmin(SortableAdminBase, admin.ModelAdmin):
    form = SequenceForm
    inlines = [StepInline]
    list_display = ["name", "trigger_text", "status", "step_count", "active_runs"]
    list_filter = ["status", "trigger"]
    search_fields = ["name"]
    readonly_fields = ["status", "funnel"]
    change_form_template = "admin/automations/sequence/change_form.html"
    actions = ["pause_selected", "resume_selected"]
    fieldsets = [
        (None, {"fields": ["name", "status"]}),
        ("Trigger", {"fields": ["trigger", "trigger_list", "trigger_tag", "trigger_segment", "allow_reentry"]}),
        ("Pausing", {"fields": ["pause_policy"]}),
        ("Funnel", {"fields": ["funnel"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Sequence]:
        return (
            super()
            .get_queryset(request)
            .select_related("trigger_list", "trigger_tag", "trigger_segment")
            .annotate(
                n_steps=Count("steps", distinct=True),
                n_active=Count("runs", filter=Q(runs__status=RunStatus.ACTIVE), distinct=True),
            )
        )

    @admin.display(description="Trigger")
    def trigger_text(self, obj: Sequence) -> str:
        target = obj.trigger_list or obj.trigger_tag or obj.trigger_segment
        if obj.trigger == "list_confirmed" and target is None:
            return "Confirms (any list)"
        return f"{obj.get_trigger_display()}: {target}"

    @admin.display(description="Steps")
    def step_count(self, obj: Sequence) -> int:
        return int(getattr(obj, "n_steps", 0))

    @admin.display(description="Readers in it")
    def active_runs(self, obj: Sequence) -> int:
        return int(getattr(obj, "n_active", 0))

    @admin.display(description="Per step")
    def funnel(self, obj: Sequence) -> SafeString:
        if obj.pk is None:
            return mark_safe("<p>Figures appear once readers enter the sequence.</p>")
        runs = reverse("admin:automations_run_changelist") + f"?sequence__id__exact={obj.pk}"
        return mark_safe(
            render_to_string("automations/funnel.html", {"funnel": selectors.sequence_funnel(obj), "runs_url": runs})
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        made = services.step_versions_sync(sequence=form.instance)
        if change and made:
            messages.info(
                request,
                f"{made} step(s) changed: readers who have not reached them get the new version; "
                "readers already sent them keep theirs.",
            )

    def get_urls(self) -> list[Any]:
        own = [
            path("<int:pk>/pause/", self.admin_site.admin_view(self.pause_view), name="automations_sequence_pause"),
            path("<int:pk>/resume/", self.admin_site.admin_view(self.resume_view), name="automations_sequence_resume"),
            path(
                "<int:pk>/steps/<int:step_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="automations_sequence_preview",
            ),
        ]
        return own + super().get_urls()

    def _changeable(self, request: HttpRequest, pk: int) -> Sequence:
        sequence = get_object_or_404(Sequence, pk=pk)
        if not self.has_change_permission(request, sequence):
            raise PermissionDenied
        return sequence

    def pause_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return require_POST(self._pause)(request, pk)

    def _pause(self, request: HttpRequest, pk: int) -> HttpResponse:
        sequence = self._changeable(request, pk)
        if services.sequence_pause(sequence=sequence, acting_user=request.user):
            self.log_change(request, sequence, "Paused")
            messages.success(request, f"“{sequence}” is paused: no step goes out until you resume it.")
        else:
            messages.warning(request, f"“{sequence}” was already paused.")
        return HttpResponseRedirect(reverse("admin:automations_sequence_change", args=[pk]))

    def resume_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return require_POST(self._resume)(request, pk)

    def _resume(self, request: HttpRequest, pk: int) -> HttpResponse:
        sequence = self._changeable(request, pk)
        if sequence.status != SequenceStatus.PAUSED:
            messages.warning(request, f"“{sequence}” is not paused.")
        else:
            count = services.sequence_resume(sequence=sequence, acting_user=request.user)
            self.log_change(request, sequence, "Resumed")
            what = "go out now" if sequence.pause_policy == "send_late" else "were skipped"
            messages.success(request, f"“{sequence}” is sending again; {count} reader(s) whose step came due {what}.")
        return HttpResponseRedirect(reverse("admin:automations_sequence_change", args=[pk]))

    def preview_view(self, request: HttpRequest, pk: int, step_id: int) -> HttpResponse:
        sequence = get_object_or_404(Sequence, pk=pk)
        if not self.has_view_or_change_permission(request, sequence):
            raise PermissionDenied
        step = get_object_or_404(Step, pk=step_id, sequence=sequence)
        rendered = selectors.step_preview(step)
        response = HttpResponse(rendered.html)
        # The preview is the email itself: no scripts, and only inside the admin's own pages.
        response["Content-Security-Policy"] = "script-src 'none'; frame-ancestors 'self'"
        return response

    @admin.action(description="Pause the selected sequences")
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Sequence]) -> None:
        paused = sum(services.sequence_pause(sequence=s, acting_user=request.user) for s in queryset)
        messages.success(request, f"{paused} sequence(s) paused.")

    @admin.action(description="Resume the selected sequences")
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Sequence]) -> None:
        resumed = [s for s in queryset if s.status == SequenceStatus.PAUSED]
        for s in resumed:
            services.sequence_resume(sequence=s, acting_user=request.user)
        messages.success(request, f"{len(resumed)} sequence(s) resumed.")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["reader", "sequence", "status", "current_step", "next_due_at", "entered_at", "exit_reason"]
    list_filter = ["status", "sequence"]
    search_fields = ["subscriber__email"]
    list_select_related = ["subscriber", "sequence", "current_step"]
    actions = ["stop_selected"]
    readonly_fields = [f.name for f in Run._meta.fields]

    @admin.display(description="Reader", ordering="subscriber__email")
    def reader(self, obj: Run) -> str:
        return obj.subscriber.email

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Stop the selected readers' runs (they get no further step)", permissions=["change"])
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        stopped = services.runs_stop(runs=queryset, acting_user=request.user)
        messages.success(request, f"{stopped} run(s) stopped.")


@admin.register(SunsetNotice)
class SunsetNoticeAdmin(admin.ModelAdmin):
    """Who the lists' sunset policies asked, and what came of it (automations.sunset)."""

    list_display = ["reader", "mailing_list", "outcome", "created_at", "decided_at"]
    list_filter = ["outcome", "mailing_list"]
    search_fields = ["subscriber__email"]
    list_select_related = ["subscriber", "mailing_list"]
    readonly_fields = [f.name for f in SunsetNotice._meta.fields]

    @admin.display(description="Reader", ordering="subscriber__email")
    def reader(self, obj: SunsetNotice) -> str:
        return obj.subscriber.email

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
