"""The one CSV writer every download uses (readers' export, analytics tables)."""

from __future__ import annotations

import csv
import io

from core.csvwrite import csv_lines, csv_response, safe_cell, unquote_cell


def test_numbers_stay_numbers_and_text_that_starts_like_a_formula_stays_text() -> None:
    lines = "".join(csv_lines([["=HYPERLINK(1)", -3, 0.5, None, "\uff5ccmd", "plain"]]))
    assert next(csv.reader(io.StringIO(lines))) == ["'=HYPERLINK(1)", "-3", "0.5", "", "'\uff5ccmd", "plain"]


def test_every_guarded_cell_reads_back_exactly() -> None:
    for value in ["=1+2@example.org", "'=1+2@example.org", "|x", "@sum", "ok", "'plain"]:
        assert unquote_cell(safe_cell(value)) == value


def test_the_download_names_its_file_and_streams_guarded_rows() -> None:
    response = csv_response([["a", "+1"]], "figures.csv")
    assert response["Content-Disposition"] == 'attachment; filename="figures.csv"'
    assert b"".join(response.streaming_content).decode() == "a,'+1\r\n"  # type: ignore[arg-type]
