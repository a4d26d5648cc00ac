"""Streaming CSV import of readers, in bounded steps.

The file is read row by row through csv over an incremental UTF-8 decoder and
handled in batches (one query per batch for existing readers and
suppressions, bulk writes). A queued job is imported in chunks of
IMPORT_CHUNK_ROWS rows, one task run each, so that every run stays far inside
CELERY_TASK_TIME_LIMIT: a run locks the job, skips the rows earlier runs
took (job.rows_read), imports the next chunk, stores its rows, counts and the
new offset in one transaction, and queues the next chunk after the commit. A
run that dies stores nothing of its chunk, so the redelivered task does the
same chunk again; a task for an offset already done does nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from core.events import EventName, emit_many
from core.queue import enqueue_on_commit
from subscribers import platforms
from subscribers.csvread import (
    ImportFileError,
    Report,
    Row,
    csv_reader,
    inspect_file,
    parse_record,
    read_header,
    read_records,
)
from subscribers.fields import field_parse
from subscribers.models import (
    Consent,
    ConsentBasis,
    CustomField,
    ImportJob,
    ImportJobAddress,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
    SubscriberTag,
    Suppression,
    email_hash,
)

CHUNK_SIZE = 1000
UNCONFIRMED_KEPT = datetime.timedelta(days=1)
# Statuses a platform's export may give that stop a reader being active; each maps to ours.
_NOT_ACTIVE = {
    platforms.UNSUBSCRIBED: SubscriberStatus.UNSUBSCRIBED,
    platforms.BOUNCED: SubscriberStatus.BOUNCED,
    platforms.COMPLAINED: SubscriberStatus.COMPLAINED,
}
_SUPPRESS_FOR: dict[str, str] = {
    SubscriberStatus.BOUNCED: Suppression.Reason.HARD_BOUNCE,
    SubscriberStatus.COMPLAINED: Suppression.Reason.COMPLAINT,
}


def file_layout(columns: list[str]) -> platforms.Layout:
    """How this file's columns are read: the platform it came from and the custom fields it carries."""
    return platforms.layout_for(columns, CustomField.objects.values_list("key", flat=True))


def _digest(email: str) -> str:
    return hashlib.blake2b(email.lower().encode(), digest_size=10).hexdigest()


class _Context:
    """What one import run remembers between chunks (small: digests, lists, tags)."""

    def __init__(self, job: ImportJob, report: Report) -> None:
        self.job = job
        self.report = report
        self.now = timezone.now()
        self.activate = job.consent_basis not in ("", ConsentBasis.NONE)
        self.basis_text = ConsentBasis(job.consent_basis).label if job.consent_basis else ""
        self.seen: set[str] = set()
        self.fresh: list[str] = []
        self.job_list_ids = list(job.lists.values_list("pk", flat=True))
        self.lists: dict[str, int] = {}
        for item in MailingList.objects.all():
            self.lists[item.slug.lower()] = item.pk
            self.lists[item.name.lower()] = item.pk
        self.tags: dict[str, int] = {tag.name.lower(): tag.pk for tag in SubscriberTag.objects.all()}
        self.fields = {f.key: f for f in CustomField.objects.all()}
        self.platform = ""

    def attributes(self, row: Row) -> dict[str, Any]:
        """The row's custom-field values, parsed; ValidationError names the first bad one."""
        return {
            key: value
            for key, raw in row.attributes.items()
            if key in self.fields and (value := field_parse(self.fields[key], raw)) is not None
        }

    def remember_earlier_chunks(self, chunk: list[Row]) -> None:
        """Add the addresses of ``chunk`` that earlier chunks of this job took to what this run has seen."""
        digests = {_digest(row.email) for row in chunk}
        taken = ImportJobAddress.objects.filter(job=self.job, digest__in=digests).values_list("digest", flat=True)
        self.seen.update(taken)

    def first_time(self, email: str) -> bool:
        digest = _digest(email)
        if digest in self.seen:
            return False
        self.seen.add(digest)
        self.fresh.append(digest)
        return True

    def store_seen(self) -> None:
        """Record the addresses this batch took, for the chunks after it."""
        rows = [ImportJobAddress(job=self.job, digest=digest) for digest in self.fresh]
        ImportJobAddress.objects.bulk_create(rows, ignore_conflicts=True)
        self.fresh = []

    def tag_id(self, name: str) -> int:
        key = name.lower()
        if key not in self.tags:
            tag, _created = SubscriberTag.objects.get_or_create(name=name[:60])
            self.tags[key] = tag.pk
        return self.tags[key]


