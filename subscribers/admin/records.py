"""Segments, suppressions and CSV imports in the admin."""

from __future__ import annotations

import contextlib
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from core.ids import parse_id
from core.queue import TaskQueueUnavailable, enqueue
from subscribers import counts, importer, services, tasks
from subscribers.admin.readers import counts_subtitle
from subscribers.engagement import engagement_source
from subscribers.fields import field_check_definition, field_parse
from subscribers.models import (
    CustomField,
    FieldKind,
    FieldOperator,
    ImportJob,
    MailingList,
    Segment,
    SegmentCount,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Suppression,
)
from subscribers.normalise import normalise_email
from subscribers.selectors import SegmentRules, segment_count, segment_counts, segment_filter

ENGAGEMENT_FIELDS = [
    "opened_in_last_sends",
    "clicked_in_last_sends",
    "clicked_url",
    "clicked_issue",
    "never_opened",
    "received_at_least",
]
#: Rules that need an open or click, which "never opened" contradicts.
NEEDS_ENGAGEMENT = [
    "engaged_within_days",
    "opened_in_last_sends",
    "clicked_in_last_sends",
    "clicked_url",
    "clicked_issue",
]


def _sent_issue_choices() -> list[tuple[Any, str]]:
    return [("", "Any or none"), *engagement_source().sent_issue_choices()]


class LinkInput(forms.URLInput):
    """A URL box that suggests the links of sent issues readers clicked (a datalist)."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> Any:
        list_id = f"{name}-suggestions"
        field = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join(
            "", '<option value="{}">', ((url,) for url in engagement_source().clicked_url_suggestions())
        )
        return format_html('{}<datalist id="{}">{}</datalist>', field, list_id, options)


def rule_errors(data: dict[str, Any]) -> list[str]:
    """Conditions that no reader can meet together (checked on save and by the live count)."""
    errors = []
    after, before = data.get("signed_up_after"), data.get("signed_up_before")
    if after and before and after > before:
        errors.append("“Signed up after” must be on or before “signed up before”.")
    engaged, inactive = data.get("engaged_within_days"), data.get("inactive_for_days")
    if engaged and inactive and inactive >= engaged:
        errors.append(
            "“Opened or clicked within N days” must be more days than “no open or click for N days”, "
            "or no reader can match both."
        )
    if data.get("never_opened"):
        clashing = [name for name in NEEDS_ENGAGEMENT if data.get(name) not in (None, "")]
        if clashing:
            label = getattr(Segment._meta.get_field(clashing[0]), "verbose_name", clashing[0])
            errors.append(f"“Never opened” cannot be combined with “{label}”: it needs an open or click.")
    return errors


class SegmentForm(forms.ModelForm):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *SubscriberStatus.choices],
        required=False,
        help_text=Segment._meta.get_field("status").help_text,
    )
    clicked_issue = forms.TypedChoiceField(
        choices=_sent_issue_choices,
        coerce=int,
        empty_value=None,
        required=False,
        label="Clicked any link of this issue",
        help_text="Issues that were sent.",
    )
    clicked_url = forms.URLField(
        max_length=2000,
        required=False,
        assume_scheme="https",
        widget=LinkInput,
        label="Clicked this link",
        help_text=Segment._meta.get_field("clicked_url").help_text,
    )

    class Meta:
        model = Segment
        fields = [
            "name",
            "lists",
            "tags",
            "status",
            "signed_up_after",
            "signed_up_before",
            "engaged_within_days",
            "inactive_for_days",
            *ENGAGEMENT_FIELDS,
            "field",
            "field_operator",
            "field_value",
        ]
        widgets = {
            "lists": forms.CheckboxSelectMultiple,
            "tags": forms.CheckboxSelectMultiple,
            "signed_up_after": forms.DateInput(attrs={"type": "date"}),
            "signed_up_before": forms.DateInput(attrs={"type": "date"}),
        }

    def clean_clicked_url(self) -> str:
        url: str = self.cleaned_data.get("clicked_url") or ""
        if url and not engagement_source().url_of_sent_issue(url):
            raise ValidationError(
                "No sent issue links to this address, and no reader clicked it: enter a link exactly as it "
                "appears in a sent issue (the suggestions are links readers clicked)."
            )
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        errors = rule_errors(data)
        if errors:
            raise ValidationError(errors)
        after, before = data.get("signed_up_after"), data.get("signed_up_before")
        if after and before and after > before:
            raise ValidationError("“Signed up after” must be on or before “signed up before”.")
        _check_field_condition(self, data)
        return data


_NEEDS_VALUE = (FieldOperator.EQUALS, FieldOperator.NOT_EQUALS, FieldOperator.GREATER, FieldOperator.LESS)


def _check_field_condition(form: forms.BaseForm, data: dict[str, Any]) -> Any:
    """The custom-field condition's value, parsed for the field's kind; errors go on the form's fields."""
    field, operator, raw = data.get("field"), data.get("field_operator") or "", data.get("field_value") or ""
    if field is None:
        if operator or raw:
            form.add_error("field", "Choose the custom field this condition is about.")
        return None
    if not operator:
        form.add_error("field_operator", "Choose how the field should compare.")
        return None
    if operator not in _NEEDS_VALUE:
        return None
    if not raw.strip():
        form.add_error("field_value", "Give the value to compare with.")
        return None
    try:
        value = field_parse(field, raw)
    except ValidationError as error:
        form.add_error("field_value", error.messages[0])
        return None
    if operator in (FieldOperator.GREATER, FieldOperator.LESS) and field.kind not in (FieldKind.NUMBER, FieldKind.DATE):
        form.add_error("field_operator", "More than / less than works on number and date fields only.")
    return value


