"""Reading import files, whatever the record: `.jsonl`, `.csv` and `.xlsx`, and the report every import returns.

    rows = read_rows(path, layout=CONTRACTS)                 # or read_rows(payload, name="合同.xlsx", ...)
    for line, row in rows:
        if "_error" in row: report.bad.append(BadRow(line, "", row["_error"]))  # a line that could not be read
        else: ...                                                               # {column key: value}

One reader serves every kind (regions, achievements, demands, contracts); a `Layout` says what differs: the file
types allowed, the column names and which are required, whether GB18030 is read, the row limit. Each kind keeps
its own row checks. Shared rules:
- keys are stripped and lower-cased; a layout with columns maps header texts (English keys or the Chinese template
  headers) to its keys and drops spreadsheet columns it does not know (a notes column), while a JSON key it does not
  know is kept so that the kind's check can report the typo. JSON keys starting with "_" are dropped ("_error" is
  ours);
- CSV and Excel values are text ('' when empty); JSON values keep their types, except that numbers with a fraction
  or exponent are exact `Decimal`s (never floats) and NaN/Infinity stay text;
- text loses what no database column holds (NUL and other control characters, lone surrogates);
- a blank line or row is skipped, the numbering goes on; a file with no data row is refused.
A file that cannot be read at all raises ImportFileError with a Chinese reason, before any row is returned.

The all-or-nothing rule is the kind's to apply, with `ImportReport`: check every row first; when any row is bad,
store nothing (`report.stored` False) unless skip_bad, which stores the good rows.
"""
from __future__ import annotations

import csv
import io
import json
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from .errors import DomainError

MAX_BYTES = 50 * 1024 * 1024

__all__ = ["ANY", "ImportFileError", "Layout", "BadRow", "ImportReport", "read_rows", "cell_text", "clean_text"]

#: What the reader says, keyed; a layout may word some of them its own way.
TEXTS = {
    "type": "仅支持 {suffixes} 文件",
    "unreadable": "无法读取文件",
    "size": "文件过大（超过50MB）",
    "rows": "一次最多导入{max_rows}行，请拆分文件",
    "encoding": "文件编码无法识别，请保存为 UTF-8 编码",
    "empty": "文件中没有数据行",
    "no_rows": "文件中没有数据行",
    "no_header": "第1行应为列名（表头），例如 external_id、title",
    "missing": "表头缺少列：{columns}",
    "csv_header": "第1行无法解析：{error}",
    "csv_row": "无法解析：{error}",
    "json": "不是有效的 JSON",
    "object": "每行应为一个 JSON 对象",
    "excel": "无法读取该 Excel 文件，请确认是 .xlsx 格式且未加密",
    "no_sheet": "Excel 文件中没有工作表",
}


class ImportFileError(DomainError):
    """The file as a whole cannot be read (wrong type, size, encoding, missing columns, no rows)."""


@dataclass(frozen=True)
class Layout:
    """What one kind of import expects of a file."""

    suffixes: tuple[str, ...] = (".jsonl", ".csv", ".xlsx")
    #: header text (lower-case, no spaces) -> key; None keeps every column under its lower-cased name
    columns: Mapping[str, str] | None = None
    #: keys that a CSV or Excel header must name
    required: tuple[str, ...] = ()
    #: how a missing required key is named in the message (default: the key itself)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: also read GB18030 (what Excel on a Chinese Windows saves as CSV); otherwise UTF-8 only
    gb18030: bool = True
    max_rows: int | None = None
    texts: Mapping[str, str] = field(default_factory=dict)

    def say(self, key: str, **values) -> str:
        return self.texts.get(key, TEXTS[key]).format(**values)

    def key(self, header) -> str | None:
        """The key a CSV or Excel header cell stands for; None for a column to drop."""
        text = cell_text(header).lower()
        if self.columns is None:
            return text or None
        return self.columns.get("".join(text.split()))

    def json_key(self, name: str) -> str:
        text = clean_text(name).strip().lower()
        if self.columns is None:
            return text
        return self.columns.get("".join(text.split()), text)


ANY = Layout()


@dataclass
class BadRow:
    line: int
    ref: str  # the row's own identifier as typed (registration number, external_id, region code), or ""
    reason: str


@dataclass
class ImportReport:
    """What an import did. `stored` is False when nothing was written (a bad row without skip_bad): roll back."""

    total: int = 0
    bad: list[BadRow] = field(default_factory=list)
    stored: bool = False

    @property
    def skipped(self) -> int:
        """Bad rows left out of a file whose good rows were stored."""
        return len(self.bad) if self.stored else 0

    def sort(self) -> None:
        self.bad.sort(key=lambda b: b.line)


# --- reading -------------------------------------------------------------------------------------

