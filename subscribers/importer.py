"""Streaming CSV import of readers.

The file is read row by row through csv over an incremental UTF-8 decoder and
handled in chunks (one query per chunk for existing readers and suppressions,
bulk writes), all inside one transaction, so a 100,000-row file neither loads
into memory nor stores half on a fatal error.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from subscribers.models import (
    Consent,
    ConsentBasis,
    ImportJob,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
    SubscriberTag,
    Suppression,
    email_hash,
)
from subscribers.normalise import normalise_email

CHUNK_SIZE = 1000
REPORT_ROW_LIMIT = 2000
KNOWN_COLUMNS = ("email", "name", "lists", "tags")
MULTI_VALUE_SEPARATOR = ";"


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported (header, encoding); nothing is stored."""


@dataclass
class Row:
    line: int
    email: str
    name: str
    lists: list[str]
    tags: list[str]


@dataclass
class Report:
    total: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)

    def note(self, *, line: int, email: str, outcome: str, reason: str) -> None:
        if outcome == "skipped":
            self.skipped += 1
        else:
            self.rejected += 1
        if len(self.rows) < REPORT_ROW_LIMIT:
            self.rows.append({"line": line, "email": email[:254], "outcome": outcome, "reason": reason})


def _raw(handle: Any) -> IO[bytes]:
    # Django's File, FieldFile and UploadedFile wrap the real file object.
    while not isinstance(handle, io.IOBase) and hasattr(handle, "file"):
        handle = handle.file
    return handle  # type: ignore[no-any-return]


@contextmanager
def _text(handle: Any) -> Iterator[io.TextIOWrapper]:
    """Decode incrementally; strict, so a non UTF-8 byte stops the import."""
    text = io.TextIOWrapper(_raw(handle), encoding="utf-8-sig", errors="strict", newline="")
    try:
        yield text
    finally:
        text.detach()  # leave the underlying file open for its owner


def _header(reader: Any) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty: it needs a header row with an “email” column.") from None
    columns = [column.strip().lower() for column in header]
    if "email" not in columns:
        found = ", ".join(f"“{c}”" for c in columns if c) or "nothing"
        raise ImportFileError(f"The header row must have an “email” column; found {found}.")
    if len(set(columns)) != len(columns):
        raise ImportFileError("The header row names a column twice.")
    return columns


def _decoding_error(error: UnicodeDecodeError, line: int) -> ImportFileError:
    return ImportFileError(
        f"The file is not UTF-8 text (an undecodable byte near line {line}). "
        "Save it as “CSV UTF-8” and upload it again. Nothing was imported."
    )


def inspect_file(binary: IO[bytes], *, preview_rows: int = 10) -> tuple[list[str], list[list[str]], int]:
    """Check a whole file (header, encoding) without storing anything.

    Returns the columns, the first rows for a preview and the number of data rows.
    Raises ImportFileError with a message for the editor.
    """
    with _text(binary) as text:
        return _inspect(csv.reader(text), preview_rows)


def _inspect(reader: Any, preview_rows: int) -> tuple[list[str], list[list[str]], int]:
    try:
        columns = _header(reader)
        preview: list[list[str]] = []
        count = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                count += 1
                continue
            if not row:
                continue
            count += 1
            if len(preview) < preview_rows:
                preview.append(row)
    except UnicodeDecodeError as error:
        raise _decoding_error(error, reader.line_num + 1) from None
    return columns, preview, count


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(MULTI_VALUE_SEPARATOR) if part.strip()]


def _rows(binary: IO[bytes], report: Report) -> Iterator[Row]:
    """Parsed rows; broken and invalid ones go straight to the report."""
    with _text(binary) as text:
        yield from _parse(csv.reader(text), report)


