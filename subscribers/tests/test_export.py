from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.csvwrite import safe_cell, unquote_cell
from subscribers import importer
from subscribers.export import export_response
from subscribers.models import ConsentBasis, Subscriber
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


def test_lists_and_tags_come_in_their_own_order_and_the_queries_do_not_grow_with_the_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from subscribers import export
    from subscribers.models import SubscriberTag

    monkeypatch.setattr(export, "CHUNK", 3)
    from subscribers.models import MailingList

    second = MailingList.objects.create(name="Zebra", slug="zebra", position=2)
    first = MailingList.objects.create(name="Alpha", slug="alpha", position=1)
    vip, beta = SubscriberTag.objects.create(name="vip"), SubscriberTag.objects.create(name="beta")
    readers = [make_confirmed_reader(email=f"r{n}@example.org") for n in range(7)]
    readers[0].lists.add(second, first)
    readers[0].tags.add(vip, beta)
    readers[6].lists.add(second)

    def rows() -> list[dict[str, str]]:
        with CaptureQueriesContext(connection) as queries:
            body = "".join(
                (b if isinstance(b, str) else b.decode())
                for b in export_response(Subscriber.objects.all()).streaming_content  # type: ignore[union-attr]
            )
        rows.queries = len(queries)  # type: ignore[attr-defined]
        return list(csv.DictReader(io.StringIO(body)))

    got = rows()
    assert (got[0]["lists"], got[0]["tags"]) == ("Alpha;Zebra", "beta;vip")
    assert (got[6]["lists"], got[6]["tags"], got[3]["lists"]) == ("Zebra", "", "")
    # Three chunks of at most three readers: three queries each, and three before the first.
    assert rows.queries <= 3 + 3 * 3  # type: ignore[attr-defined]
    more = [make_confirmed_reader(email=f"s{n}@example.org") for n in range(2)]
    assert len(rows()) == 9 and more
    assert rows.queries <= 3 + 3 * 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["|cmd", "\uff1dSUM(A1)", "\uff0b1", "\uff0d1", "\uff20SUM(A1)", "\uff5ccmd"])
def test_pipe_and_full_width_formula_starts_are_neutralised(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["=1+2@example.org", "'=1+2@example.org", "''x", "'plain", "plain", "", "\uff1dx"])
def test_the_import_reverses_the_guard_exactly(value: str) -> None:
    assert unquote_cell(safe_cell(value)) == value


def test_an_export_imports_back_with_every_address_and_name_exact() -> None:
    daily = MailingListFactory(name="Daily", slug="daily")
    people = {
        "=1+2@example.org": "=SUM(A1)",
        "+tag@example.org": "\uff1dcmd",
        "-dash@example.org": "'Quoted",
        "|pipe@example.org": "@home",
        "'=1+2@example.org": "|Pipe",
        "'apostrophe@example.org": "Plain Name",
        "=cmd|'/Ccalc'!A0@example.org": "-minus",
    }
    for email, name in people.items():
        make_confirmed_reader(email=email, name=name, lists=[daily])
    body = b"".join(export_response(Subscriber.objects.all()).streaming_content)  # type: ignore[arg-type]
    assert b"\n=" not in body and b",=" not in body, "no cell starts like a formula"
    Subscriber.objects.all().delete()
    job, _columns, _preview, _count = importer.import_job_create(
        uploaded=SimpleUploadedFile("export.csv", body, content_type="text/csv"), acting_user=None
    )
    importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    importer.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.added, job.rejected) == (len(people), 0), job.report
    assert dict(Subscriber.objects.values_list("email", "name")) == people
    assert all([item.name for item in s.lists.all()] == ["Daily"] for s in Subscriber.objects.all())
