"""The "Publication and masthead" page: one row, edited by editors, saved through the service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from issues import services
from issues.models import Publication


class PublicationForm(forms.ModelForm):
    class Meta:
        model = Publication
        fields = [
            "name",
            "tagline",
            "logo",
            "logo_alt",
            "logo_display_width",
            "brand_colour",
            "replies_welcome",
            "reply_prompt",
        ]
        widgets = {
            "brand_colour": forms.TextInput(attrs={"type": "color", "style": "width:5em;height:2.2em"}),
            "name": forms.TextInput(attrs={"size": 50}),
            "tagline": forms.TextInput(attrs={"size": 70}),
            "logo_alt": forms.TextInput(attrs={"size": 70}),
            "reply_prompt": forms.TextInput(attrs={"size": 90}),
        }

    def clean_brand_colour(self) -> str:
        # A colour picker sends lower case; typed values are kept the same way.
        return str(self.cleaned_data["brand_colour"]).lower()


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    form = PublicationForm
    readonly_fields = ["logo_size"]
    fieldsets = [
        ("Masthead", {"fields": ["name", "tagline", "brand_colour"]}),
        (
            "Logo",
            {
                "fields": ["logo", "logo_alt", "logo_size", "logo_display_width"],
                "description": "Shown at the top of every email, on a white plate so it reads in dark mode too.",
            },
        ),
        ("Replies", {"fields": ["replies_welcome", "reply_prompt"]}),
    ]

    @admin.display(description="Logo file")
    def logo_size(self, obj: Publication) -> str:
        if not obj.logo or not obj.logo_width:
            return "No logo: the masthead shows the name in type."
        return format_html(
            '<img src="{}" alt="" width="{}" height="{}" style="display:block;margin:0 0 6px;background:#fff;'
            'padding:6px;border:1px solid #ddd;border-radius:6px">{} by {} pixels, shown at {} by {} in the email.',
            obj.logo.url,
            obj.logo_display_width,
            obj.logo_display_height,
            obj.logo_width,
            obj.logo_height,
            obj.logo_display_width,
            obj.logo_display_height,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Publication.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # One page, not a list: straight to it (or to the form that makes it).
        if Publication.objects.filter(pk=1).exists():
            return HttpResponseRedirect(reverse("admin:issues_publication_change", args=[1]))
        return HttpResponseRedirect(reverse("admin:issues_publication_add"))

    def save_model(self, request: HttpRequest, obj: Publication, form: Any, change: bool) -> None:
        services.publication_save(publication=obj, acting_user=request.user)
