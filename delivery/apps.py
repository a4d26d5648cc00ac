from typing import Any

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

        # A sending limit saved or deleted holds for the next batch (delivery.pacing caches the rows).
        from django.db.models.signals import post_delete, post_save

        from delivery.models import SendingLimit
        from delivery.pacing import limits_forget

        def forget(sender: Any, instance: SendingLimit, **kwargs: Any) -> None:
            limits_forget(instance.provider)

        post_save.connect(forget, sender=SendingLimit, weak=False, dispatch_uid="delivery.sending_limit_forget")
        post_delete.connect(
            forget, sender=SendingLimit, weak=False, dispatch_uid="delivery.sending_limit_forget_deleted"
        )

        # The issue email as a reader's copy of a send carries it (scored by the SpamAssassin test).
        from delivery.samples import register_samples

        register_samples()
        # Segments' engagement rules read opens and clicks; a finished send counts as received.
        engagement.register()
