"""Reading an uploaded table (CSV in UTF-8 or GB18030, or XLSX) into rows of named cells.

Headers may be the exchange keys or their Chinese data-element names (`exchange.py`), so that
what our own exports write, in either language, reads back."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook

from app.errors import Invalid
from app.integrations.national.exchange import Field

MAX_ROWS = 50_000


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(raw: bytes) -> Iterable[Sequence[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return list(csv.reader(io.StringIO(text)))
    raise Invalid("无法识别文件编码 / the CSV is neither UTF-8 nor GB18030", code="bad_encoding")


def _xlsx_rows(raw: bytes) -> Iterable[Sequence[Any]]:
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception:
        raise Invalid(
            "无法读取该 XLSX 文件 / not a readable XLSX workbook", code="bad_file"
        ) from None
    sheet = book.worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def read_table(
    raw: bytes, filename: str, fields: Sequence[Field]
) -> list[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, {exchange key: cell}) for each non-empty row."""
    is_xlsx = filename.lower().endswith(".xlsx") or raw[:2] == b"PK"
    rows = list(_xlsx_rows(raw) if is_xlsx else _csv_rows(raw))
    if not rows:
        raise Invalid("文件为空 / the file is empty", code="empty_file")
    names = {f.key: f.key for f in fields} | {f.zh: f.key for f in fields}
    header = [names.get(_cell(h), "") for h in rows[0]]
    if not any(header):
        raise Invalid(
            "表头无法识别 / no known column headers (use the export's English or Chinese names)",
            code="bad_header",
        )
    if len(rows) - 1 > MAX_ROWS:
        raise Invalid(f"超过{MAX_ROWS}行 / more than {MAX_ROWS} rows", code="too_many_rows")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {key: _cell(value) for key, value in zip(header, row, strict=False) if key}
        if any(cells.values()):
            out.append((number, cells))
    return out
