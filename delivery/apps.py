from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery and tracking"

    def ready(self) -> None:
        # Connects the anymail ``tracking`` receiver.
        from delivery import engagement, privacy, tracking  # noqa: F401
        from delivery.selectors import send_open_for_issue
        from issues.hooks import open_send_finder_register

        # The issue admin names the send to cancel before a locked issue can be edited.
        open_send_finder_register(send_open_for_issue)

        # Export and erasure of a reader reach their deliveries and events.
        privacy.register()

        # The issue email as a reader's copy of a send carries it (scored by the SpamAssassin test).
        from delivery.samples import register_samples

        register_samples()
        # Segments' engagement rules read opens and clicks; a finished send counts as received.
        engagement.register()
