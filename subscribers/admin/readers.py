"""Readers, lists and tags in the admin, with the bulk actions on readers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from core.ids import parse_id
from core.paging import LargeTablePaginator
from core.queue import TaskQueueUnavailable
from subscribers import admin_services, admin_views, counts
from subscribers.export import export_response
from subscribers.fields import field_parse, form_field
from subscribers.models import (
    Consent,
    CustomField,
    ListCount,
    MailingList,
    Segment,
    SegmentCount,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
)
from subscribers.normalise import clean_name, normalise_email, search_ascii
from subscribers.selectors import is_suppressed, segment_filter
from subscribers.timezones import zone_check, zone_choices


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


class UnsubscribeConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, unsubscribe them",
        help_text="They will receive no more issues. Only they can subscribe again (by the form or their link).",
    )


class SegmentListFilter(admin.SimpleListFilter):
    """Show (and export, tag, …) the readers a saved segment matches, in any status."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(segment.pk), segment.name) for segment in Segment.objects.all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> QuerySet[Subscriber]:
        value = self.value() or ""
        segment_id = parse_id(value)
        segment = Segment.objects.filter(pk=segment_id).first() if segment_id is not None else None
        return queryset.filter(segment_filter(segment)) if segment else queryset


class _MembershipFilter(admin.SimpleListFilter):
    """Readers in one list (or with one tag), by a semi-join (EXISTS) on the membership table.

    Django's own filter on a many-to-many field joins it and adds DISTINCT to the whole changelist
    query (a reader could match twice), so at a million readers its count and its page sort every
    matching row. A reader is in a list once, so EXISTS returns the same readers without either.
    The parameter keeps Django's name, so addresses from the old filter still work.
    """

    relation = ""
    target_column = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        target = Subscriber._meta.get_field(self.relation).related_model
        return [(str(pk), name) for pk, name in target._default_manager.values_list("pk", "name")]  # type: ignore[union-attr]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> QuerySet[Subscriber]:
        target_id = parse_id(self.value() or "")
        if target_id is None:
            return queryset
        through = getattr(Subscriber, self.relation).through
        members = through.objects.filter(subscriber_id=OuterRef("pk"), **{self.target_column: target_id})
        return queryset.filter(Exists(members))


class ListFilter(_MembershipFilter):
    title = "list"
    parameter_name = "lists__id__exact"
    relation = "lists"
    target_column = "mailinglist_id"


class TagFilter(_MembershipFilter):
    title = "tag"
    parameter_name = "tags__id__exact"
    relation = "tags"
    target_column = "subscribertag_id"


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
        fields = ["email", "name", "status", "lists", "tags", "paused_until", "time_zone"]

    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="For sends at each reader's local time; blank uses the publication's zone.",
        error_messages={"invalid_choice": "“%(value)s” is not a known time zone; choose one from the list."},
    )

    def clean_time_zone(self) -> str:
        return zone_check(self.cleaned_data.get("time_zone", ""))

    def clean_email(self) -> str:
        email = normalise_email(self.cleaned_data["email"])
        if Subscriber.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError("A reader with this address already exists (addresses are compared ignoring case).")
        if is_suppressed(email):
            raise ValidationError("This address is on the suppression list; no email may reach it.")
        return email

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            # Bounced and complained come from the provider, unsubscribed from the reader.
            self.fields["status"].choices = [  # type: ignore[attr-defined]
                (SubscriberStatus.ACTIVE, "Active: I have their consent"),
                (SubscriberStatus.PENDING, "Pending: email them a link to confirm"),
            ]
            self.fields["status"].initial = SubscriberStatus.PENDING
        choices = zone_choices()
        stored = self.instance.time_zone
        if stored and stored not in dict(choices):  # an alias a browser gave (e.g. Asia/Calcutta) stays choosable
            choices = [*choices, (stored, stored)]
        self.fields["time_zone"].choices = choices  # type: ignore[attr-defined]
        self._add_custom_fields()

    def clean_name(self) -> str:
        return clean_name(self.cleaned_data.get("name", ""))

    def _add_custom_fields(self) -> None:
        self.custom_fields = list(CustomField.objects.all())
        stored = self.instance.attributes or {}
        for custom in self.custom_fields:
            field = form_field(custom)
            field.initial = stored.get(custom.key)
            self.fields[f"attr_{custom.key}"] = field

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        attributes = dict(self.instance.attributes or {})
        for custom in self.custom_fields:
            name = f"attr_{custom.key}"
            if name not in data:
                continue
            raw = data[name]
            try:
                value = field_parse(custom, raw.isoformat() if hasattr(raw, "isoformat") else raw)
            except ValidationError as error:
                self.add_error(name, error.messages[0])
                continue
            if value is None:
                attributes.pop(custom.key, None)
            else:
                attributes[custom.key] = value
        self.instance.attributes = attributes
        return data


