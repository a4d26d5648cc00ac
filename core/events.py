"""What happened, told to whoever listens: the project's domain events.

The lower layers (subscribers, issues, delivery) say what happened to a
reader, an issue or a send; the upper layers (outgoing webhooks, sequences)
listen, without the lower layers importing them.

A listener runs inside the emitter's transaction. What it writes (an outgoing
webhook row, a reader entering a sequence) therefore commits or rolls back with
the change itself: nobody hears of a change that did not happen, and no change
that happened goes untold. A listener must be quick and must not call out of
the process; it stores a row and lets a task do the slow part after the commit.

Each event is a name from ``EventName`` and one payload per subject, a dict of
JSON values. ``subscriber_id`` (or ``issue_id``/``send_id``) names the subject;
bulk changes emit one call with many payloads, so that a listener can store
them with one INSERT.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Payload = Mapping[str, Any]
Listener = Callable[[str, list[Payload]], None]


class EventName(enum.StrEnum):
    SUBSCRIBER_CREATED = "subscriber.created"
    SUBSCRIBER_CONFIRMED = "subscriber.confirmed"
    SUBSCRIBER_UNSUBSCRIBED = "subscriber.unsubscribed"
    SUBSCRIBER_BOUNCED = "subscriber.bounced"
    SUBSCRIBER_COMPLAINED = "subscriber.complained"
    SUBSCRIBER_ERASED = "subscriber.erased"
    SUBSCRIBER_TAGGED = "subscriber.tagged"
    SUBSCRIBER_LEFT_LIST = "subscriber.left_list"
    # "Keep me subscribed" in a re-engagement email, or an editor reactivating an inactive reader.
    SUBSCRIBER_KEPT = "subscriber.kept"
    # A list's sunset policy moved the reader to inactive (no answer to the re-engagement email).
    SUBSCRIBER_INACTIVE = "subscriber.inactive"
    ISSUE_PUBLISHED = "issue.published"
    SEND_STARTED = "send.started"
    SEND_FINISHED = "send.finished"
    SEND_FAILED = "send.failed"
    SEQUENCE_STEP_SENT = "sequence.step_sent"


_LISTENERS: list[tuple[frozenset[str] | None, Listener]] = []


def listen(listener: Listener, *, names: Iterable[str] | None = None) -> None:
    """Call ``listener(name, payloads)`` for each event named in ``names`` (every event if None).

    Register from an AppConfig.ready(); registering the same listener twice keeps one."""
    wanted = frozenset(str(n) for n in names) if names is not None else None
    for index, (_old, existing) in enumerate(_LISTENERS):
        if existing is listener:
            _LISTENERS[index] = (wanted, listener)
            return
    _LISTENERS.append((wanted, listener))


def unlisten(listener: Listener) -> None:
    """Stop calling ``listener`` (tests)."""
    _LISTENERS[:] = [(w, fn) for w, fn in _LISTENERS if fn is not listener]


def emit(name: str, payload: Payload) -> None:
    """Tell every listener of ``name`` about one subject."""
    emit_many(name, [payload])


def emit_many(name: str, payloads: Iterable[Payload]) -> None:
    """Tell every listener of ``name`` about many subjects at once (bulk admin actions, imports)."""
    items = list(payloads)
    if not items:
        return
    key = str(name)
    for wanted, listener in list(_LISTENERS):
        if wanted is None or key in wanted:
            listener(key, items)
