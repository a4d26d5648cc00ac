"""A large publication, built with set-based SQL (PostgreSQL): readers, issues, sends, events, an import.

    publication_create(size=Size.scaled(0.01), now=...)

``Size.FULL`` is the size issue #17 names: 1,000,000 readers across five lists
with tags and custom attributes, 500 sent issues, 100 sends, 10,000,000
events (delivered, opened, clicked) and an import of 50,000 rows. Readers,
list and tag memberships, deliveries, batches and events are each one
``INSERT … SELECT generate_series`` (or one over the rows already stored);
issues and their sections, sends, lists and tags go through the ORM (a few
thousand rows). bench/scale.py builds it and times the pages on it; the
query-count and EXPLAIN tests seed it at small sizes.

Every figure is a pure function of the row numbers (multiplicative hashes, no
random()), so two builds of one size are identical. The skew is that of a real
newsletter: the first list holds 70% of the readers, the fifth 5%; tag k of 12
is on about 30%/k of them; most readers are active; a third of the readers open
most issues, another third some, the rest almost never; clicks come from
openers and favour the first links of an issue; events cluster in the first
hours after a send.

Columns the builder does not set take their model default (``_defaults``), so
a field added later with a default needs no change here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

# The event mix per delivery (a delivered event each, opens from two in five, clicks from one in twelve,
# some readers opening or clicking twice): about this many events per delivery (see _events_insert).
EVENTS_PER_DELIVERY = 1.72
LIST_SHARES = (70, 30, 15, 10, 5)  # percent of readers in each of the five lists
TAGS = 12
LINKS_PER_SEND = 20


@dataclass(frozen=True)
class Size:
    readers: int
    issues: int
    sends: int
    events: int
    import_rows: int

    @classmethod
    def scaled(cls, factor: float) -> Size:
        """FULL times ``factor`` (issues and sends shrink too, but never below a handful)."""
        return cls(
            readers=max(100, round(FULL.readers * factor)),
            issues=max(25, min(FULL.issues, round(FULL.issues * factor * 10))),
            sends=max(5, min(FULL.sends, round(FULL.sends * factor * 10))),
            events=max(200, round(FULL.events * factor)),
            import_rows=max(100, round(FULL.import_rows * factor)),
        )

    @property
    def deliveries_per_send(self) -> int:
        return max(1, round(self.events / (self.sends * EVENTS_PER_DELIVERY)))


FULL = Size(readers=1_000_000, issues=500, sends=100, events=10_000_000, import_rows=50_000)


@dataclass
class Publication:
    """What was built, by primary key, for the pages that look at it."""

    size: Size
    list_ids: list[int] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)
    issue_ids: list[int] = field(default_factory=list)
    send_ids: list[int] = field(default_factory=list)
    export_segment_id: int = 0
    import_job_id: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _table(model: type[models.Model]) -> str:
    return model._meta.db_table


def _defaults(model: type[models.Model], given: dict[str, str]) -> tuple[list[str], list[str], list[Any]]:
    """Columns, SQL expressions and parameters for an INSERT … SELECT: ``given`` (column → SQL over the
    SELECT's rows) and, for every other column, the field's default (NULL when it has none and may be)."""
    columns: list[str] = []
    expressions: list[str] = []
    params: list[Any] = []
    for f in model._meta.concrete_fields:
        column = str(f.column)
        if f.primary_key and column not in given:
            continue
        columns.append(column)
        if column in given:
            expressions.append(given[column])
        elif getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            expressions.append("now()")
        elif f.has_default() or (f.empty_strings_allowed and not f.null):  # Django's own default: ""
            expressions.append("%s")
            params.append(f.get_db_prep_save(f.get_default(), connection))
        elif f.null:
            expressions.append("NULL")
        else:
            raise ValueError(f"{model.__name__}.{f.name} has no default: give it to the builder")
    return columns, expressions, params


def _insert_select(
    model: type[models.Model], given: dict[str, str], source: str, params: list[Any] | None = None
) -> int:
    columns, expressions, default_params = _defaults(model, given)
    sql = f"INSERT INTO {_table(model)} ({', '.join(columns)}) SELECT {', '.join(expressions)} {source}"
    with connection.cursor() as cursor:
        # Defaults come first in the SELECT list, so their parameters precede the source's.
        # The defaults' parameters are in the SELECT list, so they come before the source's.
        cursor.execute(sql, [*default_params, *(params or [])])
        return int(cursor.rowcount)


@contextmanager
def _bulk_load(*tables: str) -> Iterator[None]:
    """Load ``tables`` the way a restore does: their plain indexes dropped and built again once the rows are
    in, and the foreign-key triggers off for this session (the builder writes consistent keys)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema()
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """,
            [list(tables)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET session_replication_role = replica")
    # No finally: on an error the transaction rolls back, and the dropped indexes come back with it.
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        for _, definition in indexes:
            cursor.execute(definition)


def _h(expression: str, multiplier: int, modulo: int) -> str:
    """A well-spread pseudo-random number in [0, modulo) from an integer column: a multiplicative hash."""
    return f"mod(mod(({expression}) * {multiplier}::bigint, 2147483647), {modulo})::int"


def publication_create(*, size: Size, now: dt.datetime | None = None) -> Publication:
    """Build the whole publication in the current database (PostgreSQL; empty tables expected)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the large data set is built with PostgreSQL's generate_series")
    now = now or timezone.now()
    built = Publication(size=size)
    with transaction.atomic():
        _lists_tags_fields(built)
        _readers(built, now)
        _issues(built, now)
        _sends(built, now)
        _import_job(built, now)
    with connection.cursor() as cursor:
        # Fresh statistics for the planner, and (outside a transaction, as in the benchmark) the visibility
        # map that autovacuum would have set, so that counts read indexes alone as they would in production.
        cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
    return built


def _lists_tags_fields(built: Publication) -> None:
    from subscribers.models import CustomField, FieldKind, MailingList, SubscriberTag

    names = ["The Daily", "The Weekend Edition", "Product News", "Research Digest", "Events"]
    lists = MailingList.objects.bulk_create(
        MailingList(name=name, slug=name.lower().replace(" ", "-"), position=n, default=n == 0)
        for n, name in enumerate(names)
    )
    tags = SubscriberTag.objects.bulk_create(SubscriberTag(name=f"interest-{n + 1}") for n in range(TAGS))
    CustomField.objects.bulk_create(
        [
            CustomField(key="plan", label="Plan", kind=FieldKind.CHOICE, choices=["free", "pro", "team"], position=0),
            CustomField(key="company", label="Company", kind=FieldKind.TEXT, position=1),
            CustomField(key="seats", label="Seats", kind=FieldKind.NUMBER, position=2),
        ]
    )
    built.list_ids = [item.pk for item in lists]
    built.tag_ids = [item.pk for item in tags]


def _readers(built: Publication, now: dt.datetime) -> None:
    from subscribers.models import Subscriber

    n = built.size.readers
    status = _h("g", 2654435761, 100)
    # 85% active, 5% pending, 6% unsubscribed, 3% bounced, 1% complained; signed up over five years, in order.
    given = {
        "email": "'reader' || g || '@' || (ARRAY['example.org','example.com','example.net','mail.example',"
        "'inbox.example','post.example','news.example','firma.example'])[1 + mod(g, 8)]",
        "name": "(ARRAY['Ada','Bea','Cai','Dan','Eli','Fay','Gus','Hal','Ivy','Jon'])[1 + mod(g, 10)] || ' ' || "
        "(ARRAY['Moss','Reed','Hart','Lane','Cole','Ford','Hale','Shaw'])[1 + mod(g / 10, 8)]",
        "status": f"CASE WHEN {status} < 85 THEN 'active' WHEN {status} < 90 THEN 'pending' "
        f"WHEN {status} < 96 THEN 'unsubscribed' WHEN {status} < 99 THEN 'bounced' ELSE 'complained' END",
        "source": f"(ARRAY['form','form','form','import','api'])[1 + {_h('g', 40503, 5)}]",
        "created_at": "p.now - interval '1 second' * (157000000.0 * (p.n - g) / p.n)",
        "confirmed_at": f"CASE WHEN {status} < 90 AND {status} >= 85 THEN NULL "
        "ELSE p.now - interval '1 second' * (157000000.0 * (p.n - g) / p.n) + interval '10 minutes' END",
        "unsubscribed_at": f"CASE WHEN {status} >= 90 THEN p.now - interval '1 second' "
        "* (50000000.0 * (p.n - g) / p.n) END",
        "last_engaged_at": f"CASE WHEN {_h('g', 13, 10)} < 6 THEN p.now - {_h('g', 7919, 90)} * interval '1 day' END",
        "received_count": f"{_h('g', 104729, 300)}",
        "attributes": "jsonb_build_object('plan', (ARRAY['free','free','free','pro','team'])[1 + mod(g, 5)], "
        "'company', 'Company ' || mod(g, 5000), 'seats', 1 + mod(g, 50))",
    }
    source = "FROM generate_series(1, %s::int) AS g, (SELECT %s::timestamptz AS now, %s::bigint AS n) AS p"
    memberships = (Subscriber.lists.through._meta.db_table, Subscriber.tags.through._meta.db_table)
    with _bulk_load(_table(Subscriber), *memberships):
        built.counts["readers"] = _insert_select(Subscriber, given, source, [n, now, n])
        built.counts["list memberships"] = _memberships(Subscriber.lists.through, "mailinglist_id", built.list_ids)
        built.counts["tag memberships"] = _memberships(Subscriber.tags.through, "subscribertag_id", built.tag_ids)


def _memberships(through: type[models.Model], column: str, ids: list[int]) -> int:
    from subscribers.models import Subscriber

    # List k holds LIST_SHARES[k]% of the readers; tag k about 30/k %, each chosen by its own hash.
    shares = LIST_SHARES if column == "mailinglist_id" else tuple(round(30 / (k + 1), 1) for k in range(len(ids)))
    values = ", ".join(
        f"({pk}, {1000 + 37 * k}, {share * 10})" for k, (pk, share) in enumerate(zip(ids, shares, strict=True))
    )
    source = (
        f"FROM {_table(Subscriber)} s JOIN (VALUES {values}) AS m(target, multiplier, per_mille) "
        f"ON mod(mod(s.id * m.multiplier * 2654435761::bigint, 2147483647), 1000) < m.per_mille"
    )
    return _insert_select(through, {"subscriber_id": "s.id", column: "m.target"}, source)


def _issues(built: Publication, now: dt.datetime) -> None:
    from issues.models import Author, Issue, IssueStatus, Section, SectionItem, SectionKind, Tag
    from issues.search import search_vector_refresh

    count = built.size.issues
    topics = ["Robots", "Quantum", "Chips", "Energy", "Privacy", "Climate", "Space", "Health", "Money", "Cities"]
    issues = Issue.objects.bulk_create(
        Issue(
            title=f"{topics[n % 10]} weekly, number {n + 1}",
            slug=f"issue-{n + 1}",
            subject=f"{topics[n % 10]}: what changed this week",
            summary=f"The week in {topics[n % 10].lower()}, and {topics[(n + 3) % 10].lower()} beside it.",
            status=IssueStatus.SENT,
            number=n + 1,
            publish_date=now - dt.timedelta(days=count - n),
            word_count=900,
            reading_minutes=4,
        )
        for n in range(count)
    )
    tags = Tag.objects.bulk_create(Tag(name=topic, slug=topic.lower()) for topic in topics)
    author = Author.objects.create(name="Scale Writer", slug="scale-writer")
    Issue.tags.through.objects.bulk_create(
        Issue.tags.through(issue_id=issue.pk, tag_id=tags[n % 10].pk) for n, issue in enumerate(issues)
    )
    Issue.authors.through.objects.bulk_create(Issue.authors.through(issue_id=i.pk, author_id=author.pk) for i in issues)
    sections = Section.objects.bulk_create(
        Section(
            issue=issue,
            kind=SectionKind.LEAD,
            position=k,
            heading=f"Story {k + 1} of {issue.title}",
            body=f"What happened in {topics[(n + k) % 10].lower()} this week, and why it matters. " * 12,
            analysis="Why it matters: the trend continues, and the numbers show it.",
        )
        for n, issue in enumerate(issues)
        for k in range(4)
    )
    SectionItem.objects.bulk_create(
        SectionItem(section=section, position=j, text=f"Detail {j + 1}: a figure, a quote, a link.")
        for section in sections
        for j in range(3)
    )
    search_vector_refresh()
    built.issue_ids = [issue.pk for issue in issues]


def _sends(built: Publication, now: dt.datetime) -> None:
    from delivery.models import Batch, Delivery, Event, Send, SendStatus, TrackedLink

    per_send = built.size.deliveries_per_send
    newest = built.issue_ids[-built.size.sends :]
    sends = Send.objects.bulk_create(
        Send(
            issue_id=issue_id,
            scheduled_at=now - dt.timedelta(days=len(newest) - n, hours=-6),
            started_at=now - dt.timedelta(days=len(newest) - n, hours=-6),
            finished_at=now - dt.timedelta(days=len(newest) - n, hours=-7),
            status=SendStatus.DONE,
            total=per_send,
            track_clicks=True,
            track_opens=True,
        )
        for n, issue_id in enumerate(newest)
    )
    through = Send.lists.through
    through.objects.bulk_create(through(send_id=s.pk, mailinglist_id=built.list_ids[0]) for s in sends)
    TrackedLink.objects.bulk_create(
        TrackedLink(send=s, index=k, url=f"https://example.org/{s.issue_id}/story-{k}")
        for s in sends
        for k in range(LINKS_PER_SEND)
    )
    built.send_ids = [s.pk for s in sends]
    with _bulk_load(_table(Delivery), _table(Event), _table(Batch)):
        built.counts["deliveries"] = _deliveries(built, per_send)
        built.counts["batches"] = _insert_select(
            Batch,
            {
                "send_id": "d.send_id",
                "number": "d.batch",
                "status": "'done'",
                "enqueued_at": "s.started_at",
                "due_at": "s.started_at",
                "started_at": "s.started_at",
                "attempts": "1",
            },
            f"FROM (SELECT DISTINCT send_id, batch FROM {_table(Delivery)}) d "  # noqa: S608
            f"JOIN {_table(Send)} s ON s.id = d.send_id",
        )
        built.counts["events"] = _events_insert()


def _deliveries(built: Publication, per_send: int) -> int:
    from delivery.models import Delivery, Send
    from subscribers.models import Subscriber

    through = Subscriber.lists.through._meta.db_table
    # Each send reaches per_send of the first list's readers, a different sample each time. Engagement is
    # the reader's: class 0-2 of 10 open four times in five, 3-5 one in three, 6-9 one in twenty.
    engaged = _h("r.id", 13, 10)
    roll = _h("r.id + s.id * 7919", 48271, 100)
    opened = f"(({engaged} < 3 AND {roll} < 80) OR ({engaged} BETWEEN 3 AND 5 AND {roll} < 33) OR {roll} < 5)"
    clicked = f"({opened} AND {_h('r.id + s.id * 104729', 69621, 100)} < 22)"
    minutes = f"({_h('r.id + s.id', 16807, 1000)} ^ 2 / 1000.0)"  # most within the first hours
    given = {
        "send_id": "s.id",
        "subscriber_id": "r.id",
        "email": "r.email",
        "status": "'sent'",
        "batch": "(row_number() OVER (PARTITION BY s.id ORDER BY r.id) - 1) / 1000",
        "attempts": "1",
        "sent_at": "s.started_at",
        "delivered_at": "s.started_at + interval '1 minute'",
        "provider_message_id": "'<' || s.id || '.' || r.id || '@mail.example>'",
        "opened_at": f"CASE WHEN {opened} THEN s.started_at + {minutes} * interval '1 minute' END",
        "clicked_at": f"CASE WHEN {clicked} THEN s.started_at + ({minutes} + 2) * interval '1 minute' END",
    }
    sample = max(1, round(per_send * 1000 / max(1, built.size.readers * LIST_SHARES[0] // 100 * 85 // 100)))
    source = (
        f"FROM {_table(Send)} s JOIN {through} m ON m.mailinglist_id = %s "
        f"JOIN {_table(Subscriber)} r ON r.id = m.subscriber_id AND r.status = 'active' "
        f"AND {_h('r.id + s.id * 31', 2147483629, 1000)} < %s"
    )
    rows = _insert_select(Delivery, given, source, [built.list_ids[0], sample])
    # Each send's total is its audience as stored.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Send)} s SET total = d.n FROM (SELECT send_id, count(*) n FROM {_table(Delivery)} "  # noqa: S608
            "GROUP BY send_id) d WHERE d.send_id = s.id"
        )
    return rows


def _events_insert() -> int:
    from delivery.models import Delivery, Event

    # One delivered event per delivery; opened: 1, 2 or 3 events; clicked: 1 or 2, on links 0-19 with
    # the first ones the most clicked (index = 20 * u^2).
    kinds = (
        f"SELECT d.*, k.kind, k.n FROM {_table(Delivery)} d "  # noqa: S608 - the table name is the model's
        "JOIN (VALUES ('delivered', 1), ('opened', 1), ('opened', 2), "
        "('opened', 3), ('clicked', 1), ('clicked', 2)) AS k(kind, n) ON (k.kind = 'delivered') "
        "OR (k.kind = 'opened' AND d.opened_at IS NOT NULL AND (k.n = 1 OR (k.n = 2 AND mod(d.id, 3) = 0) "
        "OR (k.n = 3 AND mod(d.id, 7) = 0))) "
        "OR (k.kind = 'clicked' AND d.clicked_at IS NOT NULL AND (k.n = 1 OR mod(d.id, 2) = 0))"
    )
    link = f"floor(20 * power({_h('e.id + e.n', 48271, 1000)} / 1000.0, 2))"
    given = {
        "dedupe_key": "'seed-' || e.id || '-' || e.kind || '-' || e.n",
        "delivery_id": "e.id",
        "send_id": "e.send_id",
        "event_type": "e.kind",
        "at": "CASE e.kind WHEN 'delivered' THEN e.delivered_at WHEN 'opened' THEN e.opened_at "
        "+ (e.n - 1) * interval '3 hours' ELSE e.clicked_at + (e.n - 1) * interval '1 hour' END",
        "recipient": "e.email",
        "message_id": "e.provider_message_id",
        "esp_name": "'Mailgun'",
        "url": f"CASE WHEN e.kind = 'clicked' THEN 'https://example.org/' || s.issue_id || '/story-' || {link} "
        "ELSE '' END",
        "machine": "''",
        "uncounted": "''",
    }
    source = f"FROM ({kinds}) e JOIN delivery_send s ON s.id = e.send_id"
    return _insert_select(Event, given, source)


def _import_job(built: Publication, now: dt.datetime) -> None:
    from subscribers.csvread import REPORT_ROW_LIMIT
    from subscribers.models import ImportJob, ImportStatus, Segment

    rows = built.size.import_rows
    skipped, rejected = rows * 6 // 100, rows * 4 // 100
    reasons = ["Already subscribed", "On the suppression list", "Invalid address: “x” is not an address"]
    report = [
        {
            "line": line,
            "email": f"row{line}@import.example" if line % 3 else f"row{line}",
            "outcome": "skipped" if line % 3 else "rejected",
            "reason": reasons[line % 3],
        }
        for line in range(2, 2 + min(REPORT_ROW_LIMIT, skipped + rejected))
    ]
    job = ImportJob.objects.create(
        file="",
        filename="big-import.csv",
        status=ImportStatus.DONE,
        consent_basis="double_opt_in",
        finished_at=now,
        total_rows=rows,
        added=rows - skipped - rejected - rows // 10,
        updated=rows // 10,
        skipped=skipped,
        rejected=rejected,
        rows_read=rows,
        report=report,
        reasons={"Already subscribed": skipped, "Invalid address": rejected},
    )
    job.lists.set(built.list_ids[:1])
    built.import_job_id = job.pk
    # The export's segment: everyone in the fourth list (10% of the readers, 100,000 at full size).
    segment = Segment.objects.create(name="Research Digest readers")
    segment.lists.set([built.list_ids[3]])
    built.export_segment_id = segment.pk
    # Two more for the segments' page: the live count's conditions, and readers who never opened.
    both = Segment.objects.create(name="Second list, first tag, active", status="active")
    both.lists.set([built.list_ids[1]])
    both.tags.set([built.tag_ids[0]])
    Segment.objects.create(name="Never opened", never_opened=True)


def scaled_size(factor: float, **changes: int) -> Size:
    return replace(Size.scaled(factor), **changes)
