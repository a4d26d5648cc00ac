"""A receiver for the demo's webhook endpoint: it checks each post's signature and prints the event.

`make run` starts it (Procfile.dev), so an editor who confirms a reader or
publishes an issue sees the signed event arrive in the log.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from demo.loader import DEMO_WEBHOOK_PORT, DEMO_WEBHOOK_URL
from outbound.models import WebhookEndpoint


class Command(BaseCommand):
    help = "Listen for the demo endpoint's webhooks on 127.0.0.1 and print each verified event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=DEMO_WEBHOOK_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        out = self.stdout

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                endpoint = WebhookEndpoint.objects.filter(url=DEMO_WEBHOOK_URL).first()
                try:
                    if endpoint is None:
                        raise WebhookVerificationError("no demo endpoint")
                    envelope = Webhook(endpoint.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError as exc:
                    out.write(f"webhook refused: {exc}")
                    self.send_response(400)
                    self.end_headers()
                    return
                out.write(f"webhook {self.headers['webhook-id']}: {envelope['type']} {envelope['data']}")
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        server = HTTPServer(("127.0.0.1", options["port"]), Handler)
        out.write(f"Demo webhook receiver on http://127.0.0.1:{options['port']}/")
        server.serve_forever()