def _process(ctx: _Context, chunk: list[Row]) -> None:
    report = ctx.report
    ctx.remember_earlier_chunks(chunk)
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
        try:
            row.parsed = ctx.attributes(row)  # type: ignore[attr-defined]
        except ValidationError as error:
            report.note(line=row.line, email=row.email, outcome="rejected", reason=f"Invalid {error.messages[0]}")
            continue
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
    ctx.store_seen()
    Subscriber.objects.bulk_create([s for _row, s in new])
    if changed:
        Subscriber.objects.bulk_update(
            [s for _row, s in changed],
            ["name", "status", "confirmed_at", "unsubscribed_at", "attributes", "time_zone"],
        )
    _suppress(new + changed, platform=ctx.platform)
    report.added += len(new)
    report.updated += len(changed)
    _relations(ctx, new + changed)
    emit_many(
        EventName.SUBSCRIBER_CREATED,
        [{"subscriber_id": s.pk, "form": f"import #{ctx.job.pk}", "status": s.status} for _row, s in new],
    )
    opted_out = [s for _row, s in changed if getattr(s, "_opted_out", False)]
    emit_many(
        EventName.SUBSCRIBER_UNSUBSCRIBED,
        [{"subscriber_id": s.pk, "via": f"import #{ctx.job.pk}"} for s in opted_out if s.status == "unsubscribed"],
    )
    consents = [(row, s) for row, s in new] + [(row, s) for row, s in changed if getattr(s, "_activated", False)]
    Consent.objects.bulk_create(
        [
            Consent(
                subscriber=s,
                action=Consent.Action.IMPORT,
                form=f"{ctx.platform} import #{ctx.job.pk} ({ctx.job.filename[:40]}), line {row.line}"[:100],
                text=_consent_text(ctx, row),
            )
            for row, s in consents
        ]
    )


def _consent_text(ctx: _Context, row: Row) -> str:
    """The basis the editor stated, and what the platform knew: the original opt-in date and source."""
    lines = [ctx.basis_text] if ctx.basis_text else []
    if row.consented_at is not None:
        lines.append(f"Originally opted in at {row.consented_at.isoformat()} ({ctx.platform}).")
    if row.origin:
        lines.append(f"Source: {row.origin}.")
    if row.status in _NOT_ACTIVE:
        lines.append(f"{ctx.platform} listed this address as {row.status}: not imported as active.")
    return "\n".join(lines)


def _suppress(pairs: list[tuple[Row, Subscriber]], *, platform: str) -> None:
    """Addresses a platform says bounced or complained are suppressed here too, for good."""
    rows = [
        Suppression(
            email_hash=email_hash(s.email), email=s.email.lower(), reason=_SUPPRESS_FOR[s.status], detail=platform
        )
        for _row, s in pairs
        if s.status in _SUPPRESS_FOR
    ]
    Suppression.objects.bulk_create(rows, ignore_conflicts=True)


def _may_activate(ctx: _Context, row: Row) -> bool:
    # A stated basis makes a reader active, unless their platform had them pending (never confirmed).
    return ctx.activate and row.status not in _NOT_ACTIVE and row.status not in (platforms.PENDING, platforms.INACTIVE)


def _new_subscriber(ctx: _Context, row: Row) -> Subscriber:
    subscriber = Subscriber(
        email=row.email,
        name=row.name,
        source=SubscriberSource.IMPORT,
        status=SubscriberStatus.PENDING,
        attributes=row.parsed,  # type: ignore[attr-defined]
        time_zone=row.time_zone,
    )
    if row.status in _NOT_ACTIVE:
        subscriber.status = _NOT_ACTIVE[row.status]
        subscriber.unsubscribed_at = ctx.now if row.status == platforms.UNSUBSCRIBED else None
    elif row.status == platforms.INACTIVE:
        # Our own export of a reader a sunset policy moved: they stay out of sends here too
        # (an existing reader's status is left as it is: the file proves nothing new).
        subscriber.status = SubscriberStatus.INACTIVE
    elif _may_activate(ctx, row):
        subscriber.status = SubscriberStatus.ACTIVE
        # The date the reader opted in on their platform, not the day of the move.
        subscriber.confirmed_at = row.consented_at or ctx.now
    return subscriber


