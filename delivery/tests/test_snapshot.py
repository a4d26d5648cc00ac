"""The audience snapshot goes in chunks, each sent as soon as it is stored; a snapshot cut
short resumes where it stopped, and a cancel stops it."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from delivery import pipeline, services
from delivery.models import Delivery, DeliveryStatus, Send, SendStatus
from issues.models import IssueStatus
from testing.factories import MailingListFactory, SubscriberFactory, make_editor, make_full_issue

TEST_BACKEND = "anymail.backends.test.EmailBackend"


@pytest.fixture
def small_chunks(settings: Any, monkeypatch: Any) -> None:
    """Batches of 2 readers; a first chunk of 1 batch, then chunks of 2 batches."""
    settings.NEWSROOM_BATCH_SIZE = 2
    settings.EMAIL_PROVIDER = "mailgun"
    settings.EMAIL_BACKEND = TEST_BACKEND
    monkeypatch.setattr(pipeline, "FIRST_CHUNK_BATCHES", 1)
    monkeypatch.setattr(pipeline, "CHUNK_BATCHES", 2)
    monkeypatch.setattr(pipeline, "MAX_CHUNK_BATCHES", 2)


def new_send(readers: int) -> tuple[Send, list[Any]]:
    daily = MailingListFactory.create(name="Daily")
    people = [SubscriberFactory.create(lists=[daily]) for _ in range(readers)]
    issue = make_full_issue(status=IssueStatus.APPROVED)
    send = services.send_create(issue=issue, lists=[daily], segment=None, at=None, acting_user=make_editor())
    return send, people


def batch_sizes(send: Send) -> Counter[int]:
    return Counter(Delivery.objects.filter(send=send).values_list("batch", flat=True))


@pytest.mark.django_db(transaction=True)
def test_the_first_chunk_is_sent_while_the_rest_of_the_audience_is_still_stored(
    small_chunks: None, celery_eager: None, monkeypatch: Any
) -> None:
    send, people = new_send(9)
    seen: list[tuple[int, str, int]] = []
    process = pipeline.send_batch_process

    def watching(*, send_id: int, batch: int, final_attempt: bool = False) -> Any:
        stored = Delivery.objects.filter(send_id=send_id).count()
        seen.append((batch, Send.objects.get(pk=send_id).status, stored))
        return process(send_id=send_id, batch=batch, final_attempt=final_attempt)

    monkeypatch.setattr(pipeline, "send_batch_process", watching)

    pipeline.sends_start_due()  # real commits: each chunk's tasks run (eagerly) as it commits

    send.refresh_from_db()
    assert send.status == SendStatus.DONE and send.total == 9
    assert seen[0] == (0, SendStatus.SNAPSHOTTING, 2)  # batch 0 went out when only its 2 readers were stored
    assert [batch for batch, _, _ in seen] == [0, 1, 2, 3, 4]
    assert batch_sizes(send) == {0: 2, 1: 2, 2: 2, 3: 2, 4: 1}
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted(p.email for p in people)  # everyone once


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_cut_short_resumes_after_the_last_reader_it_stored(small_chunks: None, monkeypatch: Any) -> None:
    from delivery.tasks import send_batch

    send, people = new_send(9)
    enqueued: list[int] = []
    monkeypatch.setattr(send_batch, "delay", lambda send_id, batch: enqueued.append(batch))
    real_next = pipeline.snapshot_next
    chunks = {"left": 2}

    def dies_after_two_chunks(send_id: int, chunk_batches: int, *progress: Any) -> bool:
        if not chunks["left"]:
            raise SystemExit("the worker died")
        chunks["left"] -= 1
        return real_next(send_id, chunk_batches, *progress)

    monkeypatch.setattr(pipeline, "snapshot_next", dies_after_two_chunks)
    with pytest.raises(SystemExit):
        pipeline.sends_start_due()
    assert Delivery.objects.filter(send=send).count() == 6  # three batches stored, three readers not yet
    assert enqueued == [0, 1, 2]

    monkeypatch.setattr(pipeline, "snapshot_next", real_next)
    Send.objects.filter(pk=send.pk).update(started_at=timezone.now() - datetime.timedelta(hours=2))
    pipeline.sends_recover_stalled()  # the dead snapshot goes back to scheduled
    pipeline.sends_start_due()  # and resumes after the last reader it stored
    for batch in enqueued:
        pipeline.send_batch_process(send_id=send.pk, batch=batch)

    send.refresh_from_db()
    assert enqueued == [0, 1, 2, 3, 4]  # the resumed chunks are numbered on from the stored ones
    assert max(batch_sizes(send).values()) <= 2  # never more readers in a batch than the provider takes
    assert sorted(Delivery.objects.filter(send=send).values_list("email", flat=True)) == sorted(p.email for p in people)
    assert send.status == SendStatus.DONE and send.total == 9
    recipients = [address for message in mail.outbox for address in message.to]
    assert sorted(recipients) == sorted(p.email for p in people)  # everyone exactly once


@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_the_audience_is_stored_stops_the_snapshot(small_chunks: None, monkeypatch: Any) -> None:
    from delivery.tasks import send_batch

    send, _ = new_send(9)
    editor = make_editor("cancelling-editor")
    real_next = pipeline.snapshot_next
    calls = {"n": 0}

    def cancel_after_first_chunk(send_id: int, chunk_batches: int, *progress: Any) -> bool:
        calls["n"] += 1
        more = real_next(send_id, chunk_batches, *progress)
        if calls["n"] == 1:
            services.send_cancel(send=Send.objects.get(pk=send_id), acting_user=editor)
        return more

    monkeypatch.setattr(pipeline, "snapshot_next", cancel_after_first_chunk)
    monkeypatch.setattr(send_batch, "delay", lambda *args: None)

    pipeline.sends_start_due()

    send.refresh_from_db()
    send.issue.refresh_from_db()
    assert send.status == SendStatus.CANCELLED
    assert calls["n"] == 2  # the second chunk saw the cancel and stored nothing
    assert dict(Counter(Delivery.objects.filter(send=send).values_list("status", flat=True))) == {
        DeliveryStatus.SKIPPED: 2
    }
    assert send.issue.status == IssueStatus.APPROVED  # nobody had it yet


@pytest.mark.django_db(transaction=True)
def test_chunks_grow_to_a_cap_so_a_large_audience_takes_few_chunks(settings: Any, monkeypatch: Any) -> None:
    from delivery.tasks import send_batch

    settings.NEWSROOM_BATCH_SIZE = 1
    monkeypatch.setattr(pipeline, "FIRST_CHUNK_BATCHES", 1)
    monkeypatch.setattr(pipeline, "CHUNK_BATCHES", 2)
    monkeypatch.setattr(pipeline, "MAX_CHUNK_BATCHES", 4)
    monkeypatch.setattr(send_batch, "delay", lambda *args: None)
    send, _ = new_send(12)
    asked: list[int] = []
    real_next = pipeline.snapshot_next

    def recording(send_id: int, chunk_batches: int, *progress: Any) -> bool:
        asked.append(chunk_batches)
        return real_next(send_id, chunk_batches, *progress)

    monkeypatch.setattr(pipeline, "snapshot_next", recording)

    pipeline.sends_start_due()

    assert asked == [1, 2, 4, 4, 4]  # 1 + 2 + 4 + 4 readers, then the last 1 and the end
    assert sorted(batch_sizes(send)) == list(range(12))


@pytest.mark.django_db(transaction=True)
def test_the_audience_is_read_twice_however_many_chunks_and_its_copy_is_dropped(
    settings: Any, monkeypatch: Any
) -> None:
    """The first chunk is read from the audience, the rest materialised once: every later chunk
    reads only its own rows of the copy, never the audience again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from delivery.tasks import send_batch

    settings.NEWSROOM_BATCH_SIZE = 1
    monkeypatch.setattr(pipeline, "FIRST_CHUNK_BATCHES", 1)
    monkeypatch.setattr(pipeline, "CHUNK_BATCHES", 2)
    monkeypatch.setattr(pipeline, "MAX_CHUNK_BATCHES", 2)
    monkeypatch.setattr(send_batch, "delay", lambda *args: None)
    send, people = new_send(11)

    with CaptureQueriesContext(connection) as queries:
        pipeline.sends_start_due()

    audience_reads = [q["sql"] for q in queries if "subscribers_subscriber_lists" in q["sql"]]
    assert len(audience_reads) == 2  # the first chunk, then the rest once, for six chunks
    assert audience_reads[0].startswith("INSERT INTO") and "CREATE TEMPORARY TABLE" in audience_reads[1]
    copies = [q["sql"] for q in queries if q["sql"].startswith("INSERT INTO") and "newsroom_snapshot_" in q["sql"]]
    assert len(copies) == 5  # 2 + 2 + 2 + 2 + 2 readers after the first
    assert sorted(batch_sizes(send)) == list(range(11))
    stored = Delivery.objects.filter(send=send).order_by("batch").values_list("email", flat=True)
    assert list(stored) == [p.email for p in sorted(people, key=lambda p: p.pk)]  # numbered by id, across chunks
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.newsroom_snapshot_{send.pk}"])
        else:
            cursor.execute("SELECT max(name) FROM sqlite_temp_master WHERE name = %s", [f"newsroom_snapshot_{send.pk}"])
        assert cursor.fetchone()[0] is None  # not left behind in the worker's connection


