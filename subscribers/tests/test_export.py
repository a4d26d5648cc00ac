from __future__ import annotations

import csv
import io

import pytest

from subscribers.export import export_response, safe_cell
from subscribers.models import Subscriber
from testing.factories import MailingListFactory, make_confirmed_reader

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_formula_like_cells_are_neutralised(value: str) -> None:
    assert safe_cell(value) == "'" + value


def test_ordinary_cells_are_unchanged() -> None:
    assert safe_cell("Ada Lovelace") == "Ada Lovelace"
    assert safe_cell(None) == ""


def test_export_streams_every_reader_with_lists_and_safe_names() -> None:
    daily = MailingListFactory(name="Daily")
    make_confirmed_reader(email="a@example.org", name="=cmd|' /C calc'!A0", lists=[daily])
    make_confirmed_reader(email="b@example.org", name="Bea")
    response = export_response(Subscriber.objects.all())
    assert response.streaming
    body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["email"] for r in rows] == ["a@example.org", "b@example.org"]
    assert rows[0]["name"].startswith("'=") and rows[0]["lists"] == "Daily"
