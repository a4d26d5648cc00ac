from typing import Any

from django.core.management.base import BaseCommand

from delivery.engagement import engagement_recount


class Command(BaseCommand):
    help = (
        "Work out every reader's issues received and last open or click by a person again from the "
        "deliveries and events (after an upgrade, or a fix by hand). Safe to run at any time."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        readers = engagement_recount()
        self.stdout.write(self.style.SUCCESS(f"Recounted the engagement of {readers} readers."))
