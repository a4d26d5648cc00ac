from __future__ import annotations

from typing import Any

import pytest

from automations import services
from automations.models import DelayUnit, Sequence, Step, Trigger
from testing.factories import MailingListFactory


def make_sequence(*, steps: list[tuple[int, str]], name: str = "Onboarding", **kwargs: Any) -> Sequence:
    """A sequence on a new list with steps of (delay, unit), subjects "Step 1", "Step 2", ..."""
    if "trigger_list" not in kwargs and kwargs.get("trigger", Trigger.LIST_CONFIRMED) == Trigger.LIST_CONFIRMED:
        kwargs["trigger_list"] = MailingListFactory.create(name=f"{name} list")
    sequence = Sequence.objects.create(name=name, **kwargs)
    for position, (delay, unit) in enumerate(steps):
        Step.objects.create(
            sequence=sequence,
            position=position,
            subject=f"Step {position + 1}",
            body=f"<p>Body of step {position + 1}</p>",
            delay_value=delay,
            delay_unit=unit,
        )
    services.step_versions_sync(sequence=sequence)
    return sequence


@pytest.fixture(autouse=True)
def _welcome_sequence(request: Any) -> None:
    """The Welcome sequence its migration made, again after a test that emptied the database."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    if marker is None and "db" not in names and "transactional_db" not in names:
        return
    transactional = "transactional_db" in names or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    services.welcome_sequence_ensure()


@pytest.fixture(autouse=True)
def _outbox_backend(settings: Any) -> None:
    """Store emails in OutboxMessage as on a laptop (pytest-django swaps in locmem otherwise)."""
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"


@pytest.fixture
def three_steps(db: None) -> Sequence:
    return make_sequence(steps=[(0, DelayUnit.MINUTES), (1, DelayUnit.DAYS), (3, DelayUnit.DAYS)])
