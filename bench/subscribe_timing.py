"""Subscribe timing benchmark: can the answer's time tell what an address is?

    python -m bench.subscribe_timing [--rounds 300]

Posts the public subscribe form through the real view (Django's test client,
the full middleware stack) for a new, a pending, an active and several
suppressed addresses (hard bounce, complaint, erased, manual), in interleaved
rounds so that drift in the machine's load falls on every outcome alike, and
prints each outcome's median as a ratio to the new address's (target: within
10%). For comparison it then times the work the worker now does
(services.subscriber_subscribe) per outcome, which is what the request used
to do.

Runs on a throwaway PostgreSQL database (newsroom_bench_subscribe, created
and dropped; BENCH_SUBSCRIBE_DATABASE_URL overrides the server) and a Redis
database of its own (BENCH_SUBSCRIBE_REDIS_URL, default db 13) for the rate
limit counters and the queue; the messages it queued are deleted at the end.
The rate limits stay on (their counting is part of every request) with
limits high enough for the loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

DATABASE_URL = os.environ.get("BENCH_SUBSCRIBE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_SUBSCRIBE_REDIS_URL", "redis://127.0.0.1:6379/13")
OUTCOMES = ("new", "pending", "active", "bounced", "complained", "erased", "manual")


def _configure() -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="newsroom.settings",
        DATABASE_URL=DATABASE_URL,
        TEST_DATABASE_NAME="newsroom_bench_subscribe",
        REDIS_URL=REDIS_URL,
        CACHE_URL=REDIS_URL,
        CACHE_KEY_PREFIX="bench-subscribe",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        PAGE_CACHE_SECONDS="300",
    )
    os.environ.setdefault("SECRET_KEY", "bench-subscribe-" + "x" * 50)


def _addresses() -> dict[str, str]:
    from subscribers.models import Suppression
    from subscribers.privacy import subscriber_erase
    from subscribers.services import suppression_add
    from testing.factories import make_confirmed_reader, make_pending_reader

    make_pending_reader(email="pending@example.org", name="Pat")
    make_confirmed_reader(email="active@example.org", name="Ari")
    for reason in ("bounced", "complained"):
        make_confirmed_reader(email=f"{reason}@example.org")
        suppression_add(email=f"{reason}@example.org", reason=reason)
    subscriber_erase(subscriber=make_confirmed_reader(email="erased@example.org"))
    suppression_add(email="manual@example.org", reason=Suppression.Reason.MANUAL)
    return {outcome: f"{outcome}@example.org" for outcome in OUTCOMES}


def _medians(rounds: int, run: Callable[[str], object], addresses: dict[str, str]) -> dict[str, float]:
    timings: dict[str, list[float]] = {outcome: [] for outcome in addresses}
    for index in range(rounds + 20):
        for outcome, address in addresses.items():
            start = time.perf_counter()
            run(address)
            if index >= 20:  # the first rounds warm caches and connections
                timings[outcome].append(time.perf_counter() - start)
    return {outcome: statistics.median(values) for outcome, values in timings.items()}


def _report(title: str, medians: dict[str, float]) -> None:
    print(title)
    base = medians["new"]
    for outcome, value in medians.items():
        print(f"  {outcome:<11} median {value * 1000:7.2f} ms   {value / base:5.2f}x new")
    spread = max(medians.values()) / min(medians.values())
    print(f"  spread (slowest / fastest): {spread:.2f}x")


def _through_the_view(rounds: int, addresses: dict[str, str]) -> dict[str, float]:
    from django.test import Client

    from subscribers import views
    from subscribers.models import MailingList

    views.RATE_PER_IP = views.RATE_PER_ADDRESS = "1000000/h"
    daily = MailingList.objects.create(name="Daily", slug="daily", public=True)
    client = Client()

    def post(address: str) -> object:
        response = client.post("/subscribe/", {"email": address, "name": "Bench", "lists": str(daily.pk)})
        assert response.status_code == 302, response.status_code
        return response

    return _medians(rounds, post, addresses)


def _the_work_moved_to_the_worker(rounds: int, addresses: dict[str, str]) -> dict[str, float]:
    from subscribers import services

    unique = iter(range(10**9))

    def subscribe(address: str) -> object:
        # A new address must be new each time; the others are found again, as a repeat request finds them.
        email = f"new{next(unique)}@example.org" if address.startswith("new@") else address
        # As in the request before: the confirmation (new address) is published after the commit.
        return services.subscriber_subscribe(email=email, name="Bench", ip="203.0.113.1")

    return _medians(rounds, subscribe, addresses)


def _forget_queued_messages() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.delete("celery")
    for key in client.scan_iter("*bench-subscribe*"):
        client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    _configure()
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        addresses = _addresses()
        print(f"load average before: {os.getloadavg()}")
        _report(
            f"Subscribe form, {args.rounds} requests per outcome (request only queues):",
            _through_the_view(args.rounds, addresses),
        )
        _report(
            "For comparison, the work the worker does per outcome (what the request did before):",
            _the_work_moved_to_the_worker(args.rounds, addresses),
        )
        print(f"load average after: {os.getloadavg()}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        _forget_queued_messages()


if __name__ == "__main__":
    main()
