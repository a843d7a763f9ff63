"""Reading import files: CSV (UTF-8, UTF-8 with BOM, or GB18030 as Excel saves it) and JSON Lines.

Every row comes back as a dict with its 1-based line number under "_line"; a JSONL line that is
not a JSON object comes back as {"_line": n, "_error": reason} so the importer reports it in turn.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

MAX_BYTES = 50 * 1024 * 1024


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong type, encoding, missing columns)."""


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("文件编码无法识别，请保存为 UTF-8 编码")


def read_rows(path: str | Path, *, required: tuple[str, ...] = ()) -> list[dict]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ImportFileError("仅支持 .csv 或 .jsonl 文件")
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise ImportFileError("文件过大（超过50MB）")
    text = _decode(raw)
    rows = _read_csv(text, required) if suffix == ".csv" else _read_jsonl(text)
    if not rows:
        raise ImportFileError("文件中没有数据行")
    return rows


def _read_csv(text: str, required: tuple[str, ...]) -> list[dict]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        raise ImportFileError(f"第1行无法解析：{exc}") from exc
    columns = [name.strip().lower() for name in header]
    missing = [name for name in required if name not in columns]
    if missing:
        raise ImportFileError("表头缺少列：" + "、".join(missing) + "（第1行应为列名，例如 code,name,parent_code,level）")
    rows: list[dict] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append({"_line": reader.line_num, "_error": f"无法解析：{exc}"})
            continue
        if not any(v.strip() for v in values):
            continue
        row = {name: (values[i] if i < len(values) else "") for i, name in enumerate(columns) if name}
        row["_line"] = reader.line_num
        rows.append(row)
    return rows


def _read_jsonl(text: str) -> list[dict]:
    rows: list[dict] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            rows.append({"_line": number, "_error": "不是有效的 JSON"})
            continue
        if not isinstance(value, dict):
            rows.append({"_line": number, "_error": "每行应为一个 JSON 对象"})
            continue
        value = {str(k).strip().lower(): v for k, v in value.items() if not str(k).startswith("_")}
        value["_line"] = number
        rows.append(value)
    return rows
