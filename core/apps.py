from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared library; an app only for the outbox's model, views and templates."""

    name = "core"
    verbose_name = "Development outbox"
    default_auto_field = "django.db.models.BigAutoField"