def read_rows(source: str | Path | bytes, *, name: str = "", layout: Layout = ANY) -> list[tuple[int, dict]]:
    """(line number, row) for every non-blank record, in file order; {"_error": reason} for an unreadable line.

    `source` is a path, or the file's bytes with its `name` (an upload). Raises ImportFileError when the file's
    type, size, encoding or header is wrong, or when it holds no data row.
    """
    name = name or (str(source) if not isinstance(source, bytes) else "")
    suffix = Path(name).suffix.lower()
    if suffix not in layout.suffixes:
        shown = "、".join(layout.suffixes[:-1]) + " 或 " + layout.suffixes[-1] if len(layout.suffixes) > 1 else layout.suffixes[0]
        raise ImportFileError(layout.say("type", suffixes=shown))
    if isinstance(source, bytes):
        payload = source
    else:
        try:
            if Path(source).stat().st_size > MAX_BYTES:
                raise ImportFileError(layout.say("size"))
            payload = Path(source).read_bytes()
        except OSError as exc:
            raise ImportFileError(layout.say("unreadable")) from exc
    if len(payload) > MAX_BYTES:
        raise ImportFileError(layout.say("size"))
    reader = {".jsonl": _jsonl_rows, ".csv": _csv_rows, ".xlsx": _xlsx_rows}[suffix]
    rows: list[tuple[int, dict]] = []
    for line, row in reader(payload, layout):
        rows.append((line, row))
        if layout.max_rows is not None and len(rows) > layout.max_rows:
            raise ImportFileError(layout.say("rows", max_rows=layout.max_rows))
    if not rows:
        raise ImportFileError(layout.say("no_rows"))
    return rows


def _decode(payload: bytes, layout: Layout) -> str:
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if layout.gb18030:
            try:
                return payload.decode("gb18030")
            except UnicodeDecodeError:
                pass
        raise ImportFileError(layout.say("encoding")) from exc


def _jsonl_rows(payload: bytes, layout: Layout):
    for number, line in enumerate(_decode(payload, layout).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal, parse_constant=str)
        except (ValueError, RecursionError):  # RecursionError: brackets nested past Python's limit
            yield number, {"_error": layout.say("json")}
            continue
        if not isinstance(value, dict):
            yield number, {"_error": layout.say("object")}
            continue
        yield number, {layout.json_key(str(k)): clean_cell(v) for k, v in value.items() if not str(k).startswith("_")}


def _mapping(header, layout: Layout) -> dict[int, str]:
    """Column index -> key, the first column of a key winning; refuses a header without the required keys."""
    mapping: dict[int, str] = {}
    for index, cell in enumerate(header or ()):
        key = layout.key(cell)
        if key and key not in mapping.values():
            mapping[index] = key
    missing = [layout.labels.get(k, k) for k in layout.required if k not in mapping.values()]
    if missing:
        raise ImportFileError(layout.say("missing", columns="、".join(missing)))
    if not mapping:
        raise ImportFileError(layout.say("no_header"))
    return mapping


def _csv_rows(payload: bytes, layout: Layout):
    reader = csv.reader(io.StringIO(_decode(payload, layout), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(layout.say("empty")) from None
    except csv.Error as exc:
        raise ImportFileError(layout.say("csv_header", error=exc)) from exc
    mapping = _mapping(header, layout)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, {"_error": layout.say("csv_row", error=exc)}
            continue
        if any(v.strip() for v in values):
            yield reader.line_num, {key: cell_text(values[i]) if i < len(values) else "" for i, key in mapping.items()}


def _xlsx_rows(payload: bytes, layout: Layout):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, TypeError) as exc:
        raise ImportFileError(layout.say("excel")) from exc
    try:
        if not workbook.worksheets:
            raise ImportFileError(layout.say("no_sheet"))
        values = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            raise ImportFileError(layout.say("empty"))
        mapping = _mapping(header, layout)
        for number, cells in enumerate(values, start=2):
            texts = [cell_text(c) for c in cells]
            if any(texts):
                yield number, {key: texts[i] if i < len(texts) else "" for i, key in mapping.items()}
    finally:
        workbook.close()


# --- cells ---------------------------------------------------------------------------------------

def clean_text(text: str) -> str:
    """Drop what no database column should hold: NUL and other control characters (but newline and tab), lone
    surrogates."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs"))


def clean_cell(value):
    """A JSON value with its text cleaned, lists included; numbers, booleans and None as they are."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_cell(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_cell(v) for k, v in value.items()}
    return value


def cell_text(value) -> str:
    """A cell as the text a person typed: 12.0 -> '12', dates as YYYY-MM-DD, cleaned and stripped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel numbers are doubles: their shortest repr is the typed text for up to 15 digits
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return clean_text(str(value)).strip()
