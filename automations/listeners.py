"""What automations does when the audience app says something happened to a reader.

Listeners run inside the emitter's transaction (core.events): a reader who
confirms enters the welcome sequence in the same commit as the confirmation,
and a reader who unsubscribes leaves every sequence in the same commit."""

from __future__ import annotations

from automations import services
from automations.models import Trigger
from core.events import EventName, Payload, listen


def on_confirmed(name: str, payloads: list[Payload]) -> None:
    # Readers who confirmed on the same lists enter together (one INSERT per group).
    by_lists: dict[tuple[int, ...], list[int]] = {}
    for p in payloads:
        by_lists.setdefault(tuple(sorted(p.get("list_ids") or [])), []).append(int(p["subscriber_id"]))
    for list_ids, readers in by_lists.items():
        services.runs_enter_on_trigger(trigger=Trigger.LIST_CONFIRMED, subscriber_ids=readers, list_ids=list_ids)


def on_tagged(name: str, payloads: list[Payload]) -> None:
    by_tag: dict[int, list[int]] = {}
    for p in payloads:
        by_tag.setdefault(int(p["tag_id"]), []).append(int(p["subscriber_id"]))
    for tag_id, readers in by_tag.items():
        services.runs_enter_on_trigger(trigger=Trigger.TAG_ADDED, subscriber_ids=readers, tag_id=tag_id)


_EXIT_REASONS = {
    EventName.SUBSCRIBER_UNSUBSCRIBED: services.EXIT_UNSUBSCRIBED,
    EventName.SUBSCRIBER_BOUNCED: services.EXIT_SUPPRESSED,
    EventName.SUBSCRIBER_COMPLAINED: services.EXIT_SUPPRESSED,
    EventName.SUBSCRIBER_ERASED: services.EXIT_ERASED,
}


def on_gone(name: str, payloads: list[Payload]) -> None:
    services.runs_exit(
        subscriber_ids=[int(p["subscriber_id"]) for p in payloads], reason=_EXIT_REASONS[EventName(name)]
    )


def on_left_list(name: str, payloads: list[Payload]) -> None:
    for p in payloads:
        services.runs_exit(
            subscriber_ids=[int(p["subscriber_id"])], reason=services.EXIT_LEFT_LIST, list_ids=p.get("list_ids") or []
        )


def register() -> None:
    from automations import sunset
    from automations.tracking import step_event_find
    from delivery.tracking import message_finder_register
    from subscribers.hooks import welcome_taker_register

    listen(on_confirmed, names=[EventName.SUBSCRIBER_CONFIRMED])
    listen(on_tagged, names=[EventName.SUBSCRIBER_TAGGED])
    listen(on_gone, names=list(_EXIT_REASONS))
    listen(on_left_list, names=[EventName.SUBSCRIBER_LEFT_LIST])
    sunset.register()
    from automations.samples import register_samples

    register_samples()
    welcome_taker_register(services.welcome_taken)
    message_finder_register(step_event_find)
