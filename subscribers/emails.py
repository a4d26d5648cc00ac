"""One function per kind of email the audience gets outside issues.

Each queues newsroom.tasks.send_email_task with a JSON context; the templates
are emails/<kind>_subject.txt, emails/<kind>.txt and emails/<kind>.html.
"""

from __future__ import annotations

from newsroom.tasks import send_email_task
from subscribers.links import CONFIRM_MAX_AGE, confirm_url, links_for


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
    context = {"name": name, **links_for(subscriber_id=subscriber_id, email=email)}
    send_email_task.delay(kind="welcome", to=[email], context=context)