def _update_subscriber(ctx: _Context, row: Row, subscriber: Subscriber) -> Subscriber:
    if row.name:
        subscriber.name = row.name
    if row.time_zone:
        subscriber.time_zone = row.time_zone
    subscriber.attributes = {**(subscriber.attributes or {}), **row.parsed}  # type: ignore[attr-defined]
    if row.status in _NOT_ACTIVE:
        # An opt-out or a bounce on the old platform is honoured here too.
        subscriber.status = _NOT_ACTIVE[row.status]
        if row.status == platforms.UNSUBSCRIBED:
            subscriber.unsubscribed_at = ctx.now
        subscriber._opted_out = True  # type: ignore[attr-defined]
    elif subscriber.status == SubscriberStatus.PENDING and _may_activate(ctx, row):
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.confirmed_at = row.consented_at or ctx.now
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
    if not tag_rows:
        return
    had = set(
        tag_through.objects.filter(subscriber_id__in={r.subscriber_id for r in tag_rows}).values_list(
            "subscriber_id", "subscribertag_id"
        )
    )
    tag_through.objects.bulk_create(tag_rows, ignore_conflicts=True)
    emit_many(
        EventName.SUBSCRIBER_TAGGED,
        [
            {"subscriber_id": reader, "tag_id": tag, "via": "import"}
            for reader, tag in dict.fromkeys((r.subscriber_id, r.subscribertag_id) for r in tag_rows)
            if (reader, tag) not in had
        ],
    )


def import_job_create(*, uploaded: Any, acting_user: Any) -> tuple[ImportJob, list[str], list[list[str]], int]:
    """Store an uploaded file for preview after checking its header and encoding.

    On a bad file nothing is stored and ImportFileError says why.
    """
    columns, preview, count = inspect_file(uploaded)
    uploaded.seek(0)
    import_jobs_forget_unconfirmed()
    job = ImportJob.objects.create(
        file=uploaded, filename=uploaded.name[:255], created_by=acting_user, total_rows=count
    )
    return job, columns, preview, count


def import_jobs_forget_unconfirmed(*, older_than: datetime.timedelta = UNCONFIRMED_KEPT) -> int:
    """Delete the files of uploads nobody confirmed within a day; they hold readers' addresses.

    Runs on every upload, so no schedule is needed. Returns how many jobs were closed.
    """
    cutoff = timezone.now() - older_than
    closed = 0
    for job in ImportJob.objects.filter(status=ImportStatus.UPLOADED, created_at__lt=cutoff):
        with transaction.atomic():
            if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.UPLOADED).update(
                status=ImportStatus.FAILED,
                error="Not confirmed within a day; the uploaded file was deleted. Nothing was imported.",
                finished_at=timezone.now(),
            ):
                continue
            _delete_file_after_commit(job)
            job.save(update_fields=["file"])
            closed += 1
    return closed


@transaction.atomic
def import_job_delete(*, job: ImportJob) -> None:
    """Delete a job and, once that commits, its uploaded file (readers' addresses) if it still has one."""
    _delete_file_after_commit(job)
    job.delete()


def import_job_preview(*, job: ImportJob) -> tuple[list[str], list[list[str]], int]:
    with job.file.open("rb") as handle:
        return inspect_file(handle)


def import_job_progress(*, job: ImportJob) -> int | None:
    """Rows read so far by a running import (each chunk commits its rows and counts); None once it ended."""
    if job.status != ImportStatus.QUEUED:
        return None
    return job.added + job.updated + job.skipped + job.rejected


@transaction.atomic
def import_job_queue(*, job: ImportJob, consent_basis: str, lists: list[MailingList]) -> bool:
    """The editor confirmed the preview: record their choices and queue the import, once.

    Returns False if the job was already queued or finished (a second click changes nothing).
    If the task queue is down the job goes back to uploaded (so Import can be pressed
    again) and TaskQueueUnavailable is raised after the commit.
    """
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED, consent_basis=consent_basis
    )
    if not claimed:
        return False
    job.lists.set(lists)
    job_id = job.pk

    def not_queued() -> None:
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(status=ImportStatus.UPLOADED)

    enqueue_on_commit(lambda: _enqueue(job_id, 0), on_failure=not_queued)
    return True


def _enqueue(job_id: int, offset: int) -> None:
    from subscribers.tasks import import_job_run_task

    import_job_run_task.delay(job_id, offset)


