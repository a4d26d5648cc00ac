from django.contrib import admin

from newsroom.models import NavLink, SitePage
from newsroom.selectors import site_cache_clear


class ClearSiteCacheMixin:
    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        site_cache_clear()

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        super().delete_model(request, obj)  # type: ignore[misc]
        site_cache_clear()

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        # The changelist's "delete selected" action.
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        site_cache_clear()


@admin.register(SitePage)
class SitePageAdmin(ClearSiteCacheMixin, admin.ModelAdmin):
    list_display = ["title", "slug", "show_in_footer", "position"]
    list_editable = ["show_in_footer", "position"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(NavLink)
class NavLinkAdmin(ClearSiteCacheMixin, admin.ModelAdmin):
    list_display = ["label", "url", "position"]
    list_editable = ["url", "position"]
