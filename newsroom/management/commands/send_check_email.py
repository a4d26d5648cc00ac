from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from core.mail import operator_check


class Command(BaseCommand):
    help = "Queue a short email to ADDRESS through the worker and the configured provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            validate_email(options["address"])
        except ValidationError:
            raise CommandError(f"{options['address']!r} is not a valid email address.") from None
        operator_check(to=options["address"])
        self.stdout.write(self.style.SUCCESS(f"Queued a check email to {options['address']}."))