def _parse(reader: Any, report: Report) -> Iterator[Row]:
    columns = _header(reader)
    index = {name: columns.index(name) for name in KNOWN_COLUMNS if name in columns}
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            report.total += 1
            report.note(line=reader.line_num, email="", outcome="rejected", reason=f"Broken row: {error}.")
            continue
        except UnicodeDecodeError as error:
            raise _decoding_error(error, reader.line_num + 1) from None
        if not raw:
            continue
        report.total += 1
        line = reader.line_num
        if len(raw) != len(columns):
            cell = raw[index["email"]] if len(raw) > index["email"] else ""
            reason = f"Broken row: {len(raw)} fields where the header has {len(columns)}."
            report.note(line=line, email=cell, outcome="rejected", reason=reason)
            continue

        def cell(name: str, raw: list[str] = raw) -> str:
            return raw[index[name]].strip() if name in index else ""

        try:
            email = normalise_email(cell("email"))
        except ValidationError as error:
            report.note(
                line=line, email=cell("email"), outcome="rejected", reason=f"Invalid address: {error.messages[0]}"
            )
            continue
        name = cell("name")
        if any(ord(ch) < 32 for ch in name) or len(name) > 100:
            report.note(
                line=line, email=email, outcome="rejected", reason="Invalid name: line breaks or over 100 characters."
            )
            continue
        yield Row(line=line, email=email, name=name, lists=_split(cell("lists")), tags=_split(cell("tags")))


class _Context:
    """What one import run remembers between chunks (small: digests, lists, tags)."""

    def __init__(self, job: ImportJob, report: Report) -> None:
        self.job = job
        self.report = report
        self.now = timezone.now()
        self.activate = job.consent_basis not in ("", ConsentBasis.NONE)
        self.basis_text = ConsentBasis(job.consent_basis).label if job.consent_basis else ""
        self.seen: set[bytes] = set()
        self.job_list_ids = list(job.lists.values_list("pk", flat=True))
        self.lists: dict[str, int] = {}
        for item in MailingList.objects.all():
            self.lists[item.slug.lower()] = item.pk
            self.lists[item.name.lower()] = item.pk
        self.tags: dict[str, int] = {tag.name.lower(): tag.pk for tag in SubscriberTag.objects.all()}

    def first_time(self, email: str) -> bool:
        digest = hashlib.blake2b(email.lower().encode(), digest_size=10).digest()
        if digest in self.seen:
            return False
        self.seen.add(digest)
        return True

    def tag_id(self, name: str) -> int:
        key = name.lower()
        if key not in self.tags:
            tag, _created = SubscriberTag.objects.get_or_create(name=name[:60])
            self.tags[key] = tag.pk
        return self.tags[key]


def _process(ctx: _Context, chunk: list[Row]) -> None:
    report = ctx.report
    suppressed = set(
        Suppression.objects.filter(email_hash__in=[email_hash(r.email) for r in chunk]).values_list(
            "email_hash", flat=True
        )
    )
    existing = {
        s.email.lower(): s
        for s in Subscriber.objects.annotate(lower_email=Lower("email")).filter(
            lower_email__in=[r.email.lower() for r in chunk]
        )
    }
    new: list[tuple[Row, Subscriber]] = []
    changed: list[tuple[Row, Subscriber]] = []
    for row in chunk:
        unknown = [name for name in row.lists if name.lower() not in ctx.lists]
        if unknown:
            report.note(
                line=row.line, email=row.email, outcome="rejected", reason=f"Unknown list: {', '.join(unknown)}."
            )
        elif email_hash(row.email) in suppressed:
            report.note(
                line=row.line, email=row.email, outcome="rejected", reason="Suppressed address: never imported."
            )
        elif not ctx.first_time(row.email):
            report.note(
                line=row.line,
                email=row.email,
                outcome="rejected",
                reason="Duplicate: the address is earlier in the file.",
            )
        elif (found := existing.get(row.email.lower())) is None:
            new.append((row, _new_subscriber(ctx, row)))
        elif found.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
            reason = f"Already known as {found.get_status_display().lower()}: left as it is."
            report.note(line=row.line, email=row.email, outcome="skipped", reason=reason)
        else:
            changed.append((row, _update_subscriber(ctx, row, found)))
    Subscriber.objects.bulk_create([s for _row, s in new])
    if changed:
        Subscriber.objects.bulk_update([s for _row, s in changed], ["name", "status", "confirmed_at"])
    report.added += len(new)
    report.updated += len(changed)
    _relations(ctx, new + changed)
    consents = [(row, s) for row, s in new] + [(row, s) for row, s in changed if getattr(s, "_activated", False)]
    Consent.objects.bulk_create(
        [
            Consent(
                subscriber=s,
                action=Consent.Action.IMPORT,
                form=f"CSV import #{ctx.job.pk} ({ctx.job.filename[:60]}), line {row.line}",
                text=ctx.basis_text,
            )
            for row, s in consents
        ]
    )


