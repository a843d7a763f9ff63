"""Writes on the 登记表 reference codes: add a code, rename it, reorder it, deactivate or reactivate it.

Codes are never deleted or renumbered: contracts keep the codes they were registered with.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from ...data.reg_codes import REG_CODE_KINDS
from ...errors import DomainError
from ...extensions import db
from ...models import RegCode, User

CODE_RE = re.compile(r"^[0-9A-Za-z]{1,8}$")


def _label_problem(label: str) -> str | None:
    if not label:
        return "请填写名称"
    if len(label) > 100:
        return "名称不超过100字"
    return None


def reg_code_create(*, kind: str, code: str, label: str, parent_code: str, sort: int, user: User) -> RegCode:
    errors: dict[str, str] = {}
    code, label, parent_code = code.strip(), label.strip(), parent_code.strip()
    if kind not in REG_CODE_KINDS:
        errors["kind"] = "请选择代码类别"
    if not CODE_RE.match(code):
        errors["code"] = "代码为1-8位字母或数字"
    elif kind in REG_CODE_KINDS and db.session.scalar(
            select(RegCode.id).where(RegCode.kind == kind, RegCode.code == code)) is not None:
        errors["code"] = f"代码 {code} 已存在（已停用的代码可以重新启用）"
    problem = _label_problem(label)
    if problem:
        errors["label"] = problem
    if parent_code and kind in REG_CODE_KINDS and db.session.scalar(
            select(RegCode.id).where(RegCode.kind == kind, RegCode.code == parent_code)) is None:
        errors["parent_code"] = f"上级代码 {parent_code} 不存在"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    row = RegCode(kind=kind, code=code, label=label, parent_code=parent_code or None, sort=sort, active=True)
    db.session.add(row)
    db.session.flush()
    return row


def reg_code_update(*, row: RegCode, label: str, sort: int, active: bool, user: User) -> RegCode:
    label = label.strip()
    problem = _label_problem(label)
    if problem:
        raise DomainError(problem, fields={"label": problem})
    row.label, row.sort, row.active = label, sort, active
    db.session.flush()
    return row
