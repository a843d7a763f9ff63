"""Reads of the 登记表 reference codes (table reg_codes, model RegCode), and the defaults a new install gets.

`labels(kind)` names every code of a kind, inactive ones too (an older contract still shows its code's name);
`choices(kind)` lists the active codes a form offers: leaves only (a heading such as 事业法人 is not chosen), each
named with its heading ("事业法人 / 高等院校").
"""
from __future__ import annotations

from sqlalchemy import func, select

from ..data.reg_codes import DEFAULT_REG_CODES, ORG_TYPE_LEGAL_FORMS, REG_CODE_KINDS
from ..extensions import db
from ..models.reg_code import RegCode

KINDS = REG_CODE_KINDS


def _rows(kind: str) -> list[RegCode]:
    return list(db.session.scalars(select(RegCode).where(RegCode.kind == kind).order_by(RegCode.sort, RegCode.code)))


def labels(kind: str) -> dict[str, str]:
    """code -> label for every code of the kind (inactive included)."""
    return {row.code: row.label for row in _rows(kind)}


def label(kind: str, code: str | None) -> str:
    if not code:
        return ""
    return labels(kind).get(code, code)


def choices(kind: str) -> list[tuple[str, str]]:
    """(code, label) of the active leaf codes, in the administrators' order; a child is named under its heading."""
    rows = _rows(kind)
    by_code = {row.code: row for row in rows}
    parents = {row.parent_code for row in rows if row.active and row.parent_code}
    out = []
    for row in rows:
        if not row.active or row.code in parents:
            continue
        names, parent, seen = [row.label], by_code.get(row.parent_code or ""), 0
        while parent is not None and seen < 5:
            names.insert(0, parent.label)
            parent, seen = by_code.get(parent.parent_code or ""), seen + 1
        out.append((row.code, " / ".join(names)))
    return out


def active_codes(kind: str) -> set[str]:
    return {code for code, _ in choices(kind)}


def code_for(kind: str, text: str | None, *, options: list[tuple[str, str]] | None = None) -> str | None:
    """A code from what a spreadsheet holds: the code itself, its label, or '代码 名称' / the form's path label.
    None when nothing matches (the caller reports it). `options`: choices(kind), read once by the caller."""
    value = (text or "").strip()
    if not value:
        return None
    options = choices(kind) if options is None else options
    codes = {code for code, _ in options}
    if value in codes:
        return value
    head = value.split()[0] if value.split() else ""
    if head in codes:
        return head
    for code, name in options:
        if value == name or value == name.rsplit(" / ", 1)[-1]:
            return code
    return None


def default_legal_form(org) -> str | None:
    """An organisation's own 法人性质, else the one its type suggests (a university: 高等院校); None if unknown."""
    if org is None:
        return None
    return org.legal_form or ORG_TYPE_LEGAL_FORMS.get(org.org_type)


def ensure_reg_codes() -> int:
    """Insert the default codes when the table is empty (a new install; the migration does the same). Returns how
    many were added; never touches codes an administrator has edited. Adds and flushes; the caller commits."""
    if db.session.scalar(select(func.count()).select_from(RegCode)):
        return 0
    db.session.add_all(RegCode(kind=kind, code=code, label=name, parent_code=parent, sort=i, active=True)
                       for i, (kind, code, name, parent) in enumerate(DEFAULT_REG_CODES, start=1))
    db.session.flush()
    return len(DEFAULT_REG_CODES)
