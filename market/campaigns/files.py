"""Attachments of a 揭榜方案: PDFs checked, stored and served exactly as contract scans are (market/contracts/
scans.py: at most 10MB, a structural PDF check, a generated name under UPLOAD_DIR outside the web root, the
uploader's name kept only as data), at most MAX_FILES per proposal, downloaded only through an access-checked
route (services.may_read_files)."""
from __future__ import annotations

import re
from urllib.parse import quote

from werkzeug.datastructures import FileStorage

from ..contracts.scans import read_scan
from ..models import CampaignProposalFile

MAX_FILES = 5
SUBDIR = "campaigns"
FIELD = "files"  # the form's file input (and the field a refusal names)


def chosen(files) -> list[FileStorage]:
    """The files actually chosen (a browser posts an empty part for an untouched file input)."""
    return [f for f in (files or ()) if f is not None and getattr(f, "filename", "")]


def read_uploads(files: list[FileStorage]) -> list[tuple[bytes, str]]:
    """Every chosen file checked before anything is written: one bad file refuses the whole save."""
    out = []
    for f in files:
        data, name = read_scan(f, noun="附件", field=FIELD)
        out.append((data, name))
    return out


def download_name(f: CampaignProposalFile) -> str:
    """Always a .pdf: the uploader's name with anything but letters, digits, CJK, '-' and '_' replaced."""
    stem = re.sub(r"\.pdf$", "", f.name or "", flags=re.I)
    stem = re.sub(r"[^\w\-\u4e00-\u9fff]+", "_", stem).strip("_")[:80]
    return f"{stem or f'附件-{f.id}'}.pdf"


def content_disposition(f: CampaignProposalFile) -> str:
    """`attachment` with an ASCII fallback name and the (sanitised) uploader's name in RFC 5987 `filename*`."""
    return (f"attachment; filename=\"proposal-file-{f.id}.pdf\"; "
            f"filename*=UTF-8''{quote(download_name(f), safe='')}")
