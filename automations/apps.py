from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "automations"
    verbose_name = "Automations"

    def ready(self) -> None:
        from automations import listeners

        # Readers enter and leave sequences as the audience app tells what happened to them,
        # the welcome email gives way to the welcome sequence, and provider events reach step emails.
        listeners.register()