def _delete_file_after_commit(job: ImportJob) -> None:
    # The uploaded file is personal data; once imported (or refused), the report is what is kept.
    name, storage = job.file.name, job.file.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))
    job.file = None  # type: ignore[assignment]


def import_job_fail(*, job_id: int, reason: str) -> None:
    """End a queued job as failed with ``reason`` and what its earlier chunks stored."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id, status=ImportStatus.QUEUED).first()
        if job is None:
            return
        _delete_file_after_commit(job)
        ImportJobAddress.objects.filter(job=job).delete()
        job.status = ImportStatus.FAILED
        job.error = f"{reason} {_what_was_stored(job)}"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at", "file"])


def _what_was_stored(job: ImportJob) -> str:
    if not job.rows_read:
        return "Nothing was imported."
    return (
        f"The rows before the failed part ({job.rows_read} rows) were imported, with the counts shown; "
        "the rest of the file was not."
    )


def _report_of(job: ImportJob) -> Report:
    """The report so far: what the earlier chunks of this job counted."""
    return Report(
        added=job.added,
        updated=job.updated,
        skipped=job.skipped,
        rejected=job.rejected,
        rows=list(job.report),
        reasons=Counter(job.reasons),
    )


def _import_chunk(job: ImportJob, report: Report) -> bool:
    """Import the next IMPORT_CHUNK_ROWS records after job.rows_read; True if the file is done."""
    ctx = _Context(job, report)
    batch: list[Row] = []
    with job.file.open("rb") as handle, csv_reader(handle) as reader:
        columns = read_header(reader)
        layout = file_layout(columns)
        ctx.platform = layout.platform.label
        records = read_records(reader)
        for _skipped in itertools.islice(records, job.rows_read):
            pass  # taken by earlier chunks
        for line, raw in itertools.islice(records, settings.IMPORT_CHUNK_ROWS):
            job.rows_read += 1
            row = parse_record(line, raw, columns, layout, report)
            if row is not None:
                batch.append(row)
            if len(batch) >= CHUNK_SIZE:
                _process(ctx, batch)
                batch = []
        if batch:
            _process(ctx, batch)
        return next(records, None) is None


def _store_report(job: ImportJob, report: Report, *, finished: bool) -> None:
    job.added, job.updated, job.skipped, job.rejected = report.added, report.updated, report.skipped, report.rejected
    job.report = sorted(report.rows, key=lambda row: row["line"])
    job.reasons = dict(report.reasons.most_common())
    if finished:
        _delete_file_after_commit(job)
        ImportJobAddress.objects.filter(job=job).delete()
        job.status = ImportStatus.DONE
        job.finished_at = timezone.now()
        job.total_rows = report.added + report.updated + report.skipped + report.rejected
    job.save()


def import_job_run(*, job_id: int, offset: int | None = None) -> ImportJob | None:
    """Import the next chunk of a queued job's file; queue the chunk after it, or finish the job.

    Safe to run twice (the queue delivers at least once): the job row is locked
    for the chunk, only a queued job is imported, and a task for ``offset``
    (the job's rows_read when it was queued) does nothing once that chunk is
    done. A worker that dies part-way stores nothing of its chunk, and the
    redelivered task does it again. A bad file (encoding, header) or a reader
    who subscribed with an address of the chunk while it ran fails the job with
    a message saying what earlier chunks stored. Returns the job, or None if
    there was nothing to do.
    """
    try:
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().filter(pk=job_id, status=ImportStatus.QUEUED).first()
            if job is None or (offset is not None and offset != job.rows_read):
                return None
            report = _report_of(job)
            finished = _import_chunk(job, report)
            _store_report(job, report, finished=finished)
            if not finished:
                next_offset = job.rows_read
                enqueue_on_commit(lambda: _enqueue(job_id, next_offset))
    except ImportFileError as error:
        import_job_fail(job_id=job_id, reason=error.messages[0])
    except OSError as error:
        # A worker on another machine than the upload sees no file unless MEDIA_ROOT is shared.
        import_job_fail(
            job_id=job_id, reason=f"The worker could not read the uploaded file ({error.strerror or error})."
        )
    except IntegrityError:
        import_job_fail(
            job_id=job_id,
            reason="An address in the file was added by someone else while the import ran; upload the file again.",
        )
    return ImportJob.objects.filter(pk=job_id).first()
