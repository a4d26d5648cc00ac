"""One function per kind of email the audience gets outside issues.

Each queues core.mail.send_email_task with a JSON context; the templates
are emails/<kind>_subject.txt, emails/<kind>.txt and emails/<kind>.html.
Each kind's arguments are made by one ``*_task_args`` function, which the
queued email and its sample (:func:`register_samples`) share.
"""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage

from core.mail import SampleReader, build_templated, email_sample_register, list_unsubscribe_headers, send_email_task
from subscribers.links import CONFIRM_MAX_AGE, confirm_url, links_for


def unsubscribe_headers(links: dict[str, str]) -> dict[str, str]:
    """The one-click unsubscribe headers for the reader these links belong to."""
    return list_unsubscribe_headers(links["one_click_url"])


def confirmation_task_args(*, subscriber_id: int, email: str, name: str) -> dict[str, Any]:
    context = {
        "name": name,
        "confirm_url": confirm_url(subscriber_id=subscriber_id, email=email),
        "valid_days": CONFIRM_MAX_AGE.days,
    }
    return {"kind": "confirm", "to": [email], "context": context}


def welcome_task_args(*, subscriber_id: int, email: str, name: str) -> dict[str, Any]:
    links = links_for(subscriber_id=subscriber_id, email=email)
    context = {"name": name, **links}
    return {"kind": "welcome", "to": [email], "context": context, "headers": unsubscribe_headers(links)}


def already_subscribed_task_args(*, subscriber_id: int, email: str, name: str) -> dict[str, Any]:
    links = links_for(subscriber_id=subscriber_id, email=email)
    context = {"name": name, **links}
    return {"kind": "already_subscribed", "to": [email], "context": context, "headers": unsubscribe_headers(links)}


def confirmation(*, subscriber_id: int, email: str, name: str) -> None:
    """The double opt-in email with the signed confirmation link."""
    send_email_task.delay(**confirmation_task_args(subscriber_id=subscriber_id, email=email, name=name))


def welcome(*, subscriber_id: int, email: str, name: str) -> None:
    """Sent once, after the reader confirms; carries their preferences and unsubscribe links."""
    send_email_task.delay(**welcome_task_args(subscriber_id=subscriber_id, email=email, name=name))


def already_subscribed(*, subscriber_id: int, email: str, name: str) -> None:
    """Someone typed an active reader's address into the subscribe form: tell the owner, change nothing.

    It carries the preferences link (so an owner who forgot can pick lists) and
    says that if they did not ask, they need do nothing.
    """
    send_email_task.delay(**already_subscribed_task_args(subscriber_id=subscriber_id, email=email, name=name))


def register_samples() -> None:
    """The audience's kinds of email, built as the worker builds them (core.mail.email_sample_register)."""
    for kind, args in (
        ("confirm", confirmation_task_args),
        ("welcome", welcome_task_args),
        ("already_subscribed", already_subscribed_task_args),
    ):

        def build(reader: SampleReader, args: Any = args) -> EmailMessage:
            return build_templated(**args(subscriber_id=reader.subscriber_id, email=reader.email, name=reader.name))

        email_sample_register(kind, build)
