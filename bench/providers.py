"""Calls and bytes per 1,000 readers, for each provider.

    python -m bench.providers [--readers 1000]

One issue of the reference shape (testing.factories.make_full_issue) to the same
``--readers`` readers, once per provider, through the real send path (the beat task,
each batch task, anymail's real backend for the provider) run in this process, against
the fake provider (testing/fakeprovider.py, in a thread), which answers each API's own
shape and counts the send requests and their body bytes; SMTP against the fake SMTP
server (testing/fakesmtp.py), one connection per batch, a message per reader, with the
server offering PIPELINING (RFC 2920) and not, counting its round trips. Each
provider sends in batches of its own per-call limit (settings.PROVIDER_BATCH_LIMITS).

The figures are counts, not timings, so they do not depend on the machine's load;
the load average is printed beside them all the same. Amazon SES is not measured: the
fake provider does not speak its API (boto3); it sends one message per reader.

Like bench.run: a throwaway PostgreSQL database (BENCH_DATABASE_URL, dropped and
migrated here) and Redis (BENCH_REDIS_URL).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from bench.run import approved_issue, configure, create_send, fresh_audience, new_editor, recreate_database


@dataclass
class Row:
    provider: str
    batch: int
    calls: int
    recipients: int
    request_bytes: int
    readers: int
    how: str

    def per_thousand(self, value: int) -> float:
        return value * 1000 / self.readers


def _settings_for(name: str, url: str) -> tuple[str, dict[str, Any]]:
    """The anymail backend and settings of ``name`` against the fake provider at ``url``."""
    return {
        "mailgun": (
            "delivery.backends.MailgunBackend",
            {"MAILGUN_API_KEY": "k", "MAILGUN_SENDER_DOMAIN": "mg.newsroom.test", "MAILGUN_API_URL": url + "/v3"},
        ),
        "brevo": ("anymail.backends.brevo.EmailBackend", {"BREVO_API_KEY": "k", "BREVO_API_URL": url + "/v3/"}),
        "postmark": (
            "delivery.backends.PostmarkBackend",
            {"POSTMARK_SERVER_TOKEN": "k", "POSTMARK_API_URL": url + "/"},
        ),
        "resend": ("delivery.backends.ResendBackend", {"RESEND_API_KEY": "k", "RESEND_API_URL": url + "/"}),
        "sendgrid": (
            "anymail.backends.sendgrid.EmailBackend",
            {"SENDGRID_API_KEY": "k", "SENDGRID_API_URL": url + "/v3/"},
        ),
        "sparkpost": (
            "anymail.backends.sparkpost.EmailBackend",
            {"SPARKPOST_API_KEY": "k", "SPARKPOST_API_URL": url + "/api/v1/"},
        ),
        "mailjet": (
            "anymail.backends.mailjet.EmailBackend",
            {"MAILJET_API_KEY": "k", "MAILJET_SECRET_KEY": "s", "MAILJET_API_URL": url + "/v3.1/"},
        ),
        "unisender_go": (
            "anymail.backends.unisender_go.EmailBackend",
            {"UNISENDER_GO_API_KEY": "k", "UNISENDER_GO_API_URL": url + "/en/transactional/api/v1/"},
        ),
        "mandrill": (
            "anymail.backends.mandrill.EmailBackend",
            {"MANDRILL_API_KEY": "k", "MANDRILL_API_URL": url + "/api/1.0/"},
        ),
        "mailersend": (
            "anymail.backends.mailersend.EmailBackend",
            {"MAILERSEND_API_TOKEN": "k", "MAILERSEND_API_URL": url + "/v1/"},
        ),
        "postal": ("delivery.backends.PostalBackend", {"POSTAL_API_KEY": "k", "POSTAL_API_URL": url + "/"}),
        "scaleway": (
            "anymail.backends.scaleway.EmailBackend",
            {
                "SCALEWAY_SECRET_KEY": "k",
                "SCALEWAY_PROJECT_ID": "00000000-0000-4000-8000-000000000000",
                "SCALEWAY_API_URL": url + "/transactional-email/v1alpha1/regions/{region}/",
            },
        ),
        "mailtrap": (
            "anymail.backends.mailtrap.EmailBackend",
            {"MAILTRAP_API_TOKEN": "k", "MAILTRAP_API_URL": url + "/api/"},
        ),
    }[name]


PROVIDERS = [
    "mailgun",
    "brevo",
    "sendgrid",
    "sparkpost",
    "mailjet",
    "unisender_go",
    "postmark",
    "resend",
    "mandrill",
    "mailersend",
    "postal",
    "scaleway",
    "mailtrap",
]


def _send_once(mailing_list: Any, editor: Any) -> Any:
    """A new issue of the reference shape (one send per issue and audience) sent to the list."""
    from bench.run import start_due_sends_here
    from delivery.models import Send

    send = create_send(approved_issue(), mailing_list, editor)
    start_due_sends_here()  # eager: every batch task runs here, in order
    return Send.objects.get(pk=send.pk)


def _how(name: str) -> str:
    from delivery.providers import strategy_for

    strategy = strategy_for(name)
    if strategy.batch:
        return "one message, merged by the provider"
    if strategy.messages_per_call:
        return "each reader's message, in one call"
    return "one message per reader"


def measure(name: str, *, mailing_list: Any, editor: Any, readers: int, provider: Any) -> Row:
    from django.conf import settings
    from django.test import override_settings

    from delivery.models import Delivery, DeliveryStatus

    backend, anymail = _settings_for(name, provider.url)
    batch = settings.PROVIDER_BATCH_LIMITS.get(name, 500)
    provider.reset()
    with override_settings(
        EMAIL_PROVIDER=name,
        EMAIL_BACKEND=backend,
        ANYMAIL={"REQUESTS_TIMEOUT": 30, **anymail},
        NEWSROOM_BATCH_SIZE=batch,
    ):
        send = _send_once(mailing_list, editor)
    sent = Delivery.objects.filter(send=send, status=DeliveryStatus.SENT).count()
    stats = provider.stats()
    if sent != readers or stats["recipients"] != readers or stats["duplicates"]:
        raise SystemExit(f"{name}: {sent} of {readers} rows sent, provider took {stats['recipients']}: not measured")
    return Row(name, batch, stats["requests"], stats["recipients"], stats["request_bytes"], readers, _how(name))


def measure_smtp(*, mailing_list: Any, editor: Any, readers: int, pipelining: bool) -> Row:
    """SMTP through delivery.backends.PipelinedSMTPBackend, the fake server offering PIPELINING or not."""
    from django.test import override_settings

    from testing.fakesmtp import FakeSMTPServer

    server = FakeSMTPServer()
    server.state.pipelining = pipelining
    server.start()
    try:
        with override_settings(
            EMAIL_PROVIDER="smtp",
            EMAIL_BACKEND="delivery.backends.PipelinedSMTPBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=server.port,
            NEWSROOM_BATCH_SIZE=500,
        ):
            _send_once(mailing_list, editor)
        received = server.state.messages
        if sorted(r.recipients[0] for r in received) != sorted({r.recipients[0] for r in received}):
            raise SystemExit("smtp: a reader got two messages: not measured")
        size = sum(len(r.message.as_bytes()) for r in received)  # the message as parsed and written again
        trips = server.state.round_trips * 1000 / readers
        how = f"{server.state.connections} connections, {trips:,.0f} round trips/1k"
        name = "smtp" if pipelining else "smtp (no PIPELINING)"
        return Row(name, 500, len(received), len(received), size, readers, how)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readers", type=int, default=1000)
    args = parser.parse_args()

    from testing.fakeprovider import FakeProvider, FakeProviderClient

    fake = FakeProvider().start()
    configure(fake.url)
    os.environ.pop("SEND_RATE_PER_SECOND", None)
    import django

    django.setup()
    recreate_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from newsroom.celery import app

    app.conf.task_always_eager = True
    client = FakeProviderClient(fake.url)
    mailing_list = fresh_audience(args.readers, "providers")
    editor = new_editor()

    rows = []
    for name in PROVIDERS:
        rows.append(measure(name, mailing_list=mailing_list, editor=editor, readers=args.readers, provider=client))
    for pipelining in (True, False):
        rows.append(measure_smtp(mailing_list=mailing_list, editor=editor, readers=args.readers, pipelining=pipelining))
    fake.stop()

    load = os.getloadavg()[0]
    print(f"\nCalls and bytes per 1,000 readers ({args.readers} readers sent per provider; load average {load:.2f})\n")
    print(f"{'provider':<22}{'batch':>7}{'calls/1k':>10}{'kB/1k':>10}  how")
    for r in rows:
        kb = r.per_thousand(r.request_bytes) / 1024
        print(f"{r.provider:<22}{r.batch:>7}{r.per_thousand(r.calls):>10.0f}{kb:>10.0f}  {r.how}")
    mailgun = next(r for r in rows if r.provider == "mailgun")
    print("\nBytes against Mailgun's (the same readers, the same issue, in one run):")
    for r in rows:
        print(f"  {r.provider:<22}{r.request_bytes / mailgun.request_bytes:>6.2f}x")


if __name__ == "__main__":
    main()
