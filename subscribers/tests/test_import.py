from __future__ import annotations

import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils import timezone

from subscribers import importer
from subscribers.models import (
    Consent,
    ConsentBasis,
    ImportJob,
    ImportJobAddress,
    ImportStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from subscribers.services import subscriber_unsubscribe, suppression_add
from testing.factories import MailingListFactory, make_confirmed_reader, make_pending_reader

pytestmark = pytest.mark.django_db


def upload(content: str | bytes, name: str = "readers.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def run(content: str | bytes, basis: str = ConsentBasis.DOUBLE_OPT_IN, lists: list | None = None) -> ImportJob:
    job, _columns, _preview, _count = importer.import_job_create(uploaded=upload(content), acting_user=None)
    assert importer.import_job_queue(job=job, consent_basis=basis, lists=lists or [])
    run_to_the_end(job.pk)
    return ImportJob.objects.get(pk=job.pk)


def run_to_the_end(job_id: int) -> int:
    """Run the job's chunks one after the other, as the queue would; returns how many runs it took."""
    runs = 0
    while (job := importer.import_job_run(job_id=job_id)) is not None:
        runs += 1
        if job.status != ImportStatus.QUEUED:
            break
    return runs


def reasons(job: ImportJob) -> dict[int, str]:
    return {row["line"]: row["reason"] for row in job.report}


def test_a_good_file_adds_active_readers_with_lists_tags_and_consent() -> None:
    daily = MailingListFactory(name="Daily", slug="daily")
    job = run("email,name,lists,tags\nA@Example.org,Ada,daily,vip;early\nb@example.org,,Daily,\n")
    assert job.status == ImportStatus.DONE and (job.added, job.updated, job.rejected) == (2, 0, 0)
    assert not job.file, "the uploaded file is deleted once imported"
    ada = Subscriber.objects.get(email="A@example.org")
    assert ada.status == SubscriberStatus.ACTIVE and ada.name == "Ada"
    assert list(ada.lists.all()) == [daily]
    assert sorted(t.name for t in ada.tags.all()) == ["early", "vip"]
    consent = ada.consents.get()
    assert consent.action == Consent.Action.IMPORT and "double opt-in" in consent.text


def test_without_a_consent_basis_imported_readers_stay_pending() -> None:
    run("email\nc@example.org\n", basis=ConsentBasis.NONE)
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING


def test_bad_rows_are_reported_with_a_reason_and_never_active() -> None:
    suppression_add(email="blocked@example.org", reason=Suppression.Reason.HARD_BOUNCE)
    gone = make_confirmed_reader(email="gone@example.org")
    subscriber_unsubscribe(subscriber=gone, via="test")
    content = (
        "email,name\n"
        "ok@example.org,Ok\n"  # line 2
        "not-an-address,Bad\n"  # 3
        "OK@example.org,Again\n"  # 4
        "blocked@example.org,Blocked\n"  # 5
        "gone@example.org,Gone\n"  # 6
        "extra@example.org,Too,Many\n"  # 7
    )
    job = run(content)
    assert (job.total_rows, job.added, job.updated, job.skipped, job.rejected) == (6, 1, 0, 1, 4)
    why = reasons(job)
    assert why[3].startswith("Invalid address")
    assert why[4].startswith("Duplicate")
    assert why[5].startswith("Suppressed")
    assert why[6].startswith("Already known as unsubscribed")
    assert why[7].startswith("Broken row")
    assert job.reasons == {
        "Invalid address": 1,
        "Duplicate": 1,
        "Suppressed address": 1,
        "Already known as unsubscribed": 1,
        "Broken row": 1,
    }
    assert set(Subscriber.objects.values_list("email", flat=True)) == {"ok@example.org", "gone@example.org"}
    assert Subscriber.objects.get(email="gone@example.org").status == SubscriberStatus.UNSUBSCRIBED


def test_existing_pending_readers_are_updated_and_activated() -> None:
    reader = make_pending_reader(email="wait@example.org", name="Old")
    job = run("email,name\nWAIT@example.org,New\n")
    assert (job.added, job.updated) == (0, 1)
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE and reader.name == "New"


def test_an_unknown_list_rejects_the_row() -> None:
    job = run("email,lists\nx@example.org,nope\n")
    assert job.rejected == 1 and "Unknown list: nope" in job.report[0]["reason"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("mail,name\nx@example.org,X\n", "must have an “email” column"),
        ("", "The file is empty"),
        ("email,name\nok@example.org,Zoë\n".encode("latin-1"), "not UTF-8"),
        ("email,name\n" + "ok@example.org,Ok\n" * 3000 + "late@example.org,Zoë\n", None),
        ("email,email\nx@example.org,y@example.org\n", "names a column twice"),
        ("email,name\nx@example.org,X\n".encode("utf-16-le"), "NUL bytes"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "spreadsheet workbook (.xlsx)"),
    ],
)
def test_a_wrong_header_or_encoding_is_refused_and_nothing_is_stored(content: str | bytes, message: str | None) -> None:
    if message is None:  # a bad byte far into the file, past the first decoded block
        content = content.encode("utf-8").replace("Zoë".encode(), "Zoë".encode("latin-1"))  # type: ignore[union-attr]
        message = "line 3002 has a byte that is not UTF-8"
    with pytest.raises(importer.ImportFileError) as caught:
        importer.import_job_create(uploaded=upload(content), acting_user=None)
    assert message in caught.value.messages[0]
    assert not ImportJob.objects.exists() and not Subscriber.objects.exists()


def test_a_utf8_file_with_bom_and_idn_addresses_imports() -> None:
    job = run("\ufeffEmail,Name\nleser@bücher.example,Zoë\n".encode())
    assert job.added == 1
    assert Subscriber.objects.get().email == "leser@xn--bcher-kva.example"


def test_a_hundred_thousand_rows_import_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name\n")
        for i in range(100_000):
            out.write(f"reader{i}@example.org,Reader {i}\n" if i % 1000 else f"broken{i},x\n")
    job = ImportJob.objects.create(
        file=SimpleUploadedFile("big.csv", b""), filename="big.csv", consent_basis=ConsentBasis.SIGNUP_FORM
    )
    with path.open("rb") as handle:
        job.file.save("big.csv", File(handle))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    tracemalloc.start()
    run_to_the_end(job.pk)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    job.refresh_from_db()
    assert (job.added, job.rejected) == (99_900, 100)
    assert Subscriber.objects.count() == 99_900
    # The file alone is about 3.5 MB; holding all rows as objects would take far more.
    assert peak < 40 * 1024 * 1024


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_import(delimiter: str) -> None:
    MailingListFactory(name="Daily", slug="daily")
    rows = ["email", "name", "lists"], ["a@example.org", "Ada", "daily"], ["b@example.org", "Bo, Jr.", ""]
    job = run("".join(delimiter.join(row) + "\n" for row in rows))
    assert (job.added, job.rejected) == (2, 0)
    assert Subscriber.objects.get(email="b@example.org").name == "Bo, Jr."


def test_a_utf16_file_with_a_byte_order_mark_imports() -> None:
    # What spreadsheets write as "Unicode text".
    job = run("email\tname\nzoe@example.org\tZoë\n".encode("utf-16"))
    assert job.added == 1 and Subscriber.objects.get().name == "Zoë"


def test_a_bad_byte_far_into_the_file_fails_the_import_whole_with_a_message() -> None:
    good = "".join(f"r{i}@example.org,R\n" for i in range(3000)).encode()
    job, _columns, _preview, _count = importer.import_job_create(uploaded=upload(b"email,name\n"), acting_user=None)
    job.file.save(
        "late.csv", SimpleUploadedFile("late.csv", b"email,name\n" + good + "z@example.org,Zoë\n".encode("latin-1"))
    )
    importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    importer.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "not UTF-8" in job.error and "Nothing was imported." in job.error
    assert not Subscriber.objects.exists()


def test_running_a_job_twice_imports_it_once() -> None:
    job, _columns, _preview, _count = importer.import_job_create(
        uploaded=upload("email\nonce@example.org\n"), acting_user=None
    )
    assert importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    assert not importer.import_job_queue(job=job, consent_basis=ConsentBasis.NONE, lists=[])
    assert importer.import_job_run(job_id=job.pk) is not None
    assert importer.import_job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.added, job.consent_basis) == (ImportStatus.DONE, 1, ConsentBasis.DOUBLE_OPT_IN)
    assert Subscriber.objects.count() == 1 and Consent.objects.count() == 1


