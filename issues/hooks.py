"""Where the editorial app hears from the sending app without importing it.

Delivery sits above issues in the layers; what issues must show about sends
(the send to cancel before an issue can be edited again) comes through a
function delivery registers here from its ``AppConfig.ready()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from issues.models import Issue

_open_send_finder: Callable[[Issue], Any | None] | None = None


def open_send_finder_register(finder: Callable[[Issue], Any | None]) -> None:
    """Set the function that returns an issue's planned or running send (or None)."""
    global _open_send_finder
    _open_send_finder = finder


def issue_open_send(issue: Issue) -> Any | None:
    """The issue's planned or running send, if the sending app is installed and has one."""
    return _open_send_finder(issue) if _open_send_finder is not None else None
