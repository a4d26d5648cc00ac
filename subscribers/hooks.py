"""Where the audience app hears from the apps above it without importing them.

The welcome email a reader gets on confirming can be taken over by a welcome
sequence (automations): that app registers a function here from its
``AppConfig.ready()``, and ``subscriber_confirm`` asks it after the
``subscriber.confirmed`` event, in the same transaction, whether the reader's
welcome is now the sequence's first step.
"""

from __future__ import annotations

from collections.abc import Callable

_welcome_takers: list[Callable[[int], bool]] = []


def welcome_taker_register(taker: Callable[[int], bool]) -> None:
    """Add a function ``taker(subscriber_id) -> bool``: True when it sends that reader's welcome itself."""
    if taker not in _welcome_takers:
        _welcome_takers.append(taker)


def welcome_taken(subscriber_id: int) -> bool:
    """True if a registered app sends this reader's welcome (the built-in email must not go)."""
    return any(taker(subscriber_id) for taker in _welcome_takers)
