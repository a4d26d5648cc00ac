from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        from core.events import EventName, listen
        from outbound.listeners import events_record

        # Every domain event an endpoint can ask for; the listener keeps those some endpoint wants.
        listen(events_record, names=list(EventName))
