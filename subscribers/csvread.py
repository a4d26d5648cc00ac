"""Reading a readers' CSV file: encoding, separator, header and one Row per record.

Any size of file is read as a stream (csv over an incremental decoder); a
broken record or an invalid address or name goes to the Report with its line,
never stops the file. subscribers/importer.py stores what this reads.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError

from core.csvwrite import unquote_cell
from subscribers.normalise import clean_name, normalise_email
from subscribers.platforms import Layout, email_position, has_email_column
from subscribers.timezones import zone_check

REPORT_ROW_LIMIT = 2000


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported (header, encoding); nothing is stored."""


@dataclass
class Row:
    line: int
    email: str
    name: str
    lists: list[str]
    tags: list[str]
    # From a platform's export (subscribers/platforms.py): its status word, the reader's
    # original opt-in date, where they came from, and raw custom-field values by key.
    status: str = ""
    consented_at: datetime.datetime | None = None
    origin: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    time_zone: str = ""


@dataclass
class Report:
    total: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def note(self, *, line: int, email: str, outcome: str, reason: str) -> None:
        if outcome == "skipped":
            self.skipped += 1
        else:
            self.rejected += 1
        # "Invalid address: “x” is not …" counts under "Invalid address", for every row (the list keeps the first).
        self.reasons[reason.split(":", 1)[0].rstrip(".")] += 1
        if len(self.rows) < REPORT_ROW_LIMIT:
            self.rows.append({"line": line, "email": email[:254], "outcome": outcome, "reason": reason})


def _raw(handle: Any) -> IO[bytes]:
    # Django's File, FieldFile and UploadedFile wrap the real file object.
    while not isinstance(handle, io.IOBase) and hasattr(handle, "file"):
        handle = handle.file
    return handle  # type: ignore[no-any-return]


_SNIFF_BYTES = 4096
DELIMITERS = (",", ";", "\t")


def _encoding(raw: IO[bytes]) -> str:
    """UTF-8 (with or without BOM), or UTF-16 when the file starts with its byte-order mark.

    Anything else is read as strict UTF-8 so that a Latin-1 or Windows-1252
    file is refused with a message rather than imported with mangled names.
    """
    start = raw.read(_SNIFF_BYTES)
    raw.seek(0)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if start.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            "This is a spreadsheet workbook (.xlsx), not a CSV file. In your spreadsheet choose "
            "“Save As”, then “CSV UTF-8”, and upload that file."
        )
    if b"\x00" in start:
        raise ImportFileError(
            "The file contains NUL bytes: it is not a text file, or it is UTF-16 without a byte-order mark. "
            "Save it as “CSV UTF-8” and upload it again."
        )
    return "utf-8-sig"


def _delimiter(first_line: str) -> str:
    """Comma, semicolon (spreadsheets in many European locales) or tab: whichever gives an email column."""
    for delimiter in DELIMITERS:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        if has_email_column(column.strip().lower() for column in header):
            return delimiter
    return ","


@contextmanager
def csv_reader(handle: Any) -> Iterator[Any]:
    """A csv reader over the decoded file, read incrementally; strict decoding stops at a bad byte."""
    raw = _raw(handle)
    encoding = _encoding(raw)
    text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
    try:
        first = text.readline()
        lines = itertools.chain([first], text) if first else iter(())
        yield csv.reader(lines, delimiter=_delimiter(first))
    except UnicodeDecodeError:
        raise _decoding_error(raw, encoding) from None
    finally:
        text.detach()  # leave the underlying file open for its owner


def read_header(reader: Any) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty: it needs a header row with an “email” column.") from None
    columns = [column.strip().lower() for column in header]
    if not has_email_column(columns):
        found = ", ".join(f"“{c}”" for c in columns if c) or "nothing"
        raise ImportFileError(
            f"The header row must have an “email” column (or a platform's own: “Email Address”, “email_address”); "
            f"found {found}."
        )
    if len(set(columns)) != len(columns):
        raise ImportFileError("The header row names a column twice.")
    return columns


def _decoding_error(raw: IO[bytes], encoding: str) -> ImportFileError:
    if encoding == "utf-16":
        return ImportFileError(
            "The file starts like UTF-16 text but is not. Save it as “CSV UTF-8” and upload it again."
        )
    # The decoder reads ahead in blocks, so find the line again: the first one that is not UTF-8.
    raw.seek(0)
    line = next((n for n, data in enumerate(raw, start=1) if not _is_utf8(data)), 0)
    return ImportFileError(
        f"The file is not UTF-8 text: line {line} has a byte that is not UTF-8 (Latin-1 or Windows-1252 "
        "perhaps). Save it as “CSV UTF-8” and upload it again."
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def inspect_file(binary: IO[bytes], *, preview_rows: int = 10) -> tuple[list[str], list[list[str]], int]:
    """Check a whole file (header, encoding) without storing anything.

    Returns the columns, the first rows for a preview and the number of data rows.
    Raises ImportFileError with a message for the editor.
    """
    with csv_reader(binary) as reader:
        return _inspect(reader, preview_rows)


def _inspect(reader: Any, preview_rows: int) -> tuple[list[str], list[list[str]], int]:
    columns = read_header(reader)
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
    return columns, preview, count


def read_records(reader: Any) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """Every record after the header with its line: the row's cells, or the csv.Error that broke it."""
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, error
            continue
        yield reader.line_num, raw


def parse_record(
    line: int, raw: list[str] | csv.Error, columns: list[str], layout: Layout, report: Report
) -> Row | None:
    """A record as a Row; a broken or invalid one goes to the report (None). Blank lines count for nothing."""
    if isinstance(raw, csv.Error):
        report.total += 1
        report.note(line=line, email="", outcome="rejected", reason=f"Broken row: {raw}.")
        return None
    if not raw:
        return None
    report.total += 1
    if len(raw) != len(columns):
        at = email_position(columns)
        address = raw[at] if len(raw) > at else ""
        reason = f"Broken row: {len(raw)} fields where the header has {len(columns)}."
        report.note(line=line, email=address, outcome="rejected", reason=reason)
        return None
    # unquote_cell: a file we exported carries formula-like cells behind an apostrophe.
    record = layout.record(raw, lambda value: unquote_cell(value.strip()))
    if record.refused:
        report.note(line=line, email=record.email, outcome="rejected", reason=record.refused)
        return None
    try:
        email = normalise_email(record.email)
    except ValidationError as error:
        report.note(line=line, email=record.email, outcome="rejected", reason=f"Invalid address: {error.messages[0]}")
        return None
    try:
        name = clean_name(record.name)
    except ValidationError as error:
        report.note(line=line, email=email, outcome="rejected", reason=f"Invalid name: {error.messages[0]}")
        return None
    try:
        time_zone = zone_check(record.time_zone)
    except ValidationError as error:
        report.note(line=line, email=email, outcome="rejected", reason=f"Invalid time zone: {error.messages[0]}")
        return None
    return Row(
        line=line,
        email=email,
        name=name,
        lists=record.lists,
        tags=[tag[:60] for tag in record.tags],
        status=record.status,
        consented_at=record.consented_at,
        origin=record.origin[:200],
        attributes={key: value for key, value in record.attributes.items() if value},
        time_zone=time_zone,
    )
