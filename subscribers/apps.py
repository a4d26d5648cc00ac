from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    verbose_name = "Audience"

    def ready(self) -> None:
        from subscribers.emails import register_samples

        # One sample of each kind of email readers get (scored by the SpamAssassin test).
        register_samples()
