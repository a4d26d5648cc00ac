from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _outbox_backend(settings: Any) -> None:
    """Store emails in OutboxMessage as on a laptop (pytest-django swaps in locmem otherwise)."""
    settings.EMAIL_BACKEND = "core.outbox.OutboxBackend"