@pytest.mark.django_db(transaction=True)
def test_a_warm_up_snapshot_goes_in_chunks_in_engagement_order(settings: Any, monkeypatch: Any) -> None:
    """During a warm-up every chunk comes from the audience ordered as a whole: the batches
    number the most recently engaged first, across chunk boundaries."""
    from delivery.tasks import send_batch

    settings.NEWSROOM_BATCH_SIZE = 1
    settings.SEND_WARMUP_START = timezone.localdate()
    settings.SEND_WARMUP_DAILY_CAPS = [100, 200]
    monkeypatch.setattr(pipeline, "FIRST_CHUNK_BATCHES", 1)
    monkeypatch.setattr(pipeline, "CHUNK_BATCHES", 2)
    monkeypatch.setattr(pipeline, "MAX_CHUNK_BATCHES", 2)
    monkeypatch.setattr(send_batch, "delay", lambda *args: None)
    daily = MailingListFactory.create(name="Daily")
    now = timezone.now()
    engaged_days = [30, None, 2, 10, 1, None, 5]
    for n, days in enumerate(engaged_days):
        engaged = None if days is None else now - datetime.timedelta(days=days)
        SubscriberFactory.create(lists=[daily], email=f"w{n}@example.org", last_engaged_at=engaged)
    send = services.send_create(
        issue=make_full_issue(status=IssueStatus.APPROVED),
        lists=[daily],
        segment=None,
        at=None,
        acting_user=make_editor(),
    )
    chunks: list[int] = []
    real_copy = pipeline.snapshot_copy

    def counting(**kwargs: Any) -> int:
        chunks.append(kwargs["limit"])
        return real_copy(**kwargs)

    monkeypatch.setattr(pipeline, "snapshot_copy", counting)

    pipeline.sends_start_due()

    assert chunks == [1, 2, 2, 2]  # in chunks, all from the ordered copy (none straight from the audience)
    order = list(Delivery.objects.filter(send=send).order_by("batch").values_list("email", flat=True))
    # engaged 1, 2, 5, 10, 30 days ago, then the two never engaged (newest confirmation first)
    assert order[:5] == ["w4@example.org", "w2@example.org", "w6@example.org", "w3@example.org", "w0@example.org"]
    assert set(order[5:]) == {"w1@example.org", "w5@example.org"}
