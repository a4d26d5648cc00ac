"""Engagement rules of segments that need the sending layer's records.

Opens, clicks and sends are delivery's; the audience may not import it. So
delivery registers, once at start-up, an :class:`EngagementSource`: functions
that turn one rule into a condition on Subscriber (an ``EXISTS`` over its
indexed columns), plus what the segment form needs to offer and check the
choices. The rules that per-reader fields answer (``last_engaged_at``,
``received_count``) need no source and stay in subscribers.selectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q


@dataclass(frozen=True)
class EngagementSource:
    """What the sending layer answers about readers' engagement (opens and clicks by people only)."""

    #: Readers who opened or clicked any of the publication's last ``n`` sends.
    opened_in_last_sends: Callable[[int], Q]
    #: Readers who clicked a link in any of the last ``n`` sends.
    clicked_in_last_sends: Callable[[int], Q]
    #: Readers who clicked exactly this URL.
    clicked_url: Callable[[str], Q]
    #: Readers who clicked any link of the issue with this id.
    clicked_issue: Callable[[int], Q]
    #: (id, label) of the issues that were sent, newest first, for the form's choice.
    sent_issue_choices: Callable[[], list[tuple[int, str]]]
    #: True when the URL is a link of a sent issue (so a rule on it can match someone).
    url_of_sent_issue: Callable[[str], bool]
    #: Links of sent issues that readers clicked, most clicked first, offered as suggestions.
    clicked_url_suggestions: Callable[[], list[str]]


_SOURCE: list[EngagementSource] = []


def engagement_source_register(source: EngagementSource) -> None:
    """Set the source (from delivery's AppConfig.ready(); registering again replaces it)."""
    _SOURCE[:] = [source]


def engagement_source() -> EngagementSource:
    if not _SOURCE:
        raise ImproperlyConfigured("No engagement source is registered: is the delivery app installed?")
    return _SOURCE[0]
