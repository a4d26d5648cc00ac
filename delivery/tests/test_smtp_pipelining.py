"""SMTP sends pipelined (RFC 2920): delivery.backends.PipelinedSMTPBackend through the send path,
against the fake SMTP server (testing/fakesmtp.py) with PIPELINING offered and not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from delivery.backends import PipeliningSMTP
from delivery.models import Delivery, DeliveryStatus
from delivery.tests.test_providers import send_to, use_provider
from testing.fakesmtp import FakeSMTPServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(celery_eager: None) -> Iterator[None]:
    """Eager tasks; a task's self.retry() runs the retry at once (no countdown)."""
    from newsroom.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


@pytest.fixture(params=[True, False], ids=["pipelined", "one-by-one"])
def fake_smtp(request: Any, settings: Any) -> Iterator[FakeSMTPServer]:
    server = FakeSMTPServer()
    server.state.pipelining = request.param
    server.start()
    use_provider(settings, "smtp", "delivery.backends.PipelinedSMTPBackend")
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.NEWSROOM_BATCH_SIZE = 10
    yield server
    server.stop()


def received_by(server: FakeSMTPServer) -> list[str]:
    return sorted(r.recipients[0] for r in server.state.messages if len(r.recipients) == 1)


def test_every_reader_gets_one_message_and_a_refused_one_fails_alone(
    eager: None, fake_smtp: FakeSMTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    refused = "reader-refused@example.org"
    fake_smtp.state.refuse.add(refused)

    send = send_to(4, django_capture_on_commit_callbacks, also=(refused,))

    rows = {d.email: d for d in Delivery.objects.filter(send=send)}
    assert received_by(fake_smtp) == sorted(e for e in rows if e != refused)
    assert all(len(r.recipients) == 1 for r in fake_smtp.state.messages)
    for email, row in rows.items():
        if email == refused:
            assert row.status == DeliveryStatus.FAILED
            assert "550" in row.error and "mailbox unavailable" in row.error
        else:
            assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)
    assert fake_smtp.state.connections == 1
    # The greeting and EHLO are a round trip each; then, pipelined, each message is two (the
    # MAIL/RCPT/DATA group, the body) and the refused one two (the group, RSET). One by one,
    # a message is four (MAIL, RCPT, DATA, body) and the refused one three (MAIL, RCPT, RSET).
    per_message, refused_trips = (2, 2) if fake_smtp.state.pipelining else (4, 3)
    assert fake_smtp.state.round_trips == 2 + 4 * per_message + refused_trips


def test_a_421_mid_batch_keeps_the_sent_and_retries_the_rest(
    settings: Any, eager: None, fake_smtp: FakeSMTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    fake_smtp.state.hang_up_after = 2  # the third MAIL gets "421 shutting down" and the line drops, once

    send = send_to(5, django_capture_on_commit_callbacks)

    rows = list(Delivery.objects.filter(send=send))
    assert received_by(fake_smtp) == sorted(r.email for r in rows)  # each reader exactly once
    assert {r.status for r in rows} == {DeliveryStatus.SENT}
    assert sorted(r.attempts for r in rows) == [1, 1, 2, 2, 2]
    assert fake_smtp.state.connections == 2


def test_a_4xx_recipient_is_retried_and_given_up_on_alone(
    settings: Any, eager: None, fake_smtp: FakeSMTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SEND_MAX_RETRIES = 2
    busy = "reader-busy@example.org"
    fake_smtp.state.defer.add(busy)

    send = send_to(3, django_capture_on_commit_callbacks, also=(busy,))

    rows = {d.email: d for d in Delivery.objects.filter(send=send)}
    assert received_by(fake_smtp) == sorted(e for e in rows if e != busy)
    assert rows[busy].status == DeliveryStatus.FAILED
    assert rows[busy].error.startswith("Gave up after retries") and "450" in rows[busy].error
    assert all(row.status == DeliveryStatus.SENT for email, row in rows.items() if email != busy)


def test_the_pipelined_body_is_dot_stuffed_and_each_answer_read_in_order() -> None:
    server = FakeSMTPServer().start()
    server.state.refuse.add("no@example.org")
    try:
        smtp = PipeliningSMTP("127.0.0.1", server.port)
        body = b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nend"
        assert smtp.sendmail("from@example.org", ["to@example.org", "no@example.org"], body) == {
            "no@example.org": (550, b"5.1.1 <no@example.org>: mailbox unavailable")
        }
        smtp.sendmail("from@example.org", "again@example.org", b"Subject: two\r\n\r\nsecond\r\n")
        smtp.quit()
    finally:
        server.stop()
    first, second = server.state.messages
    assert first.recipients == ["to@example.org"]
    assert first.message.get_content().replace("\r\n", "\n") == ".one dot\n..two dots\n.\nend\n"
    assert (second.recipients, second.message["Subject"]) == (["again@example.org"], "two")
    assert server.state.round_trips == 2 + 2 + 2  # greeting, EHLO, then two a message


def test_a_line_dropped_after_a_body_leaves_that_reader_uncertain_and_retries_the_rest(
    eager: None, fake_smtp: FakeSMTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    fake_smtp.state.drop_after = 2  # the third message's body is taken, its answer never comes

    send = send_to(5, django_capture_on_commit_callbacks)

    rows = list(Delivery.objects.filter(send=send))
    assert received_by(fake_smtp) == sorted(r.email for r in rows)  # each reader exactly once
    statuses = sorted((r.status, r.attempts) for r in rows)
    assert statuses == sorted(
        [(DeliveryStatus.SENT, 1)] * 2 + [(DeliveryStatus.SENT, 2)] * 2 + [(DeliveryStatus.UNCERTAIN, 1)]
    )
    uncertain = next(r for r in rows if r.status == DeliveryStatus.UNCERTAIN)
    assert "connection was lost" in uncertain.error
    assert fake_smtp.state.connections == 2


def test_a_pipelined_4xx_recipient_raises_as_smtplib_does_and_the_connection_goes_on() -> None:
    import smtplib

    server = FakeSMTPServer().start()
    server.state.defer.add("busy@example.org")
    try:
        smtp = PipeliningSMTP("127.0.0.1", server.port)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail("from@example.org", ["busy@example.org"], b"Subject: one\r\n\r\nfirst\r\n")
        assert refused.value.recipients["busy@example.org"][0] == 450
        smtp.sendmail("from@example.org", ["next@example.org"], b"Subject: two\r\n\r\nsecond\r\n")
        smtp.quit()
    finally:
        server.stop()
    assert [(r.recipients, r.message["Subject"]) for r in server.state.messages] == [(["next@example.org"], "two")]
    assert server.state.round_trips == 2 + 2 + 2  # greeting, EHLO; the group and RSET; the group and the body