def custom_field_names() -> list[str]:
    return [f"attr_{key}" for key in CustomField.objects.values_list("key", flat=True)]


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberAdminForm
    # Dates without the time and the source left to its filter: every column fits at 1280 px.
    list_display = ["email", "name", "status", "list_names", "joined", "confirmed"]
    list_filter = [
        "status",
        ListFilter,
        TagFilter,
        "source",
        ("created_at", admin.DateFieldListFilter),
        SegmentListFilter,
    ]
    search_fields = ["email", "name"]
    # No date_hierarchy: its year links are a SELECT DISTINCT over every matching reader's date (a whole-table
    # read at a million readers, on every view of the list). The "Joined" filter picks the recent ranges.
    filter_horizontal = ["lists", "tags"]
    inlines = [ConsentInline]
    readonly_fields = [
        "status",
        "reactivate_button",
        "source",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "confirmation_sent_at",
        "welcome_sent_at",
        "soft_bounces",
        "last_engaged_at",
    ]
    actions = ["add_to_list", "add_tag", "unsubscribe", "reactivate", "export_csv"]
    change_list_template = "admin/subscribers/subscriber/change_list.html"
    list_per_page = 100
    # At a million readers an exact COUNT(*) per page view costs more than the page: the table's
    # estimate when unfiltered, a capped count when filtered (core/paging.py; pagination.html says which).
    paginator = LargeTablePaginator
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscriber]:
        return super().get_queryset(request).prefetch_related("lists")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        names: Any = custom_field_names()
        if names:
            fieldsets.append(("Custom fields", {"fields": names}))
        return fieldsets

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        # The custom fields are added by the form itself; the model form factory must not look for them.
        if kwargs.get("fields"):
            names = set(custom_field_names())
            kwargs["fields"] = [name for name in kwargs["fields"] if name not in names]
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Status changes go through services (unsubscribe action, provider events); an editor
        # adding a reader by hand states it once.
        fields = list(self.readonly_fields)
        if obj is None or obj.status != SubscriberStatus.INACTIVE:
            fields.remove("reactivate_button")
        return fields if obj is not None else [name for name in fields if name != "status"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if "reactivate_button" in fields and (obj is None or obj.status != SubscriberStatus.INACTIVE):
            fields.remove("reactivate_button")
        return fields

    @admin.display(description="Inactive")
    def reactivate_button(self, obj: Subscriber) -> SafeString:
        # A button of the change form itself (its CSRF token goes along) posting to the reactivate view.
        return format_html(
            "<p>The list's sunset policy moved this reader to inactive: issues and sequences skip them.</p>"
            '<button type="submit" class="button" formaction="{}" formmethod="post">Reactivate</button>',
            reverse("admin:subscribers_subscriber_reactivate", args=[obj.pk]),
        )

    def reactivate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return require_POST(self._reactivate)(request, pk)

    def _reactivate(self, request: HttpRequest, pk: int) -> HttpResponse:
        subscriber = get_object_or_404(Subscriber, pk=pk)
        if not self.has_change_permission(request, subscriber):
            raise PermissionDenied
        if admin_services.subscribers_reactivate(subscribers=[subscriber], acting_user=request.user):
            self.log_change(request, subscriber, "Reactivated")
            self.message_user(request, f"{subscriber} is active again.", messages.SUCCESS)
        else:
            self.message_user(request, f"{subscriber} is not inactive.", messages.WARNING)
        return redirect("admin:subscribers_subscriber_change", pk)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Subscriber], search_term: str
    ) -> tuple[QuerySet[Subscriber], bool]:
        results, duplicates = super().get_search_results(request, queryset, search_term)
        # Addresses are stored with punycode domains; "bücher.example" finds "xn--bcher-kva.example".
        ascii_term = search_ascii(search_term)
        if ascii_term != search_term:
            results |= queryset.filter(email__icontains=ascii_term)
        return results, duplicates

    @admin.display(description="Lists")
    def list_names(self, obj: Subscriber) -> str:
        return ", ".join(item.name for item in obj.lists.all())

    def save_model(self, request: HttpRequest, obj: Subscriber, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        admin_services.subscriber_add(subscriber=obj, acting_user=request.user)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        reader = form.instance
        lists_before = set(reader.lists.values_list("pk", flat=True)) if change else set()
        tags_before = set(reader.tags.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        # Added or changed: the tags new to the reader start their sequences, as through the API.
        admin_services.subscriber_edited(
            subscriber=reader,
            lists_before=lists_before,
            tags_before=tags_before,
            via=f"admin: {request.user.get_username()}",
        )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except TaskQueueUnavailable:
            # Raised after the commit: the reader is stored, only the confirmation email is missing.
            messages.warning(
                request,
                f"The reader {request.POST.get('email', '')} is saved as pending, but the confirmation email could "
                "not be queued: the task queue (Redis) is not answering. Once it is back, the reader can ask for a "
                "fresh link from the subscribe form.",
            )
            return redirect("admin:subscribers_subscriber_changelist")

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(admin_views.import_upload), name="subscribers_subscriber_import"),
            path("embed/", view(admin_views.embed_builder), name="subscribers_subscriber_embed"),
            path("import/<int:pk>/", view(admin_views.import_confirm), name="subscribers_subscriber_import_confirm"),
            path("<int:pk>/reactivate/", view(self.reactivate_view), name="subscribers_subscriber_reactivate"),
            *super().get_urls(),
        ]

    @admin.display(description="Joined", ordering="created_at")
    def joined(self, obj: Subscriber) -> str:
        return date_format(timezone.localtime(obj.created_at), "j M Y")

    @admin.display(description="Confirmed", ordering="confirmed_at")
    def confirmed(self, obj: Subscriber) -> str | None:
        return date_format(timezone.localtime(obj.confirmed_at), "j M Y") if obj.confirmed_at else None

    @admin.action(description="Add selected readers to a list", permissions=["change"])
    def add_to_list(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse | None:
        form = ListChoiceForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            count = admin_services.subscribers_add_to_list(
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
            count = admin_services.subscribers_tag(subscribers=queryset, tag=tag)
            self.message_user(request, f"{count} readers tagged “{tag}”.", messages.SUCCESS)
            return None
        return _intermediate(self, request, queryset, form, "Tag readers", "add_tag")

    @admin.action(description="Unsubscribe selected readers", permissions=["change"])
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse | None:
        form = UnsubscribeConfirmForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            changed = admin_services.subscribers_unsubscribe(subscribers=queryset, acting_user=request.user)
            left = queryset.count() - changed
            note = f" {left} were already unsubscribed, bounced or complained." if left else ""
            self.message_user(request, f"{changed} readers are unsubscribed.{note}", messages.SUCCESS)
            return None
        return _intermediate(self, request, queryset, form, "Unsubscribe readers", "unsubscribe")

    @admin.action(description="Reactivate selected inactive readers", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        changed = admin_services.subscribers_reactivate(subscribers=queryset, acting_user=request.user)
        left = queryset.count() - changed
        note = f" {left} were not inactive and are left as they were." if left else ""
        self.message_user(request, f"{changed} readers are active again.{note}", messages.SUCCESS)

    @admin.action(description="Export selected readers as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> StreamingHttpResponse:
        return export_response(queryset)


@admin.register(MailingList)
class MailingListAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "public",
        "default",
        "position",
        "readers",
        "active_readers",
        "inactive_readers",
        "sunset",
    ]
    prepopulated_fields = {"slug": ["name"]}
    list_editable = ["position"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "public", "default", "position"]}),
        ("Sunset policy", {"fields": ["sunset_enabled", "sunset_after_sends", "sunset_grace_days"]}),
    ]

    actions = ["count_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MailingList]:
        queryset = super().get_queryset(request)
        if not counts.counts_live():
            # Counted every AUDIENCE_COUNT_SECONDS (subscribers.counts); None until the first count.
            return queryset.annotate(
                reader_count=F("stored_count__readers"),
                active_count=F("stored_count__active"),
                inactive_count=F("stored_count__inactive"),
            )
        return queryset.annotate(
            reader_count=Count("subscribers"),
            active_count=Count("subscribers", filter=Q(subscribers__status=SubscriberStatus.ACTIVE)),
            inactive_count=Count("subscribers", filter=Q(subscribers__status=SubscriberStatus.INACTIVE)),
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "subtitle": counts_subtitle(ListCount)})

    @admin.action(description="Count the selected lists' readers again now")
    def count_again(self, request: HttpRequest, queryset: QuerySet[MailingList]) -> None:
        counted = counts.list_counts_refresh(queryset)
        self.message_user(request, f"Counted the readers of {counted} lists.", messages.SUCCESS)

    @admin.display(description="Active", ordering="active_count")
    def active_readers(self, obj: Any) -> int | None:
        return None if obj.active_count is None else int(obj.active_count)

    @admin.display(description="Inactive", ordering="inactive_count")
    def inactive_readers(self, obj: Any) -> SafeString | None:
        if obj.inactive_count is None:
            return None
        url = reverse("admin:subscribers_subscriber_changelist") + (
            f"?lists__id__exact={obj.pk}&status__exact={SubscriberStatus.INACTIVE}"
        )
        return format_html('<a href="{}">{}</a>', url, int(obj.inactive_count))

    @admin.display(description="Sunset policy")
    def sunset(self, obj: MailingList) -> str:
        if not obj.sunset_enabled:
            return "Off"
        sends = "send" if obj.sunset_after_sends == 1 else "sends"
        days = "day" if obj.sunset_grace_days == 1 else "days"
        return f"After {obj.sunset_after_sends} {sends}, {obj.sunset_grace_days} {days} to answer"

    # Through the services, so the subscribe form on every page shows the change at once.
    def save_model(self, request: HttpRequest, obj: MailingList, form: Any, change: bool) -> None:
        admin_services.mailing_list_save(mailing_list=obj)

    def delete_model(self, request: HttpRequest, obj: MailingList) -> None:
        admin_services.mailing_lists_delete(mailing_lists=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MailingList]) -> None:
        admin_services.mailing_lists_delete(mailing_lists=queryset)

    @admin.display(description="Readers", ordering="reader_count")
    def readers(self, obj: Any) -> int | None:
        return None if obj.reader_count is None else int(obj.reader_count)


def counts_subtitle(model: type[ListCount] | type[SegmentCount]) -> str | None:
    """What the page says when its counts are stored ones: when they were taken."""
    if counts.counts_live():
        return None
    oldest = counts.oldest_count(model)
    every = settings.AUDIENCE_COUNT_SECONDS // 60
    when = date_format(timezone.localtime(oldest), "DATETIME_FORMAT") if oldest else "not yet"
    return f"Readers counted: {when}. At this size they are counted every {every} minutes, not on each view."


@admin.register(SubscriberTag)
class SubscriberTagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
