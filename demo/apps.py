from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo content and the load_demo command; production code never imports it."""

    name = "demo"
    verbose_name = "Demo"
