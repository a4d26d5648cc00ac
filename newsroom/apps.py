from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class NewsroomConfig(AppConfig):
    name = "newsroom"
    verbose_name = "Site"


class NewsroomAdminConfig(admin_apps.AdminConfig):
    """Django's admin app with the project's site (newsroom.admin_site);
    INSTALLED_APPS names it in place of django.contrib.admin."""

    default = False  # not the config of the newsroom app itself
    default_site = "newsroom.admin_site.NewsroomAdminSite"
