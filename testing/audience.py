"""Large audiences, made fast with set-based SQL (PostgreSQL)."""

from __future__ import annotations

from django.db import connection, transaction

from subscribers.models import MailingList, Subscriber, SubscriberStatus


def readers_create(
    *, count: int, mailing_list: MailingList, prefix: str = "reader", domain: str = "example.org"
) -> int:
    """Insert `count` active, confirmed readers <prefix><n>@<domain> into one list; returns how many."""
    table = Subscriber._meta.db_table
    through = Subscriber.lists.through._meta.db_table
    pattern = f"{prefix}%@{domain}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (email, name, status, source, created_at, confirmed_at, soft_bounces,
                received_count, attributes)
            SELECT %s || g || '@' || %s, 'Reader ' || g, %s, 'import', now(), now(), 0, 0, '{{}}'
            FROM generate_series(1, %s) AS g
            """,  # noqa: S608 - table names come from the models, values are parameters
            [prefix, domain, SubscriberStatus.ACTIVE.value, count],
        )
        cursor.execute(
            f"""
            INSERT INTO {through} (subscriber_id, mailinglist_id)
            SELECT id, %s FROM {table} WHERE email LIKE %s
            """,  # noqa: S608
            [mailing_list.pk, pattern],
        )
    return count


def reader_address(n: int, *, prefix: str = "reader", domain: str = "example.org") -> str:
    return f"{prefix}{n}@{domain}"
