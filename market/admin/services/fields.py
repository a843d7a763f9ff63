"""The field taxonomy (技术领域): two levels, codes given by the parent's, ordered by hand."""
from __future__ import annotations

import re

from sqlalchemy import select

from ...errors import DomainError
from ...extensions import db
from ...models import Field
from ...text import InvalidName, clean_name, clean_name_into
from .common import normalize_code, refuse_if_referenced


def _siblings(parent_id: int | None, *, exclude_id: int | None = None) -> list[Field]:
    stmt = select(Field).where(Field.parent_id.is_(None) if parent_id is None else Field.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(Field.id != exclude_id)
    return list(db.session.scalars(stmt.order_by(Field.sort, Field.code, Field.id)))


def _field_name_problem(name: str, parent_id: int | None, *, exclude_id: int | None = None) -> str | None:
    if not name:
        return "请填写领域名称"
    if len(name) > 64:
        return "领域名称不超过64字"
    if any(f.name == name for f in _siblings(parent_id, exclude_id=exclude_id)):
        return "同一上级下已有同名领域"
    return None


def _next_field_code(parent: Field | None) -> str | None:
    prefix = f"{parent.code}." if parent else ""
    numbers = [int(f.code[len(prefix):]) for f in _siblings(parent.id if parent else None)
               if f.code.startswith(prefix) and f.code[len(prefix):].isdigit()]
    nxt = max(numbers, default=0) + 1
    return f"{prefix}{nxt:02d}" if nxt < 100 else None


def field_create(*, name: str, parent_id: int | None = None, code: str = "") -> Field:
    """A top-level domain ('09') or a subfield of one ('01.09'); the code is generated when left empty."""
    errors: dict[str, str] = {}
    name, code = clean_name_into(errors, "name", name, field_label="领域名称"), normalize_code(code)
    parent = db.session.get(Field, parent_id) if isinstance(parent_id, int) and parent_id > 0 else None
    if parent_id and parent is None:
        errors["parent_id"] = "上级领域不存在"
    elif parent is not None and parent.parent_id is not None:
        errors["parent_id"] = "技术领域只有两级，请选择一级领域"
    else:
        if not code:
            code = _next_field_code(parent) or ""
            if not code:
                errors["code"] = "代码已用尽，请手工填写"
        elif parent is None and not re.fullmatch(r"[0-9]{2}", code):
            errors["code"] = "一级领域代码应为两位数字，例如 09"
        elif parent is not None and not re.fullmatch(re.escape(parent.code) + r"\.[0-9]{2}", code):
            errors["code"] = f"二级领域代码应为“{parent.code}.两位数字”，例如 {parent.code}.01"
        if code and "code" not in errors and db.session.scalar(select(Field.id).where(Field.code == code)):
            errors["code"] = f"领域代码 {code} 已存在"
    problem = _field_name_problem(name, parent.id if parent else None)
    if problem:
        errors.setdefault("name", problem)
    if errors:
        raise DomainError("领域信息有误，请按提示修改", fields=errors)
    siblings = _siblings(parent.id if parent else None)
    field = Field(code=code, name=name, parent_id=parent.id if parent else None,
                  sort=max((f.sort or 0 for f in siblings), default=0) + 1)
    db.session.add(field)
    db.session.flush()
    return field


def field_rename(*, field: Field, name: str) -> Field:
    """Rename only: the code stays, since listings, filters and imports refer to it."""
    try:
        name = clean_name(name, field_label="领域名称")
    except InvalidName as exc:
        raise DomainError(str(exc), fields={"name": str(exc)}) from None
    problem = _field_name_problem(name, field.parent_id, exclude_id=field.id)
    if problem:
        raise DomainError(problem, fields={"name": problem})
    field.name = name
    db.session.flush()
    return field


def field_move(*, field: Field, direction: str) -> Field:
    """Swap a field with its neighbour among its siblings ('up' or 'down'); siblings renumbered 1..n."""
    if direction not in ("up", "down"):
        raise DomainError("移动方向无效")
    siblings = _siblings(field.parent_id)
    index = next(i for i, f in enumerate(siblings) if f.id == field.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, item in enumerate(siblings, start=1):
        item.sort = position
    db.session.flush()
    return field


def field_delete(*, field: Field) -> None:
    """Only a field nothing uses (no subfields, listings or contracts)."""
    refuse_if_referenced("fields", field.id, "领域")
    db.session.delete(field)
    db.session.flush()
