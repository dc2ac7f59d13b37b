"""A table of the log as CSV bytes a spreadsheet opens as it is: UTF-8 with a byte-order
mark, one header row, CRLF line ends; a text cell a spreadsheet would run as a formula is
written with a leading apostrophe (CSV injection). The command line writes these bytes and
Slack uploads the same ones."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Spreadsheets run a cell beginning with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One CSV cell: JSON for structures, the text otherwise; a text that a spreadsheet
    would evaluate is quoted with an apostrophe (numbers stay numbers)."""
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif value is None:
        text = ""
    else:
        text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
    return out.getvalue()


def csv_bytes(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    return csv_text(columns, rows).encode("utf-8-sig")