def _new_subscriber(ctx: _Context, row: Row) -> Subscriber:
    return Subscriber(
        email=row.email,
        name=row.name,
        source=SubscriberSource.IMPORT,
        status=SubscriberStatus.ACTIVE if ctx.activate else SubscriberStatus.PENDING,
        confirmed_at=ctx.now if ctx.activate else None,
    )


def _update_subscriber(ctx: _Context, row: Row, subscriber: Subscriber) -> Subscriber:
    if row.name:
        subscriber.name = row.name
    if subscriber.status == SubscriberStatus.PENDING and ctx.activate:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.confirmed_at = ctx.now
        subscriber._activated = True  # type: ignore[attr-defined]
    return subscriber


def _relations(ctx: _Context, pairs: list[tuple[Row, Subscriber]]) -> None:
    list_through = Subscriber.lists.through
    tag_through = Subscriber.tags.through
    list_rows = []
    tag_rows = []
    for row, subscriber in pairs:
        list_ids = set(ctx.job_list_ids) | {ctx.lists[name.lower()] for name in row.lists}
        list_rows += [list_through(subscriber_id=subscriber.pk, mailinglist_id=pk) for pk in list_ids]
        tag_rows += [tag_through(subscriber_id=subscriber.pk, subscribertag_id=ctx.tag_id(n)) for n in row.tags]
    list_through.objects.bulk_create(list_rows, ignore_conflicts=True)
    tag_through.objects.bulk_create(tag_rows, ignore_conflicts=True)


def import_job_create(*, uploaded: Any, acting_user: Any) -> tuple[ImportJob, list[str], list[list[str]], int]:
    """Store an uploaded file for preview after checking its header and encoding.

    On a bad file nothing is stored and ImportFileError says why.
    """
    columns, preview, count = inspect_file(uploaded)
    uploaded.seek(0)
    job = ImportJob.objects.create(
        file=uploaded, filename=uploaded.name[:255], created_by=acting_user, total_rows=count
    )
    return job, columns, preview, count


def import_job_preview(*, job: ImportJob) -> tuple[list[str], list[list[str]], int]:
    with job.file.open("rb") as handle:
        return inspect_file(handle)


def _forget_file(job: ImportJob) -> None:
    # The uploaded file is personal data; once imported, the report is what is kept.
    job.file.delete(save=False)


def import_job_run(*, job: ImportJob, consent_basis: str, lists: list[MailingList]) -> ImportJob:
    """Import every row of the job's file in one transaction and store the report on the job."""
    job.consent_basis = consent_basis
    job.save(update_fields=["consent_basis"])
    job.lists.set(lists)
    report = Report()
    try:
        with transaction.atomic(), job.file.open("rb") as handle:
            ctx = _Context(job, report)
            chunk: list[Row] = []
            for row in _rows(handle, report):
                chunk.append(row)
                if len(chunk) >= CHUNK_SIZE:
                    _process(ctx, chunk)
                    chunk = []
            if chunk:
                _process(ctx, chunk)
    except ImportFileError as error:
        job.status = ImportStatus.FAILED
        job.error = error.messages[0]
        job.finished_at = timezone.now()
        _forget_file(job)
        job.save(update_fields=["status", "error", "finished_at", "file"])
        return job
    _forget_file(job)
    job.status = ImportStatus.DONE
    job.finished_at = timezone.now()
    job.total_rows, job.added, job.updated = report.total, report.added, report.updated
    job.skipped, job.rejected = report.skipped, report.rejected
    job.report = sorted(report.rows, key=lambda row: row["line"])
    job.save()
    return job
