"""Reading import files, whatever the record: `.jsonl`, `.csv` and `.xlsx`.

    for line, row in read_rows(path):
        if "_error" in row: report(line, row["_error"])   # a line that could not be read
        else: ...                                          # row: {lower-case column name: value}

CSV and JSON Lines are read by market/admin/importing.py (UTF-8 with or without BOM, or GB18030 as
Excel saves it); this module adds Excel workbooks (first sheet, first row is the header) and the one
(line, row) shape. A file that cannot be read at all raises ImportFileError with a Chinese reason.
"""
from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from .admin.importing import MAX_BYTES, ImportFileError
from .admin.importing import read_rows as _read_text_rows

SUFFIXES = (".jsonl", ".csv", ".xlsx")

__all__ = ["ImportFileError", "read_rows", "cell_text"]


def read_rows(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) for every non-blank record, in file order.

    JSONL values keep their JSON types (a list stays a list); CSV and Excel values are text ('' when
    empty). Keys are stripped and lower-cased. Raises ImportFileError before yielding anything when
    the file's type, size, encoding or structure is wrong.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportFileError("仅支持 .jsonl、.csv 或 .xlsx 文件")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFileError("无法读取文件") from exc
    if size > MAX_BYTES:
        raise ImportFileError("文件过大（超过50MB）")
    if suffix == ".xlsx":
        rows = _read_xlsx(path)
    else:
        rows = []
        for row in _read_text_rows(path):
            line = int(row.pop("_line"))
            rows.append((line, row))
    return iter(rows)


def _read_xlsx(path: Path) -> list[tuple[int, dict]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, TypeError) as exc:
        raise ImportFileError("无法读取该 Excel 文件，请确认是 .xlsx 格式且未加密") from exc
    try:
        if not workbook.worksheets:
            raise ImportFileError("Excel 文件中没有工作表")
        values = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(values, None)
        columns = [cell_text(c).lower() for c in (header or ())]
        if not any(columns):
            raise ImportFileError("第1行应为列名（表头），例如 external_id、title")
        rows: list[tuple[int, dict]] = []
        for line, cells in enumerate(values, start=2):
            texts = [cell_text(c) for c in cells]
            if not any(texts):
                continue
            rows.append((line, {name: (texts[i] if i < len(texts) else "") for i, name in enumerate(columns) if name}))
    finally:
        workbook.close()
    if not rows:
        raise ImportFileError("文件中没有数据行")
    return rows


def cell_text(value) -> str:
    """A spreadsheet cell as the text a person typed: 12.0 -> '12', dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value).strip()
