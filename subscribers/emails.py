"""One function per kind of email the audience gets outside issues.

Each queues core.mail.send_email_task with a JSON context; the templates
are emails/<kind>_subject.txt, emails/<kind>.txt and emails/<kind>.html.
"""

from __future__ import annotations

from core.mail import list_unsubscribe_headers, send_email_task
from subscribers.links import CONFIRM_MAX_AGE, confirm_url, links_for


def unsubscribe_headers(links: dict[str, str]) -> dict[str, str]:
    """The one-click unsubscribe headers for the reader these links belong to."""
    return list_unsubscribe_headers(links["one_click_url"])


def confirmation(*, subscriber_id: int, email: str, name: str) -> None:
    """The double opt-in email with the signed confirmation link."""
    context = {
        "name": name,
        "confirm_url": confirm_url(subscriber_id=subscriber_id, email=email),
        "valid_days": CONFIRM_MAX_AGE.days,
    }
    send_email_task.delay(kind="confirm", to=[email], context=context)


def welcome(*, subscriber_id: int, email: str, name: str) -> None:
    """Sent once, after the reader confirms; carries their preferences and unsubscribe links."""
    links = links_for(subscriber_id=subscriber_id, email=email)
    context = {"name": name, **links}
    send_email_task.delay(kind="welcome", to=[email], context=context, headers=unsubscribe_headers(links))


def already_subscribed(*, subscriber_id: int, email: str, name: str) -> None:
    """Someone typed an active reader's address into the subscribe form: tell the owner, change nothing.

    It carries the preferences link (so an owner who forgot can pick lists) and
    says that if they did not ask, they need do nothing.
    """
    links = links_for(subscriber_id=subscriber_id, email=email)
    context = {"name": name, **links}
    send_email_task.delay(kind="already_subscribed", to=[email], context=context, headers=unsubscribe_headers(links))