class SegmentRulesForm(forms.Form):
    """The live count's query: the segment form's conditions, not yet saved."""

    lists = forms.ModelMultipleChoiceField(queryset=MailingList.objects.all(), required=False)
    tags = forms.ModelMultipleChoiceField(queryset=SubscriberTag.objects.all(), required=False)
    status = forms.ChoiceField(choices=[("", "any"), *SubscriberStatus.choices], required=False)
    signed_up_after = forms.DateField(required=False)
    signed_up_before = forms.DateField(required=False)
    engaged_within_days = forms.IntegerField(min_value=1, required=False)
    inactive_for_days = forms.IntegerField(min_value=1, required=False)
    opened_in_last_sends = forms.IntegerField(min_value=1, required=False)
    clicked_in_last_sends = forms.IntegerField(min_value=1, required=False)
    clicked_url = forms.URLField(max_length=2000, required=False, assume_scheme="https")
    clicked_issue = forms.IntegerField(min_value=1, required=False)
    never_opened = forms.BooleanField(required=False)
    received_at_least = forms.IntegerField(min_value=1, required=False)

    field = forms.ModelChoiceField(queryset=CustomField.objects.all(), required=False)
    field_operator = forms.ChoiceField(choices=[("", "—"), *FieldOperator.choices], required=False)
    field_value = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        errors = rule_errors(data)
        if errors:
            raise ValidationError(errors)
        data["parsed_value"] = _check_field_condition(self, data)
        return data

    def rules(self) -> SegmentRules:
        data = self.cleaned_data
        field = data["field"]
        return SegmentRules(
            field_key=field.key if field is not None else "",
            field_operator=data["field_operator"] if field is not None else "",
            field_value=data.get("parsed_value"),
            list_ids=tuple(item.pk for item in data["lists"]),
            tag_ids=tuple(item.pk for item in data["tags"]),
            status=data["status"],
            signed_up_after=data["signed_up_after"],
            signed_up_before=data["signed_up_before"],
            engaged_within_days=data["engaged_within_days"],
            inactive_for_days=data["inactive_for_days"],
            opened_in_last_sends=data["opened_in_last_sends"],
            clicked_in_last_sends=data["clicked_in_last_sends"],
            clicked_url=data["clicked_url"],
            clicked_issue=data["clicked_issue"],
            never_opened=data["never_opened"],
            received_at_least=data["received_at_least"],
        )


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["name", "matching", "matching_readers", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    conditions = [
        "lists",
        "tags",
        "status",
        ("signed_up_after", "signed_up_before"),
        "engaged_within_days",
        "inactive_for_days",
        ("field", "field_operator", "field_value"),
    ]
    change_form_template = "admin/subscribers/segment/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        # The live count below the conditions replaces the saved count while editing.
        first = ["name", "created_by", "created_at"] if obj is not None else ["name"]
        engagement = (
            "Engagement: opens and clicks of people (privacy proxies and link scanners do not count)",
            {"fields": ENGAGEMENT_FIELDS},
        )
        return [(None, {"fields": first}), ("Readers who match all of these", {"fields": self.conditions}), engagement]

    actions = ["count_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        queryset = super().get_queryset(request)
        if counts.counts_live():
            return queryset
        # Counting each segment on each view reads its readers: at this size the stored counts are shown.
        return queryset.annotate(
            counts_stored=Value(True),
            stored_matching=F("stored_count__matching"),
            stored_sendable=F("stored_count__sendable"),
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "subtitle": counts_subtitle(SegmentCount)})

    @admin.display(description="Matching readers (any status)")
    def matching(self, obj: Any) -> int | None:
        if getattr(obj, "counts_stored", False):
            return obj.stored_matching
        return Subscriber.objects.filter(segment_filter(obj)).count()

    @admin.display(description="Readers a send would reach now")
    def matching_readers(self, obj: Any) -> int | None:
        if getattr(obj, "counts_stored", False):
            return obj.stored_sendable
        return segment_count(obj)

    @admin.action(description="Count the selected segments' readers again now")
    def count_again(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        counted = counts.segment_counts_refresh(queryset)
        self.message_user(request, f"Counted the readers of {counted} segments.", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # The lists and tags are saved now: a stored count by the old rules would be wrong, so it goes,
        # and the new one is taken by a task (a moment; the periodic count otherwise).
        SegmentCount.objects.filter(segment=form.instance).delete()
        if not counts.counts_live():
            segment_id = form.instance.pk
            transaction.on_commit(lambda: _count_soon(segment_id))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.count_view)
        return [path("count/", view, name="subscribers_segment_count"), *super().get_urls()]

    def count_view(self, request: HttpRequest) -> JsonResponse:
        """JSON for the live count on the segment form: readers matching the unsaved conditions."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = SegmentRulesForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        return JsonResponse(segment_counts(form.rules()))

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        context["segment_count_url"] = reverse("admin:subscribers_segment_count")
        return super().render_change_form(request, context, *args, **kwargs)


class CustomFieldForm(forms.ModelForm):
    class Meta:
        model = CustomField
        fields = ["label", "key", "kind", "choices", "help_text", "position"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        key = data.get("key", self.instance.key if self.instance.pk else "")
        choices = data.get("choices") or []
        if isinstance(choices, list):
            choices = [str(c).strip() for c in choices]
            data["choices"] = choices
        elif choices:
            raise ValidationError({"choices": 'Write the values as a JSON list, e.g. ["Free", "Paid"].'})
        if key and data.get("kind"):
            field_check_definition(key=key, kind=data["kind"], choices=choices)
        return data


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    form = CustomFieldForm
    list_display = ["label", "key", "kind", "choice_list", "position"]
    list_editable = ["position"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Readers' values are stored under the key: renaming it would lose them.
        return ["key"] if obj is not None else []

    @admin.display(description="Values")
    def choice_list(self, obj: CustomField) -> str:
        return ", ".join(obj.choices)


class SuppressionAddForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["email", "detail"]

    email = forms.CharField(max_length=300, label="Email address")

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["shown_address", "reason", "detail", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email", "email_hash"]

    @admin.display(description="Address")
    def shown_address(self, obj: Suppression) -> str:
        return obj.email or f"(erased) {obj.email_hash}"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = SuppressionAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["email_hash", "email", "reason", "detail", "created_at"] if obj else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Suppression, form: Any, change: bool) -> None:
        stored = services.suppression_add(
            email=form.cleaned_data["email"], reason=Suppression.Reason.MANUAL, detail=form.cleaned_data["detail"]
        )
        obj.pk = stored.pk
        obj.email_hash = stored.email_hash


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "status",
        "created_at",
        "created_by",
        "total_rows",
        "added",
        "updated",
        "skipped",
        "rejected",
    ]
    list_filter = ["status"]
    # The report is shown as a table below the fields (change_form.html), not as raw JSON.
    fields = ["filename", "status", "consent_basis", "lists", "created_by", "created_at", "finished_at"]
    change_form_template = "admin/subscribers/importjob/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ImportJob) -> None:
        importer.import_job_delete(job=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ImportJob]) -> None:
        for job in queryset:
            importer.import_job_delete(job=job)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "import_url": reverse("admin:subscribers_subscriber_import")}
        return super().changelist_view(request, extra)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        job_id = parse_id(object_id)
        job = ImportJob.objects.filter(pk=job_id).first() if job_id is not None else None
        progress = importer.import_job_progress(job=job) if job is not None else None
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "progress": progress})


def _count_soon(segment_id: int) -> None:
    # A broker down: the periodic count takes it; until then the page shows the segment as not counted.
    with contextlib.suppress(TaskQueueUnavailable):
        enqueue(lambda: tasks.refresh_counts_task.delay(segment_id=segment_id))
