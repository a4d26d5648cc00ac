import logging

from core.logfilters import QuietSendPoll


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("celery.app.trace", level, __file__, 1, message, None, None)


def test_it_drops_the_idle_poll_lines():
    quiet = QuietSendPoll()
    assert not quiet.filter(_record("Scheduler: Sending due task start due sends (delivery.start_due_sends)"))
    assert not quiet.filter(_record("Task delivery.start_due_sends[ab-12] received"))
    assert not quiet.filter(_record("Task delivery.start_due_sends[ab-12] succeeded in 0.002s: []"))


def test_it_keeps_a_poll_that_started_sends_and_every_other_line():
    quiet = QuietSendPoll()
    assert quiet.filter(_record("Task delivery.start_due_sends[ab-12] succeeded in 0.3s: [4, 5]"))
    assert quiet.filter(_record("Task delivery.start_due_sends[ab-12] raised unexpected: boom", logging.ERROR))
    assert quiet.filter(_record("Task delivery.send_batch[cd-34] succeeded in 0.8s: None"))
