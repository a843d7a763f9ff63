"""Contract scans: PDF only, generated names, outside the web root (README, "Security and reliability", rows 10
and 12.7)."""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from urllib.parse import quote

from flask import current_app
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from ..errors import DomainError
from ..extensions import db

MAX_SCAN_BYTES = 10 * 1024 * 1024
# A file that a browser could sniff as a page: refused even when it starts like a PDF.
_HTML_MARKERS = (b"<html", b"<!doctype html", b"<script", b"<body", b"<iframe", b"<svg", b"javascript:")
SUBDIR = "contracts"
# files written in the session's current transaction: removed unless that transaction commits
_WRITTEN = "contract_scans_written"
# files whose rows the current transaction deletes: removed only once that transaction commits
_DROPPED = "contract_scans_dropped"


def _bad(message: str, field: str = "scan") -> DomainError:
    return DomainError(message, fields={field: message})


def original_name(file: FileStorage, default: str = "合同扫描件.pdf") -> str:
    """The uploader's file name, kept only as data: no path parts, no control characters."""
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name.strip()[:200] or default


def read_scan(file: FileStorage, *, noun: str = "扫描件", field: str = "scan") -> tuple[bytes, str]:
    """The bytes of an acceptable PDF and its original name; refuses anything else with a reason (about the
    `noun`, put on the form's `field`)."""
    data = file.stream.read(MAX_SCAN_BYTES + 1)
    if not data:
        raise _bad(f"上传的文件是空的（0字节），请重新选择{noun}", field)
    if len(data) > MAX_SCAN_BYTES:
        raise _bad(f"{noun}不能超过10MB", field)
    if not data.startswith(b"%PDF-"):
        raise _bad(f"{noun}须为PDF文件", field)
    lowered = data.lower()
    if any(marker in lowered for marker in _HTML_MARKERS):
        raise _bad("文件内容不是有效的PDF（含有网页代码），已拒绝", field)
    if not is_pdf(data):
        raise _bad("文件内容不是有效的PDF（缺少PDF文件结构，可能已损坏或是其他类型的文件改名而来），请上传扫描生成的PDF文件", field)
    return data, original_name(file, default="合同扫描件.pdf" if noun == "扫描件" else f"{noun}.pdf")


_HEADER = re.compile(rb"%PDF-(1\.[0-7]|2\.0)[\r\n \t%]")
# the last cross-reference pointer and end-of-file marker; only white space or NUL padding may follow
_TAIL = re.compile(rb"startxref[\r\n \t]+(\d{1,10})[\r\n \t]+%%EOF[\r\n \t\x00]*\Z")
_EOL = rb"[ \t]*(?:\r\n|\r|\n)"
_XREF_KEYWORD = re.compile(rb"[\r\n \t]{0,16}xref")
_XREF_SUBSECTION = re.compile(rb"[\r\n \t]{0,16}(\d{1,10}) (\d{1,10})" + _EOL)
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])" + _EOL)
_TRAILER = re.compile(rb"[\r\n \t]{0,16}trailer[\r\n \t]{0,16}<<(.{0,4096}?)>>[\r\n \t]{0,16}startxref", re.S)
_XREF_STREAM = re.compile(rb"[\r\n \t]{0,16}\d{1,10}[\r\n \t]{1,16}\d{1,5}[\r\n \t]{1,16}obj[\r\n \t]{0,16}<<(.{0,4096}?)>>[\r\n \t]{0,16}stream\r?\n", re.S)
_OBJECT_AT = re.compile(rb"[\r\n \t]{0,4}(\d{1,10})[\r\n \t]{1,16}(\d{1,5})[\r\n \t]{1,16}obj\b")
_ROOT = re.compile(rb"/Root[\r\n \t]{0,16}(\d{1,10})[\r\n \t]{1,16}\d{1,5}[\r\n \t]{1,16}R\b")
_PREV = re.compile(rb"/Prev[\r\n \t]{1,16}(\d{1,10})\b")
_XREF_TYPE = re.compile(rb"/Type[\r\n \t]{0,16}/XRef\b")
_MAX_SECTIONS = 64  # incremental updates followed through /Prev
_MAX_XREF_ENTRIES = 200_000


