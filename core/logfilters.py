"""Logging filters.

Beat asks the worker every SEND_POLL_SECONDS whether a send is due. Celery logs
three INFO lines per poll (beat's "Sending due task", the worker's "received"
and "succeeded"), which buries everything else in the terminal of `make run`
and in production logs. This filter drops those lines unless the poll started
a send (its result is then a non-empty list of send ids) or something went
wrong (WARNING and above always pass).
"""

from __future__ import annotations

import logging

POLL_TASK = "delivery.start_due_sends"
POLL_SCHEDULE_NAME = "start due sends"


class QuietSendPoll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        if POLL_TASK not in message and POLL_SCHEDULE_NAME not in message:
            return True
        # "Task delivery.start_due_sends[…] succeeded in 0.002s: [12]" names the sends it started.
        return "succeeded" in message and not message.rstrip().endswith(": []")
