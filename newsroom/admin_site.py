"""The project's admin site: Django's, plus an "Analytics" entry on the admin
home and in the sidebar (the analytics pages are plain views under
/admin/analytics/, not a model, so Django would not list them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

ANALYTICS_PERMISSION = "delivery.view_send"


class NewsroomAdminSite(admin.AdminSite):
    site_title = "Newsroom admin"
    index_title = "Newsroom"

    @property
    def site_header(self) -> str:  # type: ignore[override]
        # Read at request time so PUBLISHER_NAME set by the environment (or a test) shows.
        return f"{settings.PUBLISHER_NAME} · Newsroom"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        app_list = super().get_app_list(request, app_label)
        if app_label is None and request.user.has_perm(ANALYTICS_PERMISSION):
            app_list.append(_analytics_entry())
            app_list.sort(key=lambda app: app["name"].lower())
        return app_list


def _page(name: str, object_name: str, url: str) -> dict[str, Any]:
    return {
        "name": name,
        "object_name": object_name,
        "admin_url": url,
        "add_url": None,
        "view_only": True,
        "perms": {"add": False, "change": False, "delete": False, "view": True},
    }


def _analytics_entry() -> dict[str, Any]:
    index = reverse("delivery_analytics:index")
    return {
        "name": "Analytics",
        "app_label": "analytics",
        "app_url": index,
        "has_module_perms": True,
        "models": [
            _page("Sends and engagement", "SendAnalytics", index),
            _page("Audience over time", "AudienceAnalytics", reverse("delivery_analytics:audience")),
        ],
    }
