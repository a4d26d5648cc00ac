from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery and tracking"

    def ready(self) -> None:
        # Connects the anymail ``tracking`` receiver.
        from delivery import tracking  # noqa: F401