def is_pdf(data: bytes) -> bool:
    """A positive structural check, without a PDF library: the header; `startxref` and `%%EOF` closing the
    file; every cross-reference section reached from there (through /Prev) a well-formed table with its
    trailer or a cross-reference stream (PDF 1.5+); a /Root; and every object a table lists found at the
    offset it gives. A file that merely starts with `%PDF-` fails."""
    if not _HEADER.match(data):
        return False
    tail = _TAIL.search(data, max(0, len(data) - 1024))
    if tail is None:
        return False
    entries: dict[int, tuple[int, int]] = {}
    root, has_stream, seen = None, False, set()
    offset: int | None = int(tail.group(1))
    while offset is not None:
        if offset in seen or len(seen) >= _MAX_SECTIONS or not 9 <= offset < tail.start():
            return False
        seen.add(offset)
        table = _XREF_KEYWORD.match(data, offset)
        if table is not None:
            section = _xref_table(data, table.end())
            if section is None:
                return False
            listed, trailer = section
            for number, place in listed.items():
                entries.setdefault(number, place)  # sections are read newest first: the newest entry wins
        else:
            stream = _XREF_STREAM.match(data, offset)
            if stream is None or not _XREF_TYPE.search(stream.group(1)):
                return False
            trailer, has_stream = stream.group(1), True
        found_root = _ROOT.search(trailer)
        if root is None and found_root is not None:
            root = int(found_root.group(1))
        prev = _PREV.search(trailer)
        offset = int(prev.group(1)) if prev else None
    if root is None or (root not in entries and not has_stream):  # a stream may hold it compressed
        return False
    for number, (at, generation) in entries.items():
        found = _OBJECT_AT.match(data, at) if at < len(data) else None
        if found is None or (int(found.group(1)), int(found.group(2))) != (number, generation):
            return False
    return True


def _xref_table(data: bytes, pos: int) -> tuple[dict[int, tuple[int, int]], bytes] | None:
    """The in-use entries of one cross-reference table starting at `pos` and its trailer dictionary."""
    entries: dict[int, tuple[int, int]] = {}
    total = 0
    while (header := _XREF_SUBSECTION.match(data, pos)) is not None:
        first, count = int(header.group(1)), int(header.group(2))
        total += count
        if count == 0 or total > _MAX_XREF_ENTRIES:
            return None
        pos = header.end()
        for number in range(first, first + count):
            entry = _XREF_ENTRY.match(data, pos)
            if entry is None:
                return None
            if entry.group(3) == b"n":
                entries[number] = (int(entry.group(1)), int(entry.group(2)))
            pos = entry.end()
    trailer = _TRAILER.match(data, pos)
    if trailer is None or total == 0:
        return None
    return entries, trailer.group(1)


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]).resolve()


def store_scan(data: bytes, subdir: str = SUBDIR) -> str:
    """Write under a generated name (in `subdir` of UPLOAD_DIR); returns the path relative to UPLOAD_DIR.

    The file belongs to the database transaction that records it: if that transaction rolls back
    (a failed commit included) or the session closes without committing, the file is removed."""
    folder = upload_root() / subdir
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.pdf"
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o640)
    os.replace(tmp, folder / name)
    db.session.info.setdefault(_WRITTEN, []).append(folder / name)
    return f"{subdir}/{name}"


def drop_after_commit(relpath: str) -> None:
    """Remove a stored file once the transaction that deletes its row commits (kept if it rolls back)."""
    path = scan_file(relpath)
    if path is not None:
        db.session.info.setdefault(_DROPPED, []).append(path)


def keep_committed(session: Session) -> None:
    """Step 1 after a commit (market/pipeline.py): the rows that point at these files are durable, and the files
    whose rows were deleted go."""
    session.info.pop(_WRITTEN, None)
    for path in session.info.pop(_DROPPED, ()):
        path.unlink(missing_ok=True)


def remove_uncommitted(session: Session) -> None:
    """The outermost transaction ended without a commit: no row points at these files (and the rows it meant to
    delete are still there, so their files stay)."""
    session.info.pop(_DROPPED, None)
    for path in session.info.pop(_WRITTEN, ()):
        path.unlink(missing_ok=True)


def download_name(contract) -> str:
    """The name a scan is served under: made from the contract, never the uploader's (技术合同-<登记编号>.pdf)."""
    number = re.sub(r"[^0-9A-Za-z_.-]+", "-", contract.registration_no or "").strip(".-")
    return f"技术合同-{number or contract.id}.pdf"


def content_disposition(contract) -> str:
    """`attachment` with an ASCII fallback name and the Chinese name in RFC 5987 `filename*`."""
    name = download_name(contract)
    fallback = "contract-" + name.removeprefix("技术合同-")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def scan_file(relpath: str) -> Path | None:
    """The stored file, only if it lies inside UPLOAD_DIR and exists."""
    if not relpath:
        return None
    root = upload_root()
    path = (root / relpath).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def discard(relpath: str) -> None:
    path = scan_file(relpath)
    if path is not None:
        path.unlink(missing_ok=True)
