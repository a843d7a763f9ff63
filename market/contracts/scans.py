"""Contract scans (SECURITY.md item 10): PDF only, generated names, outside the web root."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import event
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


def _bad(message: str) -> DomainError:
    return DomainError(message, fields={"scan": message})


def original_name(file: FileStorage) -> str:
    """The uploader's file name, kept only as data: no path parts, no control characters."""
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name.strip()[:200] or "合同扫描件.pdf"


def read_scan(file: FileStorage) -> tuple[bytes, str]:
    """The bytes of an acceptable PDF and its original name; refuses anything else with a reason."""
    data = file.stream.read(MAX_SCAN_BYTES + 1)
    if not data:
        raise _bad("上传的文件是空的（0字节），请重新选择扫描件")
    if len(data) > MAX_SCAN_BYTES:
        raise _bad("扫描件不能超过10MB")
    if not data.startswith(b"%PDF-"):
        raise _bad("扫描件须为PDF文件")
    lowered = data.lower()
    if any(marker in lowered for marker in _HTML_MARKERS):
        raise _bad("文件内容不是有效的PDF（含有网页代码），已拒绝")
    return data, original_name(file)


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]).resolve()


def store_scan(data: bytes) -> str:
    """Write under a generated name; returns the path relative to UPLOAD_DIR.

    The file belongs to the database transaction that records it: if that transaction rolls back
    (a failed commit included) or the session closes without committing, the file is removed."""
    folder = upload_root() / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.pdf"
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o640)
    os.replace(tmp, folder / name)
    db.session.info.setdefault(_WRITTEN, []).append(folder / name)
    return f"{SUBDIR}/{name}"


@event.listens_for(Session, "after_commit")
def _keep_committed_scans(session: Session) -> None:
    if not session.in_nested_transaction():  # a released savepoint decides nothing yet
        session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _remove_uncommitted_scans(session: Session, transaction) -> None:
    """The outermost transaction ended without the commit above: no row points at these files."""
    if transaction.parent is not None:
        return
    for path in session.info.pop(_WRITTEN, ()):
        path.unlink(missing_ok=True)


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
