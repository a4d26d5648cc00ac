import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.loader import DemoReport, demo_load


def _default_base_url() -> str:
    # `make run` exports HOST and PORT for the web process; print what it serves.
    host = os.environ.get("HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - only used to print a link
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('PORT') or '8000'}"


class Command(BaseCommand):
    help = (
        "Load demo content (accounts, lists, pages, readers, two issues) once, and print how to sign in. "
        "Safe to run again: nothing is duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default=None, help="Where the site is served (default from HOST/PORT).")
        parser.add_argument("--force", action="store_true", help="Run even though DEBUG is off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            # A superuser whose password is printed has no place on a real site.
            raise CommandError("load_demo makes accounts with printed passwords; it runs only with DEBUG on (--force).")
        report = demo_load()
        base = (options["base_url"] or _default_base_url()).rstrip("/")
        self._print(report, base)

    def _print(self, report: DemoReport, base: str) -> None:
        out = self.stdout
        if report.created:
            out.write("Demo content created: " + "; ".join(report.created) + ".")
        else:
            out.write("Demo content already present; nothing added.")
        out.write("")
        out.write(self.style.SUCCESS("Newsroom is ready."))
        out.write(f"  Admin:   {base}/admin/")
        out.write(f"  Site:    {base}/")
        out.write(f"  Outbox:  {base}/dev/outbox/   (mail kept locally while DEBUG is on)")
        out.write(f"  Webhooks: {base}/admin/outbound/webhookendpoint/   (the 'hooks' process prints each event)")
        for account in report.accounts:
            line = f"  {account.role:<19} username: {account.username:<12} password: {account.password}"
            if not account.password_valid:
                line += "   (changed since; the stored password no longer works)"
            out.write(self.style.WARNING(line) if account.role == "superuser" else line)
        if report.api_key:
            out.write(f"  API key of editor   {report.api_key}   (every scope; docs: {base}/api/v1/docs)")
            out.write(f'    try: curl -H "Authorization: Bearer {report.api_key}" {base}/api/v1/lists')
        out.write(f"  Credentials are kept in {report.credentials_path} (readable by you only).")
        out.write("")
