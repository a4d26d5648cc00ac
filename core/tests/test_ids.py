"""core.ids.parse_id: ids from outside are read as ASCII digits or not at all."""

from __future__ import annotations

import pytest

from core.ids import parse_id


@pytest.mark.parametrize(("raw", "expected"), [("7", 7), ("007", 7), ("9" * 18, 10**18 - 1)])
def test_it_reads_ascii_digits(raw: str, expected: int) -> None:
    assert parse_id(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "²", "١٢", "\uff11\uff12", "-1", "+1", " 1", "1\n", "1.0", "9" * 19, None, 12, b"12"]
)
def test_it_refuses_everything_else(raw: object) -> None:
    assert parse_id(raw) is None