def test_an_address_added_elsewhere_during_the_import_fails_it_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importer._process

    def someone_subscribes_meanwhile(ctx: object, chunk: list) -> None:
        real(ctx, chunk)  # type: ignore[arg-type]
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(importer, "_process", someone_subscribes_meanwhile)
    job = run("email\na@example.org\n")
    assert job.status == ImportStatus.FAILED and "added by someone else" in job.error
    assert not Subscriber.objects.exists()


def test_a_worker_that_cannot_read_the_file_fails_the_job_with_a_message() -> None:
    job, _columns, _preview, _count = importer.import_job_create(
        uploaded=upload("email\nx@example.org\n"), acting_user=None
    )
    importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    job.file.storage.delete(str(job.file.name))
    importer.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "could not read the uploaded file" in job.error


def test_the_import_runs_in_the_queue_and_then_deletes_the_uploaded_file(
    celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    job, _columns, _preview, _count = importer.import_job_create(
        uploaded=upload("email\nx@example.org\n"), acting_user=None
    )
    name, storage = str(job.file.name), job.file.storage
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    job.refresh_from_db()
    assert (job.status, job.added) == (ImportStatus.DONE, 1)
    assert not storage.exists(name)


def test_uploaded_files_are_private_with_a_random_name_outside_media_root(settings: Any) -> None:
    job, _columns, _preview, _count = importer.import_job_create(
        uploaded=upload("email\nx@example.org\n", name="our-readers.csv"), acting_user=None
    )
    path = Path(job.file.path)
    assert path.exists() and job.filename == "our-readers.csv"
    assert "our-readers" not in path.name
    assert Path(settings.MEDIA_ROOT) not in path.parents
    with pytest.raises(ValueError):
        job.file.url  # noqa: B018


def test_uploads_nobody_confirmed_within_a_day_lose_their_file(django_capture_on_commit_callbacks: Any) -> None:
    old, _columns, _preview, _count = importer.import_job_create(
        uploaded=upload("email\nold@example.org\n"), acting_user=None
    )
    name, storage = str(old.file.name), old.file.storage
    ImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        fresh, _columns, _preview, _count = importer.import_job_create(
            uploaded=upload("email\nnew@example.org\n"), acting_user=None
        )
    old.refresh_from_db()
    assert old.status == ImportStatus.FAILED and "Not confirmed within a day" in old.error
    assert not storage.exists(name) and not old.file
    assert fresh.status == ImportStatus.UPLOADED and storage.exists(str(fresh.file.name))


@pytest.mark.parametrize("name", ["Eve\u2028Bcc: x@example.org", "N" * 101])
def test_a_name_with_a_line_separator_or_too_long_is_rejected(name: str) -> None:
    job = run(f'email,name\nx@example.org,"{name}"\n')
    assert job.rejected == 1 and job.report[0]["reason"].startswith("Invalid name:")
    assert not Subscriber.objects.exists()


@pytest.mark.integration
def test_a_real_worker_on_redis_runs_the_confirmed_import(celery_worker: Any) -> None:
    job, _columns, _preview, _count = importer.import_job_create(
        uploaded=upload("email,name\nw1@example.org,W\nnot-an-address,X\n"), acting_user=None
    )
    importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    deadline = time.monotonic() + 30
    while ImportJob.objects.get(pk=job.pk).status == ImportStatus.QUEUED and time.monotonic() < deadline:
        time.sleep(0.1)
    job.refresh_from_db()
    assert (job.status, job.added, job.rejected) == (ImportStatus.DONE, 1, 1)
    assert Subscriber.objects.get().status == SubscriberStatus.ACTIVE


# --- in chunks: each task run imports IMPORT_CHUNK_ROWS rows and queues the next ---------------

CHUNKED = (
    "email,name\n"
    "c1@example.org,One\n"  # line 2
    "c2@example.org,Two\n"
    "not-an-address,Bad\n"
    "\n"  # a blank line counts for nothing
    "blocked@example.org,Blocked\n"  # 6
    "C1@example.org,Again\n"  # 7: a duplicate of line 2, in a later chunk
    "c3@example.org,Three\n"
    "c4@example.org,Four\n"
)


def queued(content: str) -> ImportJob:
    job, _columns, _preview, _count = importer.import_job_create(uploaded=upload(content), acting_user=None)
    assert importer.import_job_queue(job=job, consent_basis=ConsentBasis.DOUBLE_OPT_IN, lists=[])
    return job


def test_an_import_of_several_chunks_completes_with_the_right_counts(settings: Any) -> None:
    settings.IMPORT_CHUNK_ROWS = 3
    suppression_add(email="blocked@example.org", reason=Suppression.Reason.HARD_BOUNCE)
    job = queued(CHUNKED)
    assert run_to_the_end(job.pk) == 3  # 8 records after the header, 3 per run
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and not job.file
    assert (job.total_rows, job.added, job.updated, job.skipped, job.rejected) == (7, 4, 0, 0, 3)
    assert reasons(job) == {
        4: "Invalid address: “not-an-address” is not an email address.",
        6: "Suppressed address: never imported.",
        7: "Duplicate: the address is earlier in the file.",
    }
    assert job.reasons == {"Invalid address": 1, "Suppressed address": 1, "Duplicate": 1}
    assert dict(Subscriber.objects.values_list("email", "name")) == {
        "c1@example.org": "One",
        "c2@example.org": "Two",
        "c3@example.org": "Three",
        "c4@example.org": "Four",
    }
    assert Consent.objects.count() == 4
    assert not ImportJobAddress.objects.exists(), "the job's address hashes go when it ends"


def test_the_progress_page_counts_the_rows_of_the_chunks_done(settings: Any) -> None:
    settings.IMPORT_CHUNK_ROWS = 3
    job = queued(CHUNKED)
    importer.import_job_run(job_id=job.pk, offset=0)
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED and job.rows_read == 3
    assert importer.import_job_progress(job=job) == 3
    run_to_the_end(job.pk)
    job.refresh_from_db()
    assert importer.import_job_progress(job=job) is None


def test_a_redelivered_chunk_does_not_double_count(settings: Any) -> None:
    settings.IMPORT_CHUNK_ROWS = 3
    job = queued(CHUNKED)
    assert importer.import_job_run(job_id=job.pk, offset=0) is not None
    first = ImportJob.objects.values("rows_read", "added", "rejected").get(pk=job.pk)
    # The same message again (a worker died after the commit, before the ack): nothing happens.
    assert importer.import_job_run(job_id=job.pk, offset=0) is None
    assert ImportJob.objects.values("rows_read", "added", "rejected").get(pk=job.pk) == first
    run_to_the_end(job.pk)
    job.refresh_from_db()
    assert (job.added, job.rejected) == (5, 2)
    assert Subscriber.objects.count() == 5 and Consent.objects.count() == 5


def test_a_chunk_that_dies_part_way_stores_nothing_of_it_and_is_done_again_whole(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IMPORT_CHUNK_ROWS = 3
    job = queued(CHUNKED)
    importer.import_job_run(job_id=job.pk, offset=0)
    real = importer._process

    def worker_killed(ctx: Any, chunk: list) -> None:
        real(ctx, chunk)
        raise SystemExit("killed")  # as a killed worker: nothing after this point commits

    monkeypatch.setattr(importer, "_process", worker_killed)
    with pytest.raises(SystemExit):
        importer.import_job_run(job_id=job.pk, offset=3)
    job.refresh_from_db()
    assert (job.rows_read, Subscriber.objects.count()) == (3, 2)
    monkeypatch.setattr(importer, "_process", real)
    run_to_the_end(job.pk)
    job.refresh_from_db()
    assert (job.status, job.added, job.rejected) == (ImportStatus.DONE, 5, 2)
    assert Subscriber.objects.count() == 5 and Consent.objects.count() == 5


def test_the_chunks_run_through_the_queue_one_after_the_other(
    settings: Any, celery_eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    settings.IMPORT_CHUNK_ROWS = 2
    with django_capture_on_commit_callbacks(execute=True):
        queued(CHUNKED)
    job = ImportJob.objects.get()
    assert (job.status, job.added, job.rejected, job.rows_read) == (ImportStatus.DONE, 5, 2, 8)


def test_a_bad_byte_in_a_later_chunk_fails_the_job_and_says_what_was_imported(settings: Any) -> None:
    settings.IMPORT_CHUNK_ROWS = 2
    job = queued("email\na@example.org\nb@example.org\nc@example.org\n")
    importer.import_job_run(job_id=job.pk, offset=0)
    late = SimpleUploadedFile("late.csv", "email\na@example.org\nb@example.org\nZoë\n".encode("latin-1"))
    job.file.save("late.csv", late, save=False)
    ImportJob.objects.filter(pk=job.pk).update(file=job.file.name)
    importer.import_job_run(job_id=job.pk, offset=2)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "not UTF-8" in job.error
    assert "(2 rows) were imported" in job.error and "the rest of the file was not" in job.error
    assert Subscriber.objects.count() == 2 and not ImportJobAddress.objects.exists()


def test_the_import_task_has_the_normal_time_limit(settings: Any) -> None:
    from newsroom.celery import app
    from subscribers.tasks import import_job_run_task

    # No override of its own: every run is one chunk, inside the limit every task has.
    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert import_job_run_task.time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert import_job_run_task.soft_time_limit == settings.CELERY_TASK_TIME_LIMIT - 5


def test_a_chunk_stopped_at_the_soft_time_limit_fails_the_job_with_what_to_do(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    from subscribers.tasks import import_job_run_task

    settings.IMPORT_CHUNK_ROWS = 3
    job = queued(CHUNKED)
    import_job_run_task.run(job.pk, 0)
    real = importer._process

    def slow(ctx: Any, chunk: list) -> None:
        real(ctx, chunk)
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(importer, "_process", slow)
    import_job_run_task.run(job.pk, 3)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "set IMPORT_CHUNK_ROWS lower" in job.error
    assert "(3 rows) were imported" in job.error and Subscriber.objects.count() == 2


def test_our_own_export_of_an_inactive_reader_imports_as_inactive() -> None:
    from subscribers.export import HEADER

    kept = make_confirmed_reader(email="kept@example.org")
    Subscriber.objects.filter(pk=kept.pk).update(status=SubscriberStatus.INACTIVE)
    row = {"email": "new@example.org", "name": "New", "status": "inactive", "source": "form", "lists": ""}
    line = ",".join(row.get(column, "") for column in HEADER)
    again = ",".join({**row, "email": kept.email}.get(column, "") for column in HEADER)
    job = run(",".join(HEADER) + "\n" + line + "\n" + again + "\n")
    assert job.status == ImportStatus.DONE
    assert Subscriber.objects.get(email="new@example.org").status == SubscriberStatus.INACTIVE
    assert Subscriber.objects.get(pk=kept.pk).status == SubscriberStatus.INACTIVE
