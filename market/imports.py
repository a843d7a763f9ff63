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

Every file is bounded before and while it is read (`Limits`, from the IMPORT_MAX_* settings in market/config.py),
so that no file within the upload size costs more than a legitimate import of the largest size allowed:
- the file's size; at most IMPORT_MAX_ROWS records after the header, blank ones included: reading stops at the
  first record over the limit, whatever the file declares;
- CSV and JSONL are read as a stream of lines, none (nor any CSV record) longer than IMPORT_MAX_LINE_BYTES;
- an .xlsx is refused before it is parsed when its zip holds more than 1,000 entries (from the zip's end record),
  when its parts would inflate past IMPORT_MAX_INFLATED_BYTES, when a part over 1 MB is compressed more than
  IMPORT_MAX_COMPRESSION_RATIO times (a zip bomb), when its workbook lists more than 256 sheets, or when its
  first sheet's <dimension> declares more rows or columns than allowed. Then openpyxl reads it in read-only
  (streaming) mode, through streams (`_Part`) that count the bytes actually inflated and refuse, before the XML
  parser sees them, a DTD (<!DOCTYPE, <!ENTITY: entity expansion) or any encoding but UTF-8; keep each worksheet
  row and each shared string within IMPORT_MAX_LINE_BYTES; keep the parts openpyxl turns into objects within
  4 MB and 4,096 tags. The shared-string table stops at (rows + 1) x columns entries; the styles are read only
  for which cells are dates. As if every shared string were written out in its cells: a cell holds at most
  32,767 characters (Excel's limit), a row IMPORT_MAX_LINE_BYTES characters, the sheet
  IMPORT_MAX_INFLATED_BYTES characters.

The all-or-nothing rule is the kind's to apply, with `ImportReport`: check every row first; when any row is bad,
store nothing (`report.stored` False) unless skip_bad, which stores the good rows.
"""
from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import json
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import ParseError

from .config import IMPORT_LIMITS
from .errors import DomainError

__all__ = ["ANY", "ImportFileError", "Layout", "Limits", "BadRow", "ImportReport", "read_rows", "cell_text",
           "clean_text"]

#: What the reader says, keyed; a layout may word some of them its own way.
TEXTS = {
    "type": "仅支持 {suffixes} 文件",
    "unreadable": "无法读取文件",
    "size": "文件过大（超过{limit}）",
    "rows": "一次最多导入{max_rows}行（空行也计入），请拆分文件",
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
    "line": "第{line}行超过{limit}（每行的上限），请检查文件",
    "columns": "表头有{columns}列，超过上限{max_columns}列，请删除多余的列",
    "dimension": "工作表声明的范围 {ref} 有{rows}行、{columns}列，超过导入上限（最多{max_rows}行数据加1行表头、{max_columns}列），"
                 "请删除多余的行和列，或拆分文件",
    "inflated": "Excel 文件解压后超过{limit}（解压后大小的上限），请删除多余的工作表、格式或图片，或拆分文件",
    "ratio": "Excel 文件中的“{part}”压缩比超过{ratio}倍（压缩比的上限），疑为恶意文件，已拒绝",
    "sheet_row": "工作表第{line}行附近的内容超过{limit}（每行的上限），请删除多余的列或格式",
    "sheet_cells": "工作表第{line}行附近有超过{max_columns}个单元格（列数上限），请删除多余的列或格式",
    "part": "Excel 文件中的“{part}”解压后超过{limit}（样式、工作簿等部件的上限），请清除多余的格式",
    "strings": "Excel 文件的共享文本超过{limit}条（上限为 行数上限加1 乘以 列数上限），请只保留要导入的工作表",
    "string_bytes": "Excel 文件的第{index}条共享文本超过{limit}（每条文本的上限），请检查文件",
    "string_chars": "Excel 文件的第{index}条共享文本超过{max_chars}个字符（Excel 每个单元格的上限），请检查文件",
    "cell_chars": "工作表第{line}行有单元格超过{max_chars}个字符（Excel 每个单元格的上限），请检查文件",
    "row_chars": "工作表第{line}行的文本共超过{limit}个字符（每行的上限），请检查文件",
    "sheet_chars": "工作表的文本共超过{limit}个字符（整个工作表的上限），请删除重复的长文本或拆分文件",
    "dtd": "Excel 文件中的“{part}”含有 DTD 声明（<!DOCTYPE>、<!ENTITY> 等，Excel 不会写入），疑为恶意文件，已拒绝",
    "xml_encoding": "Excel 文件中的“{part}”不是 UTF-8 编码的 XML（Excel 只写 UTF-8），已拒绝",
    "part_markup": "Excel 文件中的“{part}”超过{limit}个 XML 标记（样式、工作簿、关系等部件的上限），请删除多余的工作表、名称或格式",
    "entries": "Excel 文件中的部件超过{limit}个（部件数的上限），请删除多余的工作表、图片或另存为新文件",
    "sheets": "Excel 文件有{sheets}个工作表，超过上限{limit}个，请删除多余的工作表",
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


# --- limits --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """How much of a file an import reads (IMPORT_MAX_* in market/config.py; see the module docstring)."""

    rows: int = IMPORT_LIMITS["IMPORT_MAX_ROWS"]
    columns: int = IMPORT_LIMITS["IMPORT_MAX_COLUMNS"]
    file_bytes: int = IMPORT_LIMITS["IMPORT_MAX_FILE_BYTES"]
    inflated_bytes: int = IMPORT_LIMITS["IMPORT_MAX_INFLATED_BYTES"]
    compression_ratio: int = IMPORT_LIMITS["IMPORT_MAX_COMPRESSION_RATIO"]
    line_bytes: int = IMPORT_LIMITS["IMPORT_MAX_LINE_BYTES"]

    @classmethod
    def current(cls) -> Limits:
        """The running app's settings; the defaults outside an app (scripts, fuzz harnesses)."""
        from flask import current_app, has_app_context

        if not has_app_context():
            return cls()
        config = current_app.config
        return cls(**{name: int(config.get(key, IMPORT_LIMITS[key])) for name, key in _SETTINGS.items()})

    @property
    def shared_strings(self) -> int:
        """The most distinct texts the cells of a sheet within the limits can refer to."""
        return (self.rows + 1) * self.columns


_SETTINGS = {"rows": "IMPORT_MAX_ROWS", "columns": "IMPORT_MAX_COLUMNS", "file_bytes": "IMPORT_MAX_FILE_BYTES",
             "inflated_bytes": "IMPORT_MAX_INFLATED_BYTES", "compression_ratio": "IMPORT_MAX_COMPRESSION_RATIO",
             "line_bytes": "IMPORT_MAX_LINE_BYTES"}
_RATIO_FLOOR = 1024 * 1024  # parts up to 1 MB inflated may be compressed any amount: they cost nothing
_CHUNK = 64 * 1024


def size_text(n: int) -> str:
    """A byte count as a person reads it: 52428800 -> '50MB', 131072 -> '128KB'."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f}{unit}" if value == int(value) or value >= 100 else f"{value:.1f}{unit}"
    return f"{n}字节"


# --- reading -------------------------------------------------------------------------------------

def read_rows(source: str | Path | bytes, *, name: str = "", layout: Layout = ANY) -> list[tuple[int, dict]]:
    """(line number, row) for every non-blank record, in file order; {"_error": reason} for an unreadable line.

    `source` is a path, or the file's bytes with its `name` (an upload). Raises ImportFileError when the file's
    type, size, encoding or header is wrong, when it is over a limit (`Limits`), or when it holds no data row.
    """
    name = name or (str(source) if not isinstance(source, bytes) else "")
    suffix = Path(name).suffix.lower()
    if suffix not in layout.suffixes:
        shown = "、".join(layout.suffixes[:-1]) + " 或 " + layout.suffixes[-1] if len(layout.suffixes) > 1 else layout.suffixes[0]
        raise ImportFileError(layout.say("type", suffixes=shown))
    limits = Limits.current()
    most = min(layout.max_rows, limits.rows) if layout.max_rows is not None else limits.rows
    open_file = _opener(source, layout, limits)
    if suffix == ".xlsx":
        return _collect(_xlsx_rows(open_file, layout, limits, most), layout, most)
    reader = _jsonl_rows if suffix == ".jsonl" else _csv_rows
    return _collect(reader(open_file, layout, limits, _encoding(open_file, layout, limits)), layout, most)


def _collect(records: Iterator[tuple[int, dict | None]], layout: Layout, most: int) -> list[tuple[int, dict]]:
    """The non-blank rows of a reader that yields every record (None for a blank one); stops at record most + 1."""
    rows: list[tuple[int, dict]] = []
    with closing(records):
        for count, (line, row) in enumerate(records, start=1):
            if count > most:
                raise ImportFileError(layout.say("rows", max_rows=most))
            if row is not None:
                rows.append((line, row))
    if not rows:
        raise ImportFileError(layout.say("no_rows"))
    return rows


def _opener(source: str | Path | bytes, layout: Layout, limits: Limits) -> Callable[[], BinaryIO]:
    """A function opening the file from its start (an encoding is tried again from the start)."""
    if isinstance(source, bytes):
        if len(source) > limits.file_bytes:
            raise ImportFileError(layout.say("size", limit=size_text(limits.file_bytes)))
        return lambda: io.BytesIO(source)
    try:
        if Path(source).stat().st_size > limits.file_bytes:
            raise ImportFileError(layout.say("size", limit=size_text(limits.file_bytes)))
        Path(source).open("rb").close()
    except OSError as exc:
        raise ImportFileError(layout.say("unreadable")) from exc
    return lambda: open(source, "rb")  # noqa: SIM115 - closed by the reader


def _chunks(stream: BinaryIO, layout: Layout, limits: Limits) -> Iterator[bytes]:
    """The stream in chunks, refused once more than IMPORT_MAX_FILE_BYTES came (a file growing, a pipe)."""
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > limits.file_bytes:
            raise ImportFileError(layout.say("size", limit=size_text(limits.file_bytes)))
        yield chunk


def _encoding(open_file, layout: Layout, limits: Limits) -> str:
    """UTF-8 (with or without a BOM), else GB18030 when the layout reads it (what Excel on a Chinese Windows
    saves). The whole file is decoded once first, so that a bad byte anywhere is reported as the encoding it
    is, not as whatever the lines before it say."""
    for encoding in ("utf-8", "gb18030") if layout.gb18030 else ("utf-8",):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open_file() as stream:
                for chunk in _chunks(stream, layout, limits):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError(layout.say("encoding"))


def _lines(stream: BinaryIO, layout: Layout, limits: Limits) -> Iterator[tuple[int, bytes]]:
    """(number, bytes) of each line with its ending (\\n, \\r\\n or \\r, as universal newlines split them).

    Reads in chunks: a line longer than IMPORT_MAX_LINE_BYTES is refused once that much of it was read.
    """
    most, number, tail = limits.line_bytes, 0, b""
    for chunk in itertools.chain(_chunks(stream, layout, limits), [b""]):
        data = tail + chunk
        held = b""
        if chunk and data.endswith(b"\r"):  # the LF of a CRLF may begin the next chunk
            data, held = data[:-1], b"\r"
        start = 0
        for end in _line_ends(data):
            number += 1
            if end - start > most + 2:
                raise ImportFileError(layout.say("line", line=number, limit=size_text(most)))
            yield number, data[start:end]
            start = end
        tail = data[start:] + held
        if len(tail) > most + 2:
            raise ImportFileError(layout.say("line", line=number + 1, limit=size_text(most)))
    if tail:
        yield number + 1, tail


_EOL = re.compile(rb"\r\n|\r|\n")


def _line_ends(data: bytes) -> Iterator[int]:
    return (m.end() for m in _EOL.finditer(data))


def _decode(raw: bytes, encoding: str, first: bool) -> str:
    text = raw.decode(encoding)  # checked by _encoding
    return text.removeprefix("\ufeff") if first and encoding == "utf-8" else text


def _jsonl_rows(open_file, layout: Layout, limits: Limits, encoding: str):
    with open_file() as stream:
        for number, raw in _lines(stream, layout, limits):
            line = _decode(raw, encoding, number == 1).rstrip("\r\n")
            if not line.strip():
                yield number, None
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


def _csv_rows(open_file, layout: Layout, limits: Limits, encoding: str):
    record_bytes = [0]  # of the record being read: a quoted field may run over many lines

    def text_lines(stream):
        for number, raw in _lines(stream, layout, limits):
            record_bytes[0] += len(raw)
            if record_bytes[0] > limits.line_bytes + 2:
                raise ImportFileError(layout.say("line", line=number, limit=size_text(limits.line_bytes)))
            yield _decode(raw, encoding, number == 1)

    with open_file() as stream:
        reader = csv.reader(text_lines(stream))
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFileError(layout.say("empty")) from None
        except csv.Error as exc:
            raise ImportFileError(layout.say("csv_header", error=exc)) from exc
        if len(header) > limits.columns:
            raise ImportFileError(layout.say("columns", columns=len(header), max_columns=limits.columns))
        mapping = _mapping(header, layout)
        while True:
            record_bytes[0] = 0
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, {"_error": layout.say("csv_row", error=exc)}
                continue
            if any(v.strip() for v in values):
                yield reader.line_num, {key: cell_text(values[i]) if i < len(values) else "" for i, key in mapping.items()}
            else:
                yield reader.line_num, None


# --- .xlsx ---------------------------------------------------------------------------------------

_EXCEL_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, KeyError, IndexError, ValueError,
                 TypeError, AttributeError, OSError, ParseError, NotImplementedError, RuntimeError)


def _xlsx_rows(open_file, layout: Layout, limits: Limits, most: int):
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        archive = _Archive(open_file(), layout=layout, limits=limits)
    except (*_EXCEL_ERRORS, InvalidFileException) as exc:
        raise ImportFileError(layout.say("excel")) from exc
    with archive:
        try:
            archive.check_declared_sizes()
            reader = _workbook_reader_class()(archive, limits)
            sheet = reader.first_worksheet()
            if sheet is None:
                raise ImportFileError(layout.say("no_sheet"))
            _check_dimension(archive, sheet, layout, limits, most)
            worksheet = reader.load_first_worksheet()
        except (*_EXCEL_ERRORS, InvalidFileException) as exc:
            raise ImportFileError(layout.say("excel")) from exc
        # rows and columns bounded here, whatever the sheet declares: openpyxl stops parsing after max_row
        values = worksheet.iter_rows(max_row=most + 2, max_col=limits.columns, values_only=True)
        try:
            header = next(values, None)
            if header is None:
                raise ImportFileError(layout.say("empty"))
            characters = _CellCharacters(layout, limits)
            characters.check(1, header)
            mapping = _mapping(header, layout)
            for number, cells in enumerate(values, start=2):
                characters.check(number, cells)
                if cells.count(None) == len(cells):
                    yield number, None
                    continue
                texts = {i: cell_text(cells[i]) if i < len(cells) else "" for i in mapping}
                if any(texts.values()) or any(cell_text(c) for c in cells if c is not None):
                    yield number, {key: texts[i] for i, key in mapping.items()}
                else:
                    yield number, None
        except _EXCEL_ERRORS as exc:
            raise ImportFileError(layout.say("excel")) from exc


_MAX_ENTRIES = 1000  # zip entries (parts, folders) an .xlsx may hold; Excel writes a few dozen
_CENTRAL_ENTRY_BYTES = 256  # what one entry of the zip's central directory may take, on average
_MAX_SHEETS = 256  # <sheet> elements in the workbook
_MAX_CELL_CHARS = 32_767  # characters in one cell or shared string: Excel's own limit
_OTHER_PART_MARKUP = 4096  # '<' in a part openpyxl turns into objects (the manifest, relationships, the workbook)
_STYLES_MARKUP = 131_072  # '<' in the styles part (Excel keeps at most 65,490 cell formats)


class _CellCharacters:
    """The text a sheet's cells hold, bounded as if every cell were written out in the sheet (a shared string
    is stored once but may be referred to by every cell): each cell at most _MAX_CELL_CHARS characters, a
    row at most IMPORT_MAX_LINE_BYTES in total, the sheet at most IMPORT_MAX_INFLATED_BYTES."""

    def __init__(self, layout: Layout, limits: Limits):
        self.layout = layout
        self.row_most = limits.line_bytes
        self.sheet_most = self.left = limits.inflated_bytes

    def check(self, line: int, cells: tuple) -> None:
        sizes = [len(c) for c in cells if isinstance(c, str)]
        if not sizes:
            return
        if max(sizes) > _MAX_CELL_CHARS:
            raise ImportFileError(self.layout.say("cell_chars", line=line, max_chars=f"{_MAX_CELL_CHARS:,}"))
        total = sum(sizes)
        if total > self.row_most:
            raise ImportFileError(self.layout.say("row_chars", line=line, limit=f"{self.row_most:,}"))
        self.left -= total
        if self.left < 0:
            raise ImportFileError(self.layout.say("sheet_chars", limit=f"{self.sheet_most:,}"))


class _Archive(zipfile.ZipFile):
    """An .xlsx whose parts are all read through `_Part` streams, which count what they inflate.

    The zip's own directory is bounded first (from its end record, before zipfile parses it): at most
    _MAX_ENTRIES entries, at most _CENTRAL_ENTRY_BYTES each on average."""

    def __init__(self, file: BinaryIO, *, layout: Layout, limits: Limits):
        end = zipfile._EndRecData(file)  # zipfile's own reader of the end record (zip64 included); None: not a zip
        if end is not None and (end[zipfile._ECD_ENTRIES_TOTAL] > _MAX_ENTRIES
                                or end[zipfile._ECD_SIZE] > _MAX_ENTRIES * _CENTRAL_ENTRY_BYTES):
            file.close()
            raise ImportFileError(layout.say("entries", limit=f"{_MAX_ENTRIES:,}"))
        file.seek(0)
        super().__init__(file)
        if len(self.filelist) > _MAX_ENTRIES:  # an end record that understates its entries
            file.close()
            raise ImportFileError(layout.say("entries", limit=f"{_MAX_ENTRIES:,}"))
        self.layout = layout
        self.limits = limits
        self.sheet_part: str | None = None  # the worksheet read, once found
        self._inflated: dict[str, int] = {}  # part -> the most bytes any one read of it inflated
        self._total = 0

    def check_declared_sizes(self) -> None:
        """Refuse before anything is parsed: the parts' declared sizes, together and each against its zipped size."""
        limits = self.limits
        if sum(info.file_size for info in self.infolist()) > limits.inflated_bytes:
            raise ImportFileError(self.layout.say("inflated", limit=size_text(limits.inflated_bytes)))
        for info in self.infolist():
            if info.file_size > _RATIO_FLOOR and info.file_size > limits.compression_ratio * info.compress_size:
                part = clean_text(info.filename)[-60:]
                raise ImportFileError(self.layout.say("ratio", part=part, ratio=limits.compression_ratio))

    def open(self, name, mode="r", pwd=None, *, force_zip64=False, kind: str | None = None):
        """`kind` says how the reader parses the part: "strings" (read_strings), "styles" (_date_styles); by
        default the worksheet found (`sheet_part`) is a "sheet", and any other part one that openpyxl turns
        into objects whole ("other")."""
        stream = super().open(name, mode, pwd, force_zip64=force_zip64)
        if mode != "r":
            return stream
        if kind is None:
            kind = "sheet" if stream.name == self.sheet_part else "other"
        return io.BufferedReader(_Part(stream, self, kind), _CHUNK)

    def count(self, part: str, position: int) -> None:
        """A read of `part` has now inflated `position` bytes of it: keep the archive's total within the limit.

        zipfile already stops each part at its declared size, which was checked; counting here keeps the bound
        whatever reads the parts and whatever the zip's headers say.
        """
        seen = self._inflated.get(part, 0)
        if position > seen:
            self._inflated[part] = position
            self._total += position - seen
            if self._total > self.limits.inflated_bytes:
                raise ImportFileError(self.layout.say("inflated", limit=size_text(self.limits.inflated_bytes)))


_OTHER_PART_BYTES = 4 * 1024 * 1024  # the manifest, the workbook, its relationships, the styles
# the start tag of an element that the scan bounds, with any namespace prefix: a worksheet's rows and cells, the
# shared strings' items
_SHEET_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?(row|c)[\s/>]")
_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?(si)[\s/>]")
_TAG_MAX = 40  # bytes such a tag may span up to the character after its name
# a markup declaration (<!DOCTYPE, <!ENTITY, <!ELEMENT ...), not a comment (<!--) nor a CDATA section (<![CDATA[)
_DECLARATION = re.compile(rb"<!(?=[^-\[])")
_XML_DECLARATION = re.compile(rb"<\?xml[^>]{0,200}?\bencoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")


class _Part(io.RawIOBase):
    """One part of an `_Archive` as it inflates, refused past its bounds before the parser sees the bytes.

    Every part: UTF-8 (no other encoding declared, no NUL byte: UTF-16 and UTF-32 have them), and no DTD
    (`<!DOCTYPE`, `<!ENTITY`...: an entity expands far past the bytes read, and Excel never writes one).
    - "sheet": openpyxl builds a whole worksheet row in memory before it hands it over, and parses every cell of
      it, also those past the columns asked for: no row (nor what comes before the first or after the last) may
      take more than IMPORT_MAX_LINE_BYTES, nor hold more than IMPORT_MAX_COLUMNS cells;
    - "strings": no shared-string item (<si>), nor what comes before the first, more than IMPORT_MAX_LINE_BYTES;
      their count and characters are checked by read_strings;
    - "styles": at most 4 MB and _STYLES_MARKUP tags, read by _date_styles (number formats only, no objects);
    - "other" (the manifest, relationships, the workbook; turned into objects whole by openpyxl): at most 4 MB
      and _OTHER_PART_MARKUP tags."""

    def __init__(self, raw, archive: _Archive, kind: str):
        self._raw = raw
        self._archive = archive
        self._name = raw.name
        self._position = 0
        self._kind = kind
        self._tag = {"sheet": _SHEET_TAG, "strings": _STRING_TAG}.get(kind)
        self._most = _OTHER_PART_BYTES if kind in ("styles", "other") else None
        self._markup_most = {"other": _OTHER_PART_MARKUP, "styles": _STYLES_MARKUP}.get(kind)
        self._markup = 0
        self._item_start = 0  # where the current row (or shared string) began
        self._items = 0
        self._cells = 0  # in the current row
        self._tail = b""  # the last bytes read, where a tag may begin

    def readable(self) -> bool:
        return True

    def _refuse(self, key: str, **values):
        raise ImportFileError(self._archive.layout.say(key, part=clean_text(self._name)[-60:], **values))

    def readinto(self, buffer) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        start = self._position
        self._position += n
        self._archive.count(self._name, self._position)
        if self._most is not None and self._position > self._most:
            self._refuse("part", limit=size_text(self._most))
        if n:
            text = self._tail + data
            if start == 0:
                self._check_encoding(data)
            if b"\x00" in data:
                self._refuse("xml_encoding")
            if _DECLARATION.search(text):
                self._refuse("dtd")
            if self._markup_most is not None:
                self._markup += data.count(b"<")
                if self._markup > self._markup_most:
                    self._refuse("part_markup", limit=f"{self._markup_most:,}")
            elif self._tag is not None:
                self._scan(text, start)
            self._tail = text[-_TAG_MAX:]
        buffer[:n] = data
        return n

    def _check_encoding(self, head: bytes) -> None:
        """The part starts as UTF-8 XML does (a BOM, '<' or white space) and declares no other encoding."""
        head = head.removeprefix(b"\xef\xbb\xbf")
        if head[:1] not in (b"<", b" ", b"\t", b"\r", b"\n"):
            self._refuse("xml_encoding")
        declared = _XML_DECLARATION.match(head.lstrip())
        if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
            self._refuse("xml_encoding")

    def _scan(self, text: bytes, start: int) -> None:
        limits, layout = self._archive.limits, self._archive.layout
        base = start - len(self._tail)  # stream position of text[0]
        for match in self._tag.finditer(text):
            if match.end() <= len(self._tail):
                continue  # found in the previous read already
            if match.group(1) == b"c":
                self._cells += 1
                if self._cells > limits.columns:
                    raise ImportFileError(layout.say("sheet_cells", line=max(self._items, 1),
                                                     max_columns=limits.columns))
            else:  # a row, or a shared string
                self._check(base + match.start())
                self._item_start = base + match.start()
                self._items += 1
                self._cells = 0
        self._check(self._position)

    def _check(self, position: int) -> None:
        limit = self._archive.limits.line_bytes
        if position - self._item_start > limit:
            if self._kind == "strings":
                raise ImportFileError(self._archive.layout.say("string_bytes", index=max(self._items, 1),
                                                               limit=size_text(limit)))
            raise ImportFileError(self._archive.layout.say("sheet_row", line=max(self._items, 1),
                                                           limit=size_text(limit)))

    def close(self) -> None:
        self._raw.close()
        super().close()


_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?dimension\b[^>]*?\bref\s*=\s*[\"']([^\"']{1,40})[\"']")


def _check_dimension(archive: _Archive, sheet: str, layout: Layout, limits: Limits, most: int) -> None:
    """Refuse a sheet whose declared <dimension> (read from the start of its XML) is over the limits."""
    from openpyxl.utils.cell import range_boundaries

    with archive.open(sheet) as source:
        head = source.read(_CHUNK)
    match = _DIMENSION.search(head)
    if match is None:
        return  # nothing declared: the rows read are bounded all the same
    ref = match.group(1).decode("ascii", "replace").strip().upper()
    _min_col, _min_row, max_col, max_row = range_boundaries(ref)
    if (max_row or 0) > most + 1 or (max_col or 0) > limits.columns:
        raise ImportFileError(layout.say("dimension", ref=ref, rows=max_row or 0, columns=max_col or 0,
                                         max_rows=most, max_columns=limits.columns))


@functools.cache
def _workbook_reader_class():
    """openpyxl's ExcelReader made to read one sheet of an `_Archive`, built on first use (openpyxl loads only
    when a spreadsheet is imported)."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet
    from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    si_tag, t_tag, r_tag = (f"{{{SHEET_MAIN_NS}}}{name}" for name in ("si", "t", "r"))

    class Sheet(ReadOnlyWorksheet):
        def _get_size(self) -> None:
            """Not openpyxl's look for the <dimension>, which parses a sheet that has none to its end: rows and
            columns are bounded by the caller (iter_rows with max_row and max_col) and the dimension checked
            before (_check_dimension)."""

    class WorkbookReader(ExcelReader):
        """Read-only, values only, the first worksheet alone; shared strings counted. Not `read()`: properties,
        themes, defined names, the styles (but for which are dates) and the other sheets are never parsed."""

        def __init__(self, archive: _Archive, limits: Limits):  # noqa: D107 - ExcelReader's attributes, no re-open
            self.archive = archive
            self.valid_files = set(archive.namelist())
            self.read_only = True
            self.keep_vba = False
            self.data_only = True
            self.keep_links = False
            self.rich_text = False
            self.shared_strings = []
            self.limits = limits
            self.sheet = None

        def first_worksheet(self) -> str | None:
            """The part openpyxl reads as `workbook.worksheets[0]`, found the way it finds it: only the manifest,
            the workbook part and its relationships are read. At most _MAX_SHEETS sheets."""
            self.read_manifest()
            self.read_workbook()
            if len(self.parser.sheets) > _MAX_SHEETS:
                raise ImportFileError(self.archive.layout.say("sheets", sheets=f"{len(self.parser.sheets):,}",
                                                              limit=_MAX_SHEETS))
            for sheet, rel in self.parser.find_sheets():
                if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                    self.sheet = (sheet.name, rel.target)
                    self.archive.sheet_part = rel.target
                    return rel.target
            return None

        def load_first_worksheet(self):
            """The shared strings, which styles are dates, then the sheet to iterate."""
            self.read_strings()
            self.wb._date_formats, self.wb._timedelta_formats = _date_styles(self.archive)
            worksheet = Sheet(self.wb, *self.sheet, self.shared_strings)
            self.wb._sheets.append(worksheet)
            return worksheet

        def read_strings(self) -> None:
            """openpyxl's read_string_table, with limits: the count, each item's bytes (in `_Part`) and its
            characters (_MAX_CELL_CHARS); the parsed items dropped as they are read, and no Text object built
            (the text of <si> is its <t> and the <t> of its runs <r>, as Text.content has it)."""
            part = self.package.find(SHARED_STRINGS)
            if part is None:
                return
            most = self.limits.shared_strings
            layout = self.archive.layout
            strings: list[str] = []
            with self.archive.open(part.PartName[1:], kind="strings") as source:
                root = None
                for event, node in iterparse(source, events=("start", "end")):
                    if root is None:
                        root = node
                    elif event == "end" and node.tag == si_tag:
                        plain, runs = "", []
                        for child in node:
                            if child.tag == t_tag:
                                plain = child.text or ""
                            elif child.tag == r_tag and (t := child.find(t_tag)) is not None:
                                runs.append(t.text or "")
                        text = plain + "".join(runs) if runs else plain
                        if len(text) > _MAX_CELL_CHARS:
                            raise ImportFileError(layout.say("string_chars", index=f"{len(strings) + 1:,}",
                                                             max_chars=f"{_MAX_CELL_CHARS:,}"))
                        strings.append(text.replace("x005F_", ""))
                        root.clear()
                        if len(strings) > most:
                            raise ImportFileError(layout.say("strings", limit=f"{most:,}"))
            self.shared_strings = strings

    return WorkbookReader


def _date_styles(archive: _Archive) -> tuple[set[int], set[int]]:
    """The cell styles (indexes into <cellXfs>) whose number format is a date, and those that are a duration: all
    openpyxl's stylesheet gives a read-only sheet's values, read here without building the stylesheet (a 4 MB
    styles part of <xf> elements cost openpyxl 1.6 s and 90 MB). The same rules as its Stylesheet: an <xf>'s
    numFmtId (0 when absent) names a custom <numFmt> of <numFmts>, else a built-in format."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
    from openpyxl.xml.constants import ARC_STYLE
    from openpyxl.xml.functions import iterparse

    try:
        source = archive.open(ARC_STYLE, kind="styles")
    except KeyError:
        return set(), set()
    custom: dict[int, str] = {}
    format_ids: list[int] = []  # of each <xf> of <cellXfs>, in order
    with source:
        open_elements = []  # each element is dropped from its parent once read: memory for one path only
        for event, node in iterparse(source, events=("start", "end")):
            if event == "start":
                open_elements.append(node)
                continue
            open_elements.pop()
            if not open_elements:
                break
            parent = open_elements[-1]
            name, within = node.tag.rpartition("}")[2], parent.tag.rpartition("}")[2]
            if name == "numFmt" and within == "numFmts":
                custom[int(node.get("numFmtId"))] = node.get("formatCode")
            elif name == "xf" and within == "cellXfs":
                format_ids.append(int(node.get("numFmtId", 0)))
            parent.remove(node)
    dates, durations = set(), set()
    kinds: dict[int, tuple[bool, bool]] = {}
    for index, format_id in enumerate(format_ids):
        if format_id not in kinds:
            code = custom[format_id] if format_id in custom else BUILTIN_FORMATS.get(format_id)
            kinds[format_id] = (is_date_format(code), is_timedelta_format(code))
        is_date, is_duration = kinds[format_id]
        if is_date:
            dates.add(index)
        if is_duration:
            durations.add(index)
    return dates, durations


# --- cells ---------------------------------------------------------------------------------------

def clean_text(text: str) -> str:
    """Drop what no database column should hold: NUL and other control characters (but newline and tab), lone
    surrogates."""
    if text.isprintable():  # no Cc or Cs character (checked in C): the common case, 20,000 rows x 11 cells
        return text
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
