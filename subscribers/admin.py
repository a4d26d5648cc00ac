"""The audience in the admin: readers, lists, tags, segments, suppressions and CSV imports."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from subscribers import admin_views, services
from subscribers.export import export_response
from subscribers.models import (
    Consent,
    ImportJob,
    MailingList,
    Segment,
    Subscriber,
    SubscriberSource,
    SubscriberTag,
    Suppression,
)
from subscribers.normalise import normalise_email
from subscribers.selectors import is_suppressed, segment_count


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    can_delete = False
    fields = ["action", "at", "form", "ip", "user_agent", "text"]
    readonly_fields = ["action", "at", "form", "ip", "user_agent", "text"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ListChoiceForm(forms.Form):
    mailing_list = forms.ModelChoiceField(queryset=MailingList.objects.all(), label="List")


class TagChoiceForm(forms.Form):
    tag = forms.ModelChoiceField(queryset=SubscriberTag.objects.all(), required=False, label="Existing tag")
    new_tag = forms.CharField(max_length=60, required=False, label="Or a new tag")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("tag") and not data.get("new_tag", "").strip():
            raise ValidationError("Choose a tag or type a new one.")
        return data


def _intermediate(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, form: forms.Form, title: str, action: str
) -> TemplateResponse:
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": action,
        "opts": modeladmin.model._meta,
        "selected": queryset.values_list("pk", flat=True),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/subscribers/subscriber/action_form.html", context)


class SubscriberAdminForm(forms.ModelForm):
    class Meta:
        model = Subscriber
        fields = ["email", "name", "status", "lists", "tags", "paused_until"]

    def clean_email(self) -> str:
        email = normalise_email(self.cleaned_data["email"])
        if Subscriber.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError("A reader with this address already exists (addresses are compared ignoring case).")
        if is_suppressed(email):
            raise ValidationError("This address is on the suppression list; no email may reach it.")
        return email

    def clean_name(self) -> str:
        name = self.cleaned_data.get("name", "")
        if any(ord(ch) < 32 for ch in name):
            raise ValidationError("A name cannot contain line breaks or control characters.")
        return name


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberAdminForm
    list_display = ["email", "name", "status", "source", "list_names", "created_at", "confirmed_at"]
    list_filter = ["status", "lists", "tags", "source", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["email", "name"]
    date_hierarchy = "created_at"
    filter_horizontal = ["lists", "tags"]
    inlines = [ConsentInline]
    readonly_fields = [
        "status",
        "source",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "confirmation_sent_at",
        "welcome_sent_at",
        "soft_bounces",
        "last_engaged_at",
    ]
    actions = ["add_to_list", "add_tag", "unsubscribe", "export_csv"]
    change_list_template = "admin/subscribers/subscriber/change_list.html"
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscriber]:
        return super().get_queryset(request).prefetch_related("lists")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Status changes go through services (unsubscribe action, provider events); an editor
        # adding a reader by hand states it once.
        fields = list(self.readonly_fields)
        return fields if obj is not None else [name for name in fields if name != "status"]

    @admin.display(description="Lists")
    def list_names(self, obj: Subscriber) -> str:
        return ", ".join(item.name for item in obj.lists.all())

    def save_model(self, request: HttpRequest, obj: Subscriber, form: Any, change: bool) -> None:
        if not change:
            obj.source = SubscriberSource.ADMIN
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(admin_views.import_upload), name="subscribers_subscriber_import"),
            path("import/<int:pk>/", view(admin_views.import_confirm), name="subscribers_subscriber_import_confirm"),
            *super().get_urls(),
        ]

    @admin.action(description="Add selected readers to a list", permissions=["change"])
    def add_to_list(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse | None:
        form = ListChoiceForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            count = services.subscribers_add_to_list(
                subscribers=queryset, mailing_list=form.cleaned_data["mailing_list"]
            )
            self.message_user(
                request, f"{count} readers added to {form.cleaned_data['mailing_list']}.", messages.SUCCESS
            )
            return None
        return _intermediate(self, request, queryset, form, "Add readers to a list", "add_to_list")

    @admin.action(description="Tag selected readers", permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse | None:
        form = TagChoiceForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            tag = (
                form.cleaned_data["tag"]
                or SubscriberTag.objects.get_or_create(name=form.cleaned_data["new_tag"].strip())[0]
            )
            count = services.subscribers_tag(subscribers=queryset, tag=tag)
            self.message_user(request, f"{count} readers tagged “{tag}”.", messages.SUCCESS)
            return None
        return _intermediate(self, request, queryset, form, "Tag readers", "add_tag")

    @admin.action(description="Unsubscribe selected readers", permissions=["change"])
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        via = f"admin: {request.user.get_username()}"
        for subscriber in queryset:
            services.subscriber_unsubscribe(subscriber=subscriber, via=via)
        self.message_user(request, f"{queryset.count()} readers are unsubscribed.", messages.SUCCESS)

    @admin.action(description="Export selected readers as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> StreamingHttpResponse:
        return export_response(queryset)


@admin.register(MailingList)
class MailingListAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "public", "default", "position", "readers"]
    prepopulated_fields = {"slug": ["name"]}
    list_editable = ["position"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MailingList]:
        return super().get_queryset(request).annotate(reader_count=Count("subscribers"))

    @admin.display(description="Readers", ordering="reader_count")
    def readers(self, obj: Any) -> int:
        return int(obj.reader_count)


@admin.register(SubscriberTag)
class SubscriberTagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "matching_readers", "created_at"]
    filter_horizontal = ["lists", "tags"]
    readonly_fields = ["matching_readers", "created_by", "created_at"]
    fields = [
        "name",
        "lists",
        "tags",
        "signed_up_after",
        "signed_up_before",
        "engaged_within_days",
        "matching_readers",
        "created_by",
        "created_at",
    ]

    @admin.display(description="Readers a send would reach now")
    def matching_readers(self, obj: Segment) -> int | str:
        return segment_count(obj) if obj.pk else "Shown after saving"

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


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
    fields = ["filename", "file", "status", "consent_basis", "lists", "created_by", "created_at", "finished_at"]
    change_form_template = "admin/subscribers/importjob/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "import_url": reverse("admin:subscribers_subscriber_import")}
        return super().changelist_view(request, extra)
